package runtime

import (
	"math"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestStatus_String(t *testing.T) {
	cases := []struct {
		s    Status
		want string
	}{
		{Status{State: "running"}, "running"},
		{Status{State: "running", Health: "healthy"}, "running (healthy)"},
		{Status{State: "restarting", RestartCount: 3, ExitCode: 1}, "restarting (3 restarts, last exit code 1)"},
		{Status{State: "exited", ExitCode: 3}, "exited with code 3"},
		{Status{State: "exited", ExitCode: 137, OOMKilled: true}, "exited with code 137 (out of memory)"},
		{Status{State: "created"}, "created"},
	}
	for _, c := range cases {
		if got := c.s.String(); got != c.want {
			t.Errorf("%+v: String = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestStatsOf(t *testing.T) {
	var s container.StatsResponse
	s.PreCPUStats.CPUUsage.TotalUsage = 1_000_000_000
	s.PreCPUStats.SystemUsage = 100_000_000_000
	s.CPUStats.CPUUsage.TotalUsage = 1_500_000_000 // 0.5 s of CPU
	s.CPUStats.SystemUsage = 102_000_000_000       // 2 s of 2 CPUs' time
	s.CPUStats.OnlineCPUs = 2
	s.MemoryStats.Usage = 50 << 20
	s.MemoryStats.Limit = 256 << 20
	s.MemoryStats.Stats = map[string]uint64{"inactive_file": 10 << 20}
	got := statsOf(s)
	if math.Abs(got.CPUPercent-50) > 1e-9 {
		t.Errorf("CPUPercent = %v, want 50", got.CPUPercent)
	}
	if got.Memory != 40<<20 || got.MemoryLimit != 256<<20 {
		t.Errorf("Memory = %d of %d, want %d of %d", got.Memory, got.MemoryLimit, 40<<20, 256<<20)
	}

	// cgroup v1 names the cache differently; a first sample has no
	// previous one and no CPU figure.
	var v1 container.StatsResponse
	v1.MemoryStats.Usage = 30 << 20
	v1.MemoryStats.Stats = map[string]uint64{"total_inactive_file": 5 << 20}
	v1.CPUStats.CPUUsage.TotalUsage = 5
	v1.CPUStats.SystemUsage = 10
	got = statsOf(v1)
	if got.Memory != 25<<20 || got.CPUPercent != 0 {
		t.Errorf("v1 first sample = %+v, want 25 MiB and no CPU figure", got)
	}
}
