//go:build otelsdk

package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Enabled reports whether this build carries the OpenTelemetry SDK.
const Enabled = true

// scope is the instrumentation scope of the spans the shop's own code starts.
const scope = "github.com/zerocodelab/lab/services"

// Telemetry holds the tracer provider and propagator every instrumented piece shares.
type Telemetry struct {
	service    string
	provider   *sdktrace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

// Setup builds the SDK from the standard OTEL_* variables only: the exporter (OTEL_TRACES_EXPORTER,
// OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL...), the sampler and the batch processor are
// what the SDK reads from the process environment. service.name and service.namespace default to the
// service and its lane; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override them, as the spec says.
func Setup(ctx context.Context, res Resource) (*Telemetry, error) {
	r, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(res.Service), semconv.ServiceNamespace(res.Lane)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // last, so that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	exporter, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: span exporter from OTEL_* variables: %w", err)
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(r))
	return New(res.Service, provider), nil
}

// New wraps an existing tracer provider; tests use it with an in-memory span recorder.
func New(service string, provider *sdktrace.TracerProvider) *Telemetry {
	return &Telemetry{
		service:    service,
		provider:   provider,
		tracer:     provider.Tracer(scope),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
}

// Shutdown flushes the spans still buffered.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return t.provider.Shutdown(ctx)
}

// Middleware starts a SERVER span per request, continuing the trace of an incoming traceparent.
func (t *Telemetry) Middleware() echo.MiddlewareFunc {
	return otelecho.Middleware(t.service,
		otelecho.WithTracerProvider(t.provider),
		otelecho.WithPropagators(t.propagator),
		otelecho.WithSkipper(func(c echo.Context) bool {
			// Scrapes and health checks would drown the interesting traces.
			return c.Path() == "/metrics" || c.Path() == "/healthz"
		}),
	)
}

// Transport starts a CLIENT span per outgoing request and writes the traceparent header.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
	)
}

// TraceID returns the trace id of the active span, or "".
func (t *Telemetry) TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// Start starts an INTERNAL span for a step of the business logic.
func (t *Telemetry) Start(ctx context.Context, name string, attrs ...Attr) (context.Context, Span) {
	ctx, s := t.tracer.Start(ctx, name, trace.WithAttributes(toOTel(attrs)...))
	return ctx, Span{s}
}

// StartQuery starts a CLIENT span for one SQL statement, with the attributes the database semantic
// conventions define (the same ones the Go auto agent puts on its database/sql spans).
func (t *Telemetry) StartQuery(ctx context.Context, database, query string) (context.Context, Span) {
	operation, collection := describeQuery(query)
	attrs := []attribute.KeyValue{
		semconv.DBSystemNameSQLite,
		semconv.DBNamespace(database),
		semconv.DBQueryText(query),
		semconv.DBOperationName(operation),
	}
	name := operation
	if collection != "" {
		attrs = append(attrs, semconv.DBCollectionName(collection))
		name += " " + collection
	}
	ctx, s := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, Span{s}
}

// describeQuery finds the operation and the table of a simple SQL statement, for the span name.
func describeQuery(query string) (operation, collection string) {
	words := strings.Fields(query)
	if len(words) == 0 {
		return "SQL", ""
	}
	operation = strings.ToUpper(words[0])
	for i, w := range words[:len(words)-1] {
		switch strings.ToUpper(w) {
		case "FROM", "INTO", "UPDATE":
			return operation, strings.Trim(words[i+1], "();")
		}
	}
	return operation, ""
}

// Span is a started span.
type Span struct{ span trace.Span }

// SetAttributes adds attributes to the span.
func (s Span) SetAttributes(attrs ...Attr) { s.span.SetAttributes(toOTel(attrs)...) }

// AddEvent records a point in time within the span.
func (s Span) AddEvent(name string, attrs ...Attr) {
	s.span.AddEvent(name, trace.WithAttributes(toOTel(attrs)...))
}

// End ends the span; a non-nil err is recorded as an exception event and sets the status to Error.
func (s Span) End(err error) {
	if err != nil {
		s.span.RecordError(err)
		s.span.SetStatus(codes.Error, err.Error())
	}
	s.span.End()
}

// LogHandler adds trace_id and span_id of the active span to every record logged with a context,
// which is what lets Grafana jump from a log line to its trace.
func (t *Telemetry) LogHandler(h slog.Handler) slog.Handler { return traceHandler{h} }

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		if !hasAttr(r, "trace_id") { // the access line may already carry the incoming trace id: the same one
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
		}
		r.AddAttrs(slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

func toOTel(attrs []Attr) []attribute.KeyValue {
	kvs := make([]attribute.KeyValue, 0, len(attrs))
	for _, a := range attrs {
		v := a.Value.Resolve()
		switch v.Kind() {
		case slog.KindString:
			kvs = append(kvs, attribute.String(a.Key, v.String()))
		case slog.KindInt64:
			kvs = append(kvs, attribute.Int64(a.Key, v.Int64()))
		case slog.KindUint64:
			kvs = append(kvs, attribute.Int64(a.Key, int64(v.Uint64())))
		case slog.KindFloat64:
			kvs = append(kvs, attribute.Float64(a.Key, v.Float64()))
		case slog.KindBool:
			kvs = append(kvs, attribute.Bool(a.Key, v.Bool()))
		default:
			kvs = append(kvs, attribute.String(a.Key, v.String()))
		}
	}
	return kvs
}
