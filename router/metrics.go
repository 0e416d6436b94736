package router

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the router's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

// appMetrics are one app's children of the collectors, looked up once per
// route change rather than once per request.
type appMetrics struct {
	byClass  [6]prometheus.Counter // index: status / 100
	duration prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kaj_router_requests_total",
			Help: "Requests answered by the front door, by app and status class (app is empty for unknown hosts).",
		}, []string{"app", "code_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kaj_router_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its response, by app.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"app"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kaj_router_requests_in_flight",
			Help: "Requests the front door is answering now.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.inflight} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering router metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) forApp(app string) *appMetrics {
	am := &appMetrics{duration: m.duration.WithLabelValues(app)}
	for i := 1; i < len(am.byClass); i++ {
		am.byClass[i] = m.requests.WithLabelValues(app, fmt.Sprintf("%dxx", i))
	}
	return am
}

// forget drops an app's series once its route is gone, so that removed
// apps do not linger on /metrics.
func (m *metrics) forget(app string) {
	m.requests.DeletePartialMatch(prometheus.Labels{"app": app})
	m.duration.DeleteLabelValues(app)
}

func (am *appMetrics) observe(status int, seconds float64) {
	if c := status / 100; c >= 1 && c < len(am.byClass) {
		am.byClass[c].Inc()
	}
	am.duration.Observe(seconds)
}
