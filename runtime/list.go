package runtime

import (
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	mclient "github.com/moby/moby/client"
)

// ListAll reports every container of this kaj instance in one engine
// call: those of its scope (see Scope) that also carry every one of
// labels, so another kaj's containers on the same engine are neither
// listed nor inspected. The order is List's.
//
// The status is built from the list answer alone, so some fields are
// coarser than Inspect's: Health comes from the engine's status text
// ("Up 3 minutes (healthy)"), ExitCode from "Exited (3) …" (the last
// exit code for a restarting container), and RestartCount, OOMKilled,
// StartedAt and FinishedAt are left zero. Inspect one container for
// those. A reserved kaj label in labels is ErrInvalid.
func (d *Docker) ListAll(ctx context.Context, labels map[string]string) ([]Status, error) {
	if err := checkLabels("labels", labels); err != nil {
		return nil, err
	}
	res, err := d.cli.ContainerList(ctx, mclient.ContainerListOptions{All: true, Filters: d.filters(labels)})
	if err != nil {
		return nil, engineError("listing containers", err)
	}
	out := make([]Status, 0, len(res.Items))
	for _, item := range res.Items {
		if !d.owns(item.Labels) || !hasLabels(item.Labels, labels) {
			continue // another instance's, or an old engine's loose filter
		}
		out = append(out, d.statusOfSummary(item))
	}
	slices.SortFunc(out, func(a, b Status) int {
		return strings.Compare(a.App+"\x00"+string(a.Role)+"\x00"+a.Name, b.App+"\x00"+string(b.Role)+"\x00"+b.Name)
	})
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// exitText matches the exit code in an engine status text such as
// "Exited (137) 5 minutes ago" or "Restarting (1) 2 seconds ago".
var exitText = regexp.MustCompile(`^(?:Exited|Restarting) \((-?\d+)\)`)

// statusOfSummary is a container's status from a list answer alone.
func (d *Docker) statusOfSummary(c container.Summary) Status {
	l := c.Labels
	s := Status{
		Container: Container{
			ID:      c.ID,
			App:     l[LabelApp],
			Role:    Role(l[LabelRole]),
			Release: l[LabelRelease],
			Kind:    DatabaseKind(l[LabelDatabase]),
			Image:   c.Image,
		},
		State: string(c.State),
	}
	if len(c.Names) > 0 {
		s.Name = strings.TrimPrefix(c.Names[0], "/")
	}
	if ns := c.NetworkSettings; ns != nil {
		if ep, ok := ns.Networks[d.Names(s.App).Network]; ok && ep != nil {
			s.IP = ep.IPAddress
		}
	}
	for _, p := range c.Ports {
		if p.PublicPort == 0 {
			continue
		}
		ip := p.IP
		if !ip.IsValid() {
			ip = netip.IPv4Unspecified()
		}
		// An engine with IPv6 lists the port twice; keep IPv4.
		if !s.HostPort.IsValid() || s.HostPort.Addr().Is6() && ip.Is4() {
			s.HostPort = netip.AddrPortFrom(ip, p.PublicPort)
		}
	}
	s.Health = healthOfStatusText(c.Status)
	if c.Health != nil && c.Health.Status != "" && c.Health.Status != container.NoHealthcheck {
		s.Health = string(c.Health.Status)
	}
	if m := exitText.FindStringSubmatch(c.Status); m != nil {
		s.ExitCode, _ = strconv.Atoi(m[1])
	}
	return s
}

// healthOfStatusText reads the health the engine appends to a running
// container's status text: "(healthy)", "(unhealthy)" or
// "(health: starting)"; "" when there is none.
func healthOfStatusText(text string) string {
	switch {
	case strings.HasSuffix(text, "(healthy)"):
		return string(container.Healthy)
	case strings.HasSuffix(text, "(unhealthy)"):
		return string(container.Unhealthy)
	case strings.HasSuffix(text, "(health: starting)"):
		return string(container.Starting)
	}
	return ""
}
