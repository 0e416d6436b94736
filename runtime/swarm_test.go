package runtime

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func TestReadsPasswordFile(t *testing.T) {
	for image, want := range map[string]bool{
		"mariadb:11.4":                               true,
		"docker.io/library/postgres:17":              true,
		"mirror.example.com:5000/mysql:8.4":          true,
		"postgres@sha256:" + strings.Repeat("a", 64): true,
		"kaj-mariadb:10.11-bookworm":                 false,
		"10.0.0.1:5000/kaj-mariadb:10.11":            false,
		"bitnami/mariadb-galera:11":                  false,
	} {
		if got := readsPasswordFile(image); got != want {
			t.Errorf("readsPasswordFile(%q) = %v, want %v", image, got, want)
		}
	}
}

func TestPasswordSecretName(t *testing.T) {
	db := NamesFor("a1b2c3", "blog").Database
	a, b := passwordSecretName(db, "blog", "pw1"), passwordSecretName(db, "blog", "pw2")
	if a == b || a != passwordSecretName(db, "blog", "pw1") || !strings.HasPrefix(a, db+"-pw-") || strings.Contains(a, "pw1") {
		t.Fatalf("secret names %q and %q", a, b)
	}
}

func TestAppServiceSpec(t *testing.T) {
	d := &Docker{}
	if err := d.SetScope(Scope{Instance: "a1b2c3"}); err != nil {
		t.Fatal(err)
	}
	s := d.appServiceSpec(ServiceSpec{
		App: "blog", Release: "7", Image: "reg:5000/blog@sha256:ab", Port: 8080, Replicas: 3,
		Env: map[string]string{"B": "2", "A": "1"}, Labels: map[string]string{"kaj.test": "x"},
		Health: &HealthTuning{Interval: time.Second},
	})
	u := s.UpdateConfig
	switch {
	case s.Name != d.AppServiceName("blog") || s.Name != "kaj-a1b2c3-blog":
		t.Errorf("name %q", s.Name)
	case *s.Mode.Replicated.Replicas != 3:
		t.Errorf("replicas %d", *s.Mode.Replicated.Replicas)
	case u.Order != swarm.UpdateOrderStartFirst || u.Parallelism != 1 || u.FailureAction != swarm.UpdateFailureActionRollback || u.Monitor == 0:
		t.Errorf("update config %+v", u)
	case len(s.EndpointSpec.Ports) != 1 || s.EndpointSpec.Ports[0].PublishMode != swarm.PortConfigPublishModeHost || s.EndpointSpec.Ports[0].PublishedPort != 0:
		t.Errorf("ports %+v: want 8080 in host mode on a port the node picks", s.EndpointSpec.Ports)
	case s.TaskTemplate.ContainerSpec.Labels[LabelRelease] != "7" || s.Labels[LabelApp] != "blog" || s.Labels["kaj.test"] != "x" || s.Labels[LabelInstance] != "a1b2c3":
		t.Errorf("labels %v / %v", s.Labels, s.TaskTemplate.ContainerSpec.Labels)
	case strings.Join(s.TaskTemplate.ContainerSpec.Env, ",") != "A=1,B=2":
		t.Errorf("env %v", s.TaskTemplate.ContainerSpec.Env)
	case s.TaskTemplate.ContainerSpec.Healthcheck == nil || len(s.TaskTemplate.ContainerSpec.Healthcheck.Test) != 0:
		t.Errorf("health check %+v: want the image's command with kaj's timings", s.TaskTemplate.ContainerSpec.Healthcheck)
	case s.TaskTemplate.Networks[0].Target != d.Names("blog").Network:
		t.Errorf("networks %+v", s.TaskTemplate.Networks)
	}
	if err := (ServiceSpec{App: "blog", Release: "1", Image: "x", Replicas: -1}).validate(); err == nil {
		t.Error("negative replicas accepted")
	}
}
