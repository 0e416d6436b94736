package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRouter_proxy measures a small GET through the router over
// loopback, client and upstream included; compare it with
// BenchmarkDirect to see what the front door adds per request.
func BenchmarkRouter_proxy(b *testing.B) {
	app := benchApp(b)
	r, err := New(Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.SetRoutes([]Route{{App: "bench", Upstreams: []string{app.Listener.Addr().String()}}}); err != nil {
		b.Fatal(err)
	}
	front := httptest.NewServer(r)
	defer front.Close()
	benchGet(b, front.URL, "bench.localhost")
}

// BenchmarkDirect is the baseline: the same requests straight to the app.
func BenchmarkDirect(b *testing.B) {
	benchGet(b, benchApp(b).URL, "bench.localhost")
}

// BenchmarkTable_match measures the routing decision alone.
func BenchmarkTable_match(b *testing.B) {
	r, _ := New(Options{Logger: quietLogger()})
	var routes []Route
	for i := range 200 {
		routes = append(routes, Route{App: "app" + itoa(i), Domains: []Domain{{Host: "www.app" + itoa(i) + ".example.com"}, {Host: "app" + itoa(i) + ".example.com", PathPrefix: "/api"}}})
	}
	if err := r.SetRoutes(routes); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r.table.Load().match(canonicalHost("App150.example.com:443"), "/api/x") == nil {
			b.Fatal("no match")
		}
	}
}

func itoa(i int) string { return string(rune('a'+i/26%26)) + string(rune('a'+i%26)) }

func benchApp(b *testing.B) *httptest.Server {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello from the bench app\n"))
	}))
	b.Cleanup(app.Close)
	return app
}

func benchGet(b *testing.B, url, host string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
			req.Host = host
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
