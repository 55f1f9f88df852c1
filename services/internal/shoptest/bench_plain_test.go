//go:build !otelsdk

package shoptest

import "github.com/zerocodelab/lab/services/internal/telemetry"

// benchTelemetry is nil in the default build: the services run with no instrumentation.
func benchTelemetry() func(string) *telemetry.Telemetry { return nil }
