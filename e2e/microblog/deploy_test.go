package microblog

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/microblog/webclient"
)

// appView is what these tests read of GET /api/v1/apps/:name.
type appView struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Database *struct {
		Volume string `json:"volume"`
	} `json:"database"`
	Live *struct {
		Number   uint64 `json:"number"`
		Rollback uint64 `json:"rollback_of"`
		Snapshot string `json:"snapshot"`
	} `json:"live"`
	LastBackup *struct {
		ID    string    `json:"id"`
		State string    `json:"state"`
		Error string    `json:"error"`
		Next  time.Time `json:"next"`
	} `json:"last_backup"`
	Containers []struct {
		ID       string `json:"id"`
		Role     string `json:"role"`
		State    string `json:"state"`
		Restarts int    `json:"restarts"`
	} `json:"containers"`
}

// only returns the ID of the app's one container in role.
func (v appView) only(t *testing.T, role string) string {
	t.Helper()
	var ids []string
	for _, c := range v.Containers {
		if c.Role == role {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("app %s has %d %s containers; want 1: %+v", v.Name, len(ids), role, v.Containers)
	}
	return ids[0]
}

func getApp(t *testing.T, c *kajtest.Client, name string) appView {
	t.Helper()
	var v appView
	if code := c.JSON("GET", "/api/v1/apps/"+name, nil, &v); code != http.StatusOK {
		t.Fatalf("GET app %s: status %d", name, code)
	}
	return v
}

// runJob starts a job through the API and follows it to its end.
func runJob(t *testing.T, c *kajtest.Client, path string, body any) []map[string]any {
	t.Helper()
	var job struct {
		Job string `json:"job"`
	}
	if code := c.JSON("POST", path, body, &job); code != http.StatusAccepted {
		t.Fatalf("POST %s: status %d", path, code)
	}
	status, events := c.WaitJob(job.Job, 5*time.Minute)
	if status != "succeeded" {
		t.Fatalf("POST %s: job %s ended %q: %v", path, job.Job, status, events)
	}
	return events
}

// eventTime returns when a job event happened.
func eventTime(t *testing.T, e map[string]any) time.Time {
	t.Helper()
	s, _ := e["time"].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("event %v: time: %v", e, err)
	}
	return at
}

// stepDone returns when a job's step succeeded.
func stepDone(t *testing.T, events []map[string]any, step string) time.Time {
	t.Helper()
	for _, e := range events {
		if e["type"] == "step" && e["step"] == step && e["status"] == "succeeded" {
			return eventTime(t, e)
		}
	}
	t.Fatalf("no succeeded %s step in %v", step, events)
	return time.Time{}
}

