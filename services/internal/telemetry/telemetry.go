// Package telemetry is the one place where the services meet OpenTelemetry.
//
// The default build compiles noop.go: every method does nothing and no go.opentelemetry.io package is
// linked, so the eBPF agents observe services that carry no instrumentation at all. Built with
// -tags otelsdk, sdk.go compiles instead and adds inbound and outbound spans, W3C propagation, a span
// per SQL query, business spans and trace-correlated logs. Both files offer the same API, so the rest
// of the code is identical in both builds.
package telemetry

import "log/slog"

// Resource names what produces the telemetry.
type Resource struct {
	Service string // service.name: gateway, catalog, inventory or orders
	Lane    string // service.namespace: the lane this copy of the shop runs in
}

// Attributes of spans are written as slog attributes, so that the default build needs no OpenTelemetry type.
type Attr = slog.Attr
