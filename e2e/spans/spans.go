// Package spans holds spans as the OpenTelemetry Collector's pdata has them, attributes typed as they were
// sent, with where they come from: a file the Collector's file exporter wrote, or an OTLP/gRPC sink.
package spans

import (
	"bufio"
	"fmt"
	"os"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Span is one span with the resource it came from.
type Span struct {
	Lane, Service string           // resource service.namespace and service.name
	Resource      pcommon.Resource // all of the resource, where it was read from OTLP
	ptrace.Span
}

// Attr returns an attribute's value as text, "" when absent.
func (s Span) Attr(key string) string {
	if v, ok := s.Attributes().Get(key); ok {
		return v.AsString()
	}
	return ""
}

// Route is the span's http.route, "" when it has none.
func (s Span) Route() string { return s.Attr("http.route") }

// IsError reports whether the span's status is an error.
func (s Span) IsError() bool { return s.Status().Code() == ptrace.StatusCodeError }

// FromTraces lists the spans of td, each with its resource's lane and service. td must not change after.
func FromTraces(td ptrace.Traces) []Span {
	var out []Span
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes()
		lane, service := str(res, "service.namespace"), str(res, "service.name")
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				out = append(out, Span{Lane: lane, Service: service, Resource: rs.Resource(), Span: sp})
			}
		}
	}
	return out
}

// ByTrace groups spans by trace id (hex).
func ByTrace(spans []Span) map[string][]Span {
	traces := map[string][]Span{}
	for _, sp := range spans {
		id := sp.TraceID().String()
		traces[id] = append(traces[id], sp)
	}
	return traces
}

// Roots names ("service span-name") the spans of a trace whose parent is not in it: one for a trace
// that holds together, more where a service started a trace of its own.
func Roots(trace []Span) []string {
	ids := map[string]bool{}
	for _, sp := range trace {
		ids[sp.SpanID().String()] = true
	}
	var roots []string
	for _, sp := range trace {
		if !ids[sp.ParentSpanID().String()] {
			roots = append(roots, sp.Service+" "+sp.Name())
		}
	}
	return roots
}

// ReadFile reads what the Collector's file exporter writes: OTLP JSON, one export request per line. A
// line still being written (the last, without its newline) is left for the next read.
func ReadFile(path string) ([]Span, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil // nothing received yet
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var spans []Span
	r := bufio.NewReaderSize(f, 1<<20)
	var u ptrace.JSONUnmarshaler
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break // end of file, or a partial last line
		}
		td, err := u.UnmarshalTraces(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		spans = append(spans, FromTraces(td)...)
	}
	return spans, nil
}

func str(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}

// ToTraces puts spans back into OTLP data, one resource per lane and service.
func ToTraces(list []Span) ptrace.Traces {
	td := ptrace.NewTraces()
	scopes := map[[2]string]ptrace.SpanSlice{}
	for _, sp := range list {
		key := [2]string{sp.Lane, sp.Service}
		dst, ok := scopes[key]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.namespace", sp.Lane)
			rs.Resource().Attributes().PutStr("service.name", sp.Service)
			dst = rs.ScopeSpans().AppendEmpty().Spans()
			scopes[key] = dst
		}
		sp.CopyTo(dst.AppendEmpty())
	}
	return td
}
