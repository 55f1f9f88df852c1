package server

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerocodelab/lab/services/internal/traceparent"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newHTTPMetrics registers the RED metrics of the shop's own HTTP server. The shop_ prefix tells them
// apart from the agents' http_server_* metrics on the same dashboards.
func newHTTPMetrics(reg prometheus.Registerer) httpMetrics {
	m := httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shop_http_request_duration_seconds",
			Help: "Time to serve an HTTP request, by method and route pattern.",
			// From 1 ms to 5 s: the slow scenario sleeps a few hundred ms.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// unmatchedRoute labels requests for paths no route serves, so that scanners cannot grow the label set.
const unmatchedRoute = "unmatched"

// observe counts and times every request and writes one access log line for it. It handles the
// handler's error itself (through the error handler) so that it sees the final status.
func observe(logger *slog.Logger, m httpMetrics, known map[string]bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			elapsed := time.Since(start)

			req, route := c.Request(), c.Path()
			if !known[route] {
				route = unmatchedRoute
			}
			status := c.Response().Status
			m.requests.WithLabelValues(req.Method, route, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(req.Method, route).Observe(elapsed.Seconds())

			if route == HealthPath || route == MetricsPath {
				return nil // probes and scrapes are counted, not logged
			}
			attrs := []slog.Attr{
				slog.String("method", req.Method),
				slog.String("route", route),
				slog.String("path", req.URL.Path),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			}
			if id, ok := traceparent.TraceID(req.Header.Get(traceparent.Header)); ok {
				attrs = append(attrs, slog.String("trace_id", id))
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			logger.LogAttrs(req.Context(), level, "request", attrs...)
			return nil
		}
	}
}
