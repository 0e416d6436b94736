package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// BenchmarkLogView100k is the browser's time to take in 100,000 log
// lines in 512-line batches, as the websocket delivers them, and draw the
// view; and then to filter them. It reports ms per 100k lines (ingest-ms)
// and per filter over them (filter-ms); the page must stay responsive, so
// both should stay well under a second.
func BenchmarkLogView100k(b *testing.B) {
	env := testutil.NewEnv(b)
	k := kajtest.Start(b, env)
	api := k.Login(b)
	name := env.Name("bench")
	if code := api.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": "busybox:1", "port": 8080}, nil); code != 201 {
		b.Fatalf("creating the app: %d", code)
	}
	br := newBenchBrowser(b, k.URL)
	login := `(async () => {
		const f = new URLSearchParams({username: "admin", password: ` + js(k.Password) + `, next: "/apps/` + name + `"});
		const r = await fetch("/login", {method: "POST", body: f});
		return r.url;
	})()`
	ctx, cancel := context.WithTimeout(br, time.Minute)
	defer cancel()
	must2(b, chromedp.Do(ctx, chromedp.Navigate(k.URL+"/login")))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](login, chromedp.EvalAwaitPromise)); err != nil {
		b.Fatal(err)
	}
	must2(b, chromedp.Do(ctx, chromedp.Navigate(k.URL+"/apps/"+name), chromedp.WaitReady(chromedp.CSS("#logs"))))
	// A viewer of its own on the page's panel, fed without a socket.
	setup := `(async () => {
		const src = document.querySelector('script[src*="/js/app.js"]').src.replace("app.js", "logs.js");
		const { LogViewer } = await import(src);
		document.getElementById("panel-logs").hidden = false;
		document.getElementById("panel-overview").hidden = true;
		window.__viewer = new LogViewer(document.getElementById("logs"), ` + js(name) + `);
		const t0 = new Date(Date.UTC(2026, 0, 1)).getTime();
		window.__batches = [];
		for (let b = 0; b < 196; b++) {
			const lines = [];
			for (let i = 0; i < 512; i++) {
				const n = b * 512 + i;
				lines.push({ seq: n + 1, stream: n % 7 ? "stdout" : "stderr", time: new Date(t0 + n).toISOString(), text: "GET /api/items/" + n + " 200 \x1b[32mOK\x1b[0m in " + (n % 97) + "ms" });
			}
			window.__batches.push(lines);
		}
		return true;
	})()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](setup, chromedp.EvalAwaitPromise)); err != nil {
		b.Fatal(err)
	}
	ingest := `(async () => {
		const v = window.__viewer;
		v.reset();
		const start = performance.now();
		for (const batch of window.__batches) v.receive(batch);
		await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
		const took = performance.now() - start;
		if (Number(document.getElementById("logs").dataset.lines) !== 196 * 512) throw new Error("lines: " + document.getElementById("logs").dataset.lines);
		if (document.querySelectorAll("#log-view .log-line").length > 200) throw new Error("unbounded DOM");
		return took;
	})()`
	filter := `(async () => {
		const v = window.__viewer;
		const start = performance.now();
		v.setFilter("/items\\/9\\d{3} /");
		await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
		const took = performance.now() - start;
		v.setFilter("");
		return took;
	})()`
	var ingestMS, filterMS float64
	b.ResetTimer()
	for b.Loop() {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](ingest, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		ingestMS += v
		f, err := chromedp.Run(ctx, chromedp.Evaluate[float64](filter, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		filterMS += f
	}
	b.ReportMetric(ingestMS/float64(b.N)*100000/(196*512), "ingest-ms/100k")
	b.ReportMetric(filterMS/float64(b.N)*100000/(196*512), "filter-ms/100k")
}

// newBenchBrowser starts chromium for a benchmark and returns its context.
func newBenchBrowser(b *testing.B, base string) context.Context {
	path, ok := findChromium()
	if !ok {
		if testutil.RequireDocker() {
			b.Fatal("no chromium found; install it with: apt-get install -y chromium [KAJ_REQUIRE_DOCKER=1]")
		}
		b.Skip("no chromium found; install it with: apt-get install -y chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1360, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1360, 900)); err != nil {
		b.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

func must2(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
