package stack

import (
	"bufio"
	"fmt"
	"os"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Span is one received span with the resource it came from. Attributes stay as OTLP typed them.
type Span struct {
	Lane, Service string // resource service.namespace and service.name
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

// ReadSpans reads the file the Tempo stand-in writes: OTLP JSON, one export request per line. A line
// still being written (the last, without its newline) is left for the next read.
func ReadSpans(path string) ([]Span, error) {
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
		spans = append(spans, flatten(td)...)
	}
	return spans, nil
}

func flatten(td ptrace.Traces) []Span {
	var out []Span
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes()
		lane, service := str(res, "service.namespace"), str(res, "service.name")
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				out = append(out, Span{Lane: lane, Service: service, Span: sp})
			}
		}
	}
	return out
}

func str(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}