// logColdStart reports the time from the app container's start, as the
// engine recorded it, to the deploy's health step passing: an upper bound
// on the cold start by the probes' spacing (at most 500ms under kajtest).
func logColdStart(t *testing.T, env *testutil.Env, what, id string, events []map[string]any) {
	t.Helper()
	insp, err := env.Client.ContainerInspect(env.Context(), id, mclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	started, err := time.Parse(time.RFC3339Nano, insp.Container.State.StartedAt)
	if err != nil {
		t.Fatalf("container start time: %v", err)
	}
	t.Logf("%s: container start to a passing /healthz: %v (deploy job: %v)", what,
		stepDone(t, events, "health").Sub(started).Round(time.Millisecond),
		stepDone(t, events, "switch").Sub(eventTime(t, events[0])).Round(time.Millisecond))
}

// browser is one Microblog user session on url.
func browser(t *testing.T, url string) *webclient.Client {
	t.Helper()
	b, err := webclient.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// explore returns the posts on Microblog's explore page.
func explore(t *testing.T, b *webclient.Client) []string {
	t.Helper()
	p, err := b.Get(context.Background(), "/explore")
	if err != nil || p.Status != http.StatusOK {
		t.Fatalf("GET /explore: %d, %v", p.Status, err)
	}
	return webclient.Posts(p.Body)
}

// readLog reads the last lines of the app's container in role (app or
// db) through kaj's log websocket, without following.
func readLog(t *testing.T, c *kajtest.Client, app, role string) []string {
	t.Helper()
	conn := c.Dial("/api/v1/apps/" + app + "/logs?container=" + role + "&follow=0&tail=200")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var lines []string
	for {
		var m struct {
			Type  string `json:"type"`
			Error string `json:"error"`
			Lines []struct {
				Text string    `json:"text"`
				Time time.Time `json:"time"`
			} `json:"lines"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("%s log of %s: %v", role, app, err)
		}
		switch m.Type {
		case "lines":
			for _, l := range m.Lines {
				lines = append(lines, l.Text)
			}
		case "end":
			return lines
		default:
			t.Fatalf("%s log of %s: %+v", role, app, m)
		}
	}
}

// waitLog reads the log of the app's container in role until a line
// matches: the engine writes a container's output to its log a moment
// after the process wrote it.
func waitLog(t *testing.T, c *kajtest.Client, app, role, what string, match func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		lines := readLog(t, c, app, role)
		if slices.ContainsFunc(lines, match) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("no line of %s in the %s log read through kaj:\n%s", what, role, strings.Join(lines, "\n"))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMicroblogMySQL_oneClick is the lesson done by kaj: Microblog's
// production image and a MariaDB server deployed with one call of the
// "Microblog + MySQL" template, used over HTTP, redeployed, cut off from
// its database, read through kaj's logs, deleted keeping its data, and
// created again on that data.
func TestMicroblogMySQL_oneClick(t *testing.T) {
	env := testutil.NewEnv(t)
	ctx := env.Context()
	dbImage := env.MariaDBImage()
	tag := buildMicroblog(t, env)
	img, err := env.Client.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("microblog image %s: %d bytes (%.1f MB)", tag, img.Size, float64(img.Size)/1e6)

	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("blog")

	// One click: the template with the image just built and the MariaDB
	// test image in place of mysql.
	events := runJob(t, c, "/api/v1/templates/microblog-mysql", map[string]any{
		"name": name, "image": tag, "database_image": dbImage,
	})
	app := getApp(t, c, name)
	appID, dbID := app.only(t, "app"), app.only(t, "db")
	logColdStart(t, env, "first deploy", appID, events)
	checkOwnNetwork(t, env, name, appID, dbID)
	// kaj's readiness probe logs in and says goodbye: MariaDB has
	// nothing to warn about.
	if logs := containerLog(t, env, dbID); strings.Contains(logs, "Aborted connection") {
		t.Fatalf("MariaDB warned about kaj's probe:\n%s", logs)
	}

	// A user and a post, over HTTP on the URL kaj publishes.
	alice := browser(t, app.URL)
	first := "Hello from a container deployed by kaj " + secret()
	if err := alice.Register(ctx, "alice", "alice@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Login(ctx, "alice", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := alice.WritePost(ctx, first); err != nil {
		t.Fatal(err)
	}
	if posts := explore(t, alice); !slices.Contains(posts, first) {
		t.Fatalf("explore shows %q; want the new post", posts)
	}

	// Redeploy: a new container, the same data.
	events = runJob(t, c, "/api/v1/apps/"+name+"/deploy", nil)
	// The previous container stays up, unrouted, through the new one's
	// stability window (deploy.stable_for, 1s), then goes.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := env.Client.ContainerInspect(ctx, appID, mclient.ContainerInspectOptions{}); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the previous container %s is still there 15s after the redeploy", appID[:12])
		}
	}
	app = getApp(t, c, name)
	newID := app.only(t, "app")
	if newID == appID {
		t.Fatalf("redeploy kept container %s; want a new one", appID[:12])
	}
	if id := app.only(t, "db"); id != dbID {
		t.Errorf("redeploying the app replaced the database container %s with %s", dbID[:12], id[:12])
	}
	appID = newID
	logColdStart(t, env, "redeploy", appID, events)
	alice = browser(t, app.URL)
	if err := alice.Login(ctx, "alice", "correct horse battery"); err != nil {
		t.Fatalf("after the redeploy: %v", err)
	}
	if posts := explore(t, alice); !slices.Contains(posts, first) {
		t.Fatalf("after the redeploy explore shows %q; want %q", posts, first)
	}

	// The database goes away and comes back; microblog recovers by
	// itself, in the same container.
	if _, err := env.Client.ContainerStop(ctx, dbID, mclient.ContainerStopOptions{}); err != nil {
		t.Fatalf("stopping the database: %v", err)
	}
	waitHealthz(t, app.URL, http.StatusServiceUnavailable, 100*time.Millisecond, time.Minute)
	if _, err := env.Client.ContainerStart(ctx, dbID, mclient.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting the database: %v", err)
	}
	back := time.Now()
	healthy := waitHealthz(t, app.URL, http.StatusOK, 100*time.Millisecond, 2*time.Minute)
	t.Logf("database started again: /healthz 200 after %v", healthy.Sub(back).Round(time.Millisecond))
	insp, err := env.Client.ContainerInspect(ctx, appID, mclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !insp.Container.State.Running || insp.Container.RestartCount != 0 {
		t.Errorf("microblog was not the same running container through the outage: running %v, %d restarts", insp.Container.State.Running, insp.Container.RestartCount)
	}
	if posts := explore(t, alice); !slices.Contains(posts, first) {
		t.Fatalf("after the outage explore shows %q; want %q", posts, first)
	}
	second := "Still here after the database restarted " + secret()
	if err := alice.WritePost(ctx, second); err != nil {
		t.Fatalf("posting after the outage: %v", err)
	}

	// Both containers' logs through kaj: microblog's access log line for
	// the post, MariaDB's start-up and its shutdown by the outage.
	posted := regexp.MustCompile(` POST "/" HTTP/1\.1 30[23] `)
	waitLog(t, c, name, "app", "the access log line of the post", posted.MatchString)
	waitLog(t, c, name, "db", "MariaDB's start-up", func(l string) bool { return strings.Contains(l, "ready for connections") })
	waitLog(t, c, name, "db", "MariaDB's shutdown", func(l string) bool { return strings.Contains(l, "Shutdown complete") })

	// Delete without the data flag: everything goes but the volume.
	if code, body := c.Do("DELETE", "/api/v1/apps/"+name, nil); code != http.StatusNoContent {
		t.Fatalf("DELETE app: %d %s", code, body)
	}
	vol, err := env.Client.VolumeInspect(ctx, app.Database.Volume, mclient.VolumeInspectOptions{})
	if err != nil {
		t.Fatalf("volume %s gone after a delete without data: %v", app.Database.Volume, err)
	}
	if vol.Volume.Labels[testutil.Label] != env.ID {
		t.Errorf("volume %s labels %v: no %s=%s, the test's cleanup would leave it", vol.Volume.Name, vol.Volume.Labels, testutil.Label, env.ID)
	}
	mine := mclient.Filters{}.Add("label", "kaj.app="+name)
	if cs, err := env.Client.ContainerList(ctx, mclient.ContainerListOptions{All: true, Filters: mine}); err != nil || len(cs.Items) != 0 {
		t.Errorf("containers of %s after delete: %v, %v", name, cs.Items, err)
	}
	if ns, err := env.Client.NetworkList(ctx, mclient.NetworkListOptions{Filters: mine}); err != nil || len(ns.Items) != 0 {
		t.Errorf("networks of %s after delete: %v, %v", name, ns.Items, err)
	}

	// One click again under the same name: the new app adopts the kept
	// volume and its credentials, and the posts are there.
	runJob(t, c, "/api/v1/templates/microblog-mysql", map[string]any{
		"name": name, "image": tag, "database_image": dbImage,
	})
	app = getApp(t, c, name)
	alice = browser(t, app.URL)
	if err := alice.Login(ctx, "alice", "correct horse battery"); err != nil {
		t.Fatalf("after recreating the app on its kept data: %v", err)
	}
	if posts := explore(t, alice); !slices.Contains(posts, first) || !slices.Contains(posts, second) {
		t.Fatalf("after recreating the app explore shows %q; want both posts", posts)
	}
}

// checkOwnNetwork checks that the app and its database share one network
// of their own, labelled for the test, where the database is dbserver,
// and that microblog is configured to reach it there and does.
func checkOwnNetwork(t *testing.T, env *testutil.Env, app, appID, dbID string) {
	t.Helper()
	ctx := env.Context()
	inspect := func(id string) (map[string][]string, []string) {
		insp, err := env.Client.ContainerInspect(ctx, id, mclient.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		nets := map[string][]string{}
		for n, ep := range insp.Container.NetworkSettings.Networks {
			nets[n] = ep.Aliases
		}
		return nets, insp.Container.Config.Env
	}
	appNets, appEnv := inspect(appID)
	dbNets, _ := inspect(dbID)
	if len(appNets) != 1 || len(dbNets) != 1 {
		t.Fatalf("app networks %v, database networks %v; want one each", appNets, dbNets)
	}
	var shared string
	for n := range appNets {
		shared = n
	}
	if _, ok := dbNets[shared]; !ok || shared == "bridge" || shared == "host" {
		t.Fatalf("app on %v, database on %v; want one network of their own", appNets, dbNets)
	}
	if !slices.Contains(dbNets[shared], "dbserver") {
		t.Errorf("database aliases on %s: %v; want dbserver", shared, dbNets[shared])
	}
	nw, err := env.Client.NetworkInspect(ctx, shared, mclient.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nw.Network.Labels[testutil.Label] != env.ID || nw.Network.Labels["kaj.app"] != app {
		t.Errorf("network %s labels %v", shared, nw.Network.Labels)
	}
	var dbURL string
	for _, kv := range appEnv {
		if v, ok := strings.CutPrefix(kv, "DATABASE_URL="); ok {
			dbURL = v
		}
	}
	if !regexp.MustCompile(`^mysql\+pymysql://[^:]+:[^@]+@dbserver(:3306)?/microblog$`).MatchString(dbURL) {
		t.Errorf("microblog's DATABASE_URL = %q; want mysql+pymysql://user:pass@dbserver/microblog", redact(dbURL))
	}
}

// redact hides a URL's password for the test log.
func redact(u string) string {
	return regexp.MustCompile(`:[^:@/]+@`).ReplaceAllString(u, ":xxxxx@")
}

// containerLog is a container's whole log, both streams.
func containerLog(t *testing.T, env *testutil.Env, id string) string {
	t.Helper()
	rc, err := env.Client.ContainerLogs(env.Context(), id, mclient.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}
