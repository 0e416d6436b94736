package api

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// BenchmarkAPIListApps measures GET /api/v1/apps with 1,000 apps stored
// and 1,000 containers in the engine, created but never started (a tiny
// scratch image): 500 of this kaj, one for each of half the apps, and
// 500 of another kaj instance on the same engine (same app names,
// another deploy.labels), which the list must not show. It reports p50
// and p99 of requests one at a time, then requests/s with 8 clients.
// Run with: go test -run '^$' -bench APIListApps -benchtime 100x ./e2e/api/
func BenchmarkAPIListApps(b *testing.B) {
	env := testutil.NewEnv(b)
	ctx := b.Context()
	k := kajtest.Start(b, env, func(c *config.Config) { c.Deploy.Labels = map[string]string{"kaj.instance": "a"} })
	err := k.Store.Update(func(tx *store.Tx) error {
		for i := range 1000 {
			a := store.App{Name: fmt.Sprintf("app-%d", i), Image: "microblog:1.0.0-prod", Port: 5000, HealthPath: "/healthz",
				Env: []store.EnvVar{{Name: "LOG_TO_STDOUT", Value: "1"}, {Name: "SECRET_KEY", Value: "k", Secret: true}}}
			if _, err := tx.CreateApp(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	img, err := env.IdleImage(ctx)
	if err != nil {
		b.Fatal(err)
	}
	err = env.CreateIdle(ctx, img, 1000, func(i int) string { return env.Name(fmt.Sprint("idle-", i)) }, func(i int) map[string]string {
		inst := "a"
		if i%2 == 1 {
			inst = "b"
		}
		return map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: fmt.Sprintf("app-%d", i/2), runtime.LabelRole: "app", runtime.LabelRelease: "1", "kaj.instance": inst}
	})
	if err != nil {
		b.Fatal(err)
	}
	c := k.Login(b)
	get := func(c *kajtest.Client) {
		code, body := c.Do("GET", "/api/v1/apps", nil)
		if code != 200 || len(body) < 1000 {
			b.Fatalf("status %d", code)
		}
	}
	get(c) // warm
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		get(c)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")

	// 8 clients, each its own session, for a few seconds.
	const clients, window = 8, 5 * time.Second
	var n atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(window)
	start := time.Now()
	for range clients {
		cc := k.Login(b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				get(cc)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	rps := float64(n.Load()) / time.Since(start).Seconds()
	b.ReportMetric(rps, "req/s-8-clients")
	b.Logf("GET /api/v1/apps, 1,000 apps, 1,000 containers (500 another instance's): p50 %.1f ms, p99 %.1f ms over %d; %.0f requests/s with %d clients",
		ms(p50), ms(p99), len(lat), rps, clients)
}
