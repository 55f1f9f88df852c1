//go:build !otelsdk

package telemetry

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Enabled reports whether this build carries the OpenTelemetry SDK.
const Enabled = false

// Telemetry does nothing in the default build.
type Telemetry struct{}

// Setup returns a Telemetry that does nothing.
func Setup(context.Context, Resource) (*Telemetry, error) {
	return &Telemetry{}, nil
}

// Shutdown does nothing.
func (*Telemetry) Shutdown(context.Context) error { return nil }

// Middleware returns nil: there is no inbound instrumentation to add.
func (*Telemetry) Middleware() echo.MiddlewareFunc { return nil }

// Transport returns base unchanged: outgoing requests carry no trace context.
func (*Telemetry) Transport(base http.RoundTripper) http.RoundTripper { return base }

// LogHandler returns h unchanged.
func (*Telemetry) LogHandler(h slog.Handler) slog.Handler { return h }

// TraceID returns "": without the SDK there is no active span.
func (*Telemetry) TraceID(context.Context) string { return "" }

// Start returns ctx and a span that records nothing.
func (*Telemetry) Start(ctx context.Context, _ string, _ ...Attr) (context.Context, Span) {
	return ctx, Span{}
}

// StartQuery returns ctx and a span that records nothing.
func (*Telemetry) StartQuery(ctx context.Context, _, _ string) (context.Context, Span) {
	return ctx, Span{}
}

// Span records nothing in the default build.
type Span struct{}

// SetAttributes does nothing.
func (Span) SetAttributes(...Attr) {}

// AddEvent does nothing.
func (Span) AddEvent(string, ...Attr) {}

// End does nothing.
func (Span) End(error) {}
