package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the Collector compresses its exports
)

// SpanCounter is the trace backend of the bench: an OTLP/gRPC endpoint that counts the spans it receives
// by lane (service.namespace) and keeps nothing, so that a long run holds no memory and takes little
// processor time from what it measures.
type SpanCounter struct {
	ptraceotlp.UnimplementedGRPCServer
	mu     sync.Mutex
	byLane map[string]int
}

// ListenSpanCounter serves a SpanCounter on addr until stop is called.
func ListenSpanCounter(addr string) (c *SpanCounter, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	c = &SpanCounter{byLane: map[string]int{}}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, c)
	go srv.Serve(ln)
	return c, srv.Stop, nil
}

// Export counts the request's spans.
func (c *SpanCounter) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	rss := req.Traces().ResourceSpans()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range rss.Len() {
		rs := rss.At(i)
		lane, _ := rs.Resource().Attributes().Get("service.namespace")
		for j := range rs.ScopeSpans().Len() {
			c.byLane[lane.Str()] += rs.ScopeSpans().At(j).Spans().Len()
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

// Spans is how many spans of lane were received so far.
func (c *SpanCounter) Spans(lane string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byLane[lane]
}

// discard answers every request 204 after reading its body: the log and metric backends of the bench,
// which measures the Collector's work, not Loki's or Prometheus'.
func discard(addr string) (stop func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	return srv.Close, nil
}
