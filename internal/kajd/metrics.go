package kajd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/logstream"
	"github.com/kajhq/kaj/router"
)

// observer turns what kaj's parts report into Prometheus figures; the
// router registers its own request counts and latencies.
type observer struct {
	reg      prometheus.Registerer
	deploys  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	accessFn func(router.Entry)
}

func newObserver(reg prometheus.Registerer) *observer {
	o := &observer{
		reg: reg,
		deploys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kaj_deploys_total", Help: "Deploys and rollbacks by result (live, failed, and reverted: live, then failed its stability window).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kaj_deploy_duration_seconds", Help: "How long deploys took, by result.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300},
		}, []string{"result"}),
	}
	reg.MustRegister(o.deploys, o.duration)
	return o
}

// deploy records one finished deploy.
func (o *observer) deploy(result string, d time.Duration) {
	o.deploys.WithLabelValues(result).Inc()
	o.duration.WithLabelValues(result).Observe(d.Seconds())
}

// hub exposes the log hub's open engine streams and viewers, and feeds
// it the router's access log: one line per request under each app's
// access key, shown as the app's third log source.
func (o *observer) hub(h *logstream.Hub) {
	o.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kaj_log_streams_open", Help: "Engine log streams kaj holds open, however many viewers share them.",
	}, func() float64 { return float64(h.OpenStreams()) }))
	o.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kaj_log_viewers", Help: "Log viewers following a stream now.",
	}, func() float64 { return float64(h.Viewers()) }))
	o.accessFn = func(e router.Entry) {
		if e.App == "" {
			return
		}
		h.Publish(apps.AccessKey(e.App), logstream.Line{Stream: "stdout", Time: e.Time, Text: accessLine(e)})
	}
}

// accessLine is one request as the Logs tab shows it.
func accessLine(e router.Entry) string {
	up := e.Upstream
	if up == "" {
		up = "-"
	}
	return fmt.Sprintf("%s %s %s %d %dB %s upstream=%s from=%s", e.Host, e.Method, e.Path, e.Status, e.Bytes, e.Duration.Round(100*time.Microsecond), up, e.Remote)
}

// access receives the router's access log; the log hub shows it in the
// app's Logs tab once it is wired (see access).
func (o *observer) access(e router.Entry) {
	if o.accessFn != nil {
		o.accessFn(e)
	}
}

// metricsHandler is /metrics on the API address, unless metrics.listen
// gives it an address of its own (see ServeMetrics).
func metricsHandler(reg *prometheus.Registry, c config.Metrics) http.Handler {
	if c.Listen != "" {
		return nil
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// ServeMetrics serves /metrics on metrics.listen until ctx ends; it
// returns at once when that is not set.
func (k *Kaj) serveMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(k.Metrics, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return fmt.Errorf("serving metrics: %w", err)
	}
	return nil
}
