package spans

import (
	"context"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the Collector compresses its exports, as Tempo accepts
)

// Sink is an OTLP/gRPC trace endpoint that keeps every span it receives, for a test to read: where
// Tempo cannot run, the Collector's Tempo exporter points here.
type Sink struct {
	ptraceotlp.UnimplementedGRPCServer
	mu    sync.Mutex
	spans []Span
}

// ListenSink serves a Sink on addr (host:port; port 0 picks one) until stop is called.
func ListenSink(addr string) (sink *Sink, listening string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", nil, err
	}
	sink = &Sink{}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, sink)
	go srv.Serve(ln)
	return sink, ln.Addr().String(), srv.Stop, nil
}

// Export keeps a copy of the request's spans.
func (s *Sink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	td := ptrace.NewTraces()
	req.Traces().CopyTo(td)
	received := FromTraces(td)
	s.mu.Lock()
	s.spans = append(s.spans, received...)
	s.mu.Unlock()
	return ptraceotlp.NewExportResponse(), nil
}

// Spans returns the spans of one lane received so far.
func (s *Sink) Spans(lane string) []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Span
	for _, sp := range s.spans {
		if sp.Lane == lane {
			out = append(out, sp)
		}
	}
	return out
}

// Trace returns the spans received of one trace (hex id).
func (s *Sink) Trace(_ context.Context, traceID string) ([]Span, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Span
	for _, sp := range s.spans {
		if sp.TraceID().String() == traceID {
			out = append(out, sp)
		}
	}
	return out, nil
}

// Around returns a lane's spans of the traces whose first span started between from and to.
func (s *Sink) Around(_ context.Context, lane string, from, to time.Time) ([]Span, error) {
	traces := ByTrace(s.Spans(lane))
	var out []Span
	for _, tr := range traces {
		first := tr[0].StartTimestamp().AsTime()
		for _, sp := range tr {
			if t := sp.StartTimestamp().AsTime(); t.Before(first) {
				first = t
			}
		}
		if !first.Before(from) && !first.After(to) {
			out = append(out, tr...)
		}
	}
	return out, nil
}
