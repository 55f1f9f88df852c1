// Package server is the bootstrap the four services share: an Echo instance with the shop's
// middlewares, its error handler, /healthz and /metrics, and a graceful Serve.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/config"
	"github.com/zerocodelab/lab/services/internal/telemetry"
)

// Route is one route of a service. Each service lists all of its routes in its routes.go.
type Route struct {
	Method  string
	Path    string // Echo's pattern, like /products/:sku
	Handler echo.HandlerFunc
}

// Options are the dependencies of New.
type Options struct {
	Logger           *slog.Logger
	Registry         prometheus.Registerer // where the HTTP metrics are registered
	Metrics          prometheus.Gatherer   // what /metrics serves
	Telemetry        *telemetry.Telemetry
	RoutePatternHint bool                        // see RoutePatternHint
	Ready            func(context.Context) error // checked by /healthz; nil means always ready
}

// Routes that every service has besides its own.
const (
	HealthPath  = "/healthz"
	MetricsPath = "/metrics"
)

// New returns the service's Echo with every route registered. Middlewares run outermost first:
// the route hint must see the request object the server created, the SDK middleware (SDK build only)
// must wrap the access log so that the log line carries the span.
func New(opts Options, routes []Route) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(opts.Logger)

	if opts.RoutePatternHint {
		e.Use(RoutePatternHint)
	}
	if mw := opts.Telemetry.Middleware(); mw != nil {
		e.Use(mw)
	}
	known := map[string]bool{HealthPath: true, MetricsPath: true}
	for _, r := range routes {
		known[r.Path] = true
	}
	e.Use(observe(opts.Logger, newHTTPMetrics(opts.Registry), known))

	for _, r := range routes {
		e.Add(r.Method, r.Path, r.Handler)
	}
	e.GET(HealthPath, health(opts.Ready))
	e.GET(MetricsPath, echo.WrapHandler(promhttp.HandlerFor(opts.Metrics, promhttp.HandlerOpts{})))
	return e
}

// RoutePatternHint copies Echo's route pattern into http.Request.Pattern. The Go auto agent reads the
// route from that field (net/http's ServeMux fills it; Echo never does), so without the hint its spans
// are named only by the method. It writes to the request object the server created: a copy made by
// WithContext would be invisible to an agent reading the server's request.
func RoutePatternHint(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Request().Pattern = c.Path()
		return next(c)
	}
}

func health(ready func(context.Context) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ready != nil {
			if err := ready(c.Request().Context()); err != nil {
				return apierror.New(http.StatusServiceUnavailable, "not_ready", err.Error()).Wrap(err)
			}
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	}
}

// errorHandler answers every error with the one error body and logs the ones that are the server's fault.
// A request cancelled because its client went away is 499 (apierror.From), never a server failure that
// would inflate the error rate; any other failure stays what it is, client gone or not.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, body := apierror.From(err)
		if status >= 500 {
			logger.ErrorContext(c.Request().Context(), "request failed",
				"route", c.Path(), "status", status, "error", err.Error())
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.JSON(status, body)
		}
		if err != nil {
			logger.ErrorContext(c.Request().Context(), "write error response", "error", err.Error())
		}
	}
}

// Serve serves e on ln until ctx is done, then shuts down gracefully: in-flight requests get
// shutdownTimeout to finish. limits cut off clients that send too slowly or too much header.
func Serve(ctx context.Context, e *echo.Echo, ln net.Listener, limits config.HTTP, shutdownTimeout time.Duration) error {
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		ReadTimeout:       limits.ReadTimeout,
		IdleTimeout:       limits.IdleTimeout,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
