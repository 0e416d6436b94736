package runtime

import (
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestStatusOfSummary(t *testing.T) {
	cases := []struct {
		name, state, text string
		health            string
		exit              int
	}{
		{"healthy", "running", "Up 3 minutes (healthy)", "healthy", 0},
		{"starting", "running", "Up 2 seconds (health: starting)", "starting", 0},
		{"unhealthy", "running", "Up 1 minute (unhealthy)", "unhealthy", 0},
		{"no check", "running", "Up 5 seconds", "", 0},
		{"exited", "exited", "Exited (137) 5 minutes ago", "", 137},
		{"restarting", "restarting", "Restarting (1) 2 seconds ago", "", 1},
		{"created", "created", "Created", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := (&Docker{}).statusOfSummary(container.Summary{ID: "x", Names: []string{"/kaj-a-r1-abc"}, State: container.ContainerState(c.state), Status: c.text,
				Labels: map[string]string{LabelManaged: "true", LabelApp: "a", LabelRole: "app", LabelRelease: "1"},
				Ports: []container.PortSummary{
					{IP: netip.MustParseAddr("::"), PrivatePort: 8080, PublicPort: 49000, Type: "tcp"},
					{IP: netip.MustParseAddr("127.0.0.1"), PrivatePort: 8080, PublicPort: 49000, Type: "tcp"},
				}})
			if s.State != c.state || s.Health != c.health || s.ExitCode != c.exit {
				t.Errorf("state %q health %q exit %d; want %q %q %d", s.State, s.Health, s.ExitCode, c.state, c.health, c.exit)
			}
			if s.Name != "kaj-a-r1-abc" || s.App != "a" || s.Release != "1" || s.HostPort.String() != "127.0.0.1:49000" {
				t.Errorf("container = %+v", s.Container)
			}
		})
	}
}
