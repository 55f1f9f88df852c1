//go:build otelsdk

package shoptest

import (
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/zerocodelab/lab/services/internal/telemetry"
)

// benchTelemetry samples every span and sends it through the same batch processor the services use,
// to an exporter that drops it.
func benchTelemetry() func(string) *telemetry.Telemetry {
	return func(service string) *telemetry.Telemetry {
		res := resource.NewSchemaless(semconv.ServiceName(service), semconv.ServiceNamespace("bench"))
		return telemetry.New(service, sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(tracetest.NewNoopExporter()), sdktrace.WithResource(res)))
	}
}
