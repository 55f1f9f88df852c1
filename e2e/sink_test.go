//go:build e2e

package e2e

import (
	"context"
	"encoding/hex"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the Collector compresses its exports, as Tempo accepts
)

// span is one span as the Collector exported it.
type span struct {
	Service, Lane   string
	TraceID, SpanID string
	ParentID        string
	Name            string
	Kind            tracepb.Span_SpanKind
	Attrs           map[string]string
	Error           bool
	Scope           string
	End             time.Time
}

// traceSink stands in for Tempo, which cannot run here: an OTLP/gRPC trace endpoint that keeps what
// the Collector's otlp_grpc/tempo exporter sends, for the test to read.
type traceSink struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []span
}

func startTraceSink(t *testing.T) (*traceSink, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &traceSink{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, sink)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return sink, ln.Addr().String()
}

func (s *traceSink) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s.spans = append(s.spans, span{
					Service:  res["service.name"],
					Lane:     res["service.namespace"],
					TraceID:  hex.EncodeToString(sp.TraceId),
					SpanID:   hex.EncodeToString(sp.SpanId),
					ParentID: hex.EncodeToString(sp.ParentSpanId),
					Name:     sp.Name,
					Kind:     sp.Kind,
					Attrs:    attrs(sp.Attributes),
					Error:    sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
					Scope:    ss.GetScope().GetName(),
					End:      time.Unix(0, int64(sp.EndTimeUnixNano)),
				})
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// Spans returns a copy of the spans of one lane received so far.
func (s *traceSink) Spans(lane string) []span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []span
	for _, sp := range s.spans {
		if sp.Lane == lane {
			out = append(out, sp)
		}
	}
	return out
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			m[kv.Key] = v.GetStringValue()
		case v.GetIntValue() != 0:
			m[kv.Key] = strconv.FormatInt(v.GetIntValue(), 10)
		case v.GetBoolValue():
			m[kv.Key] = "true"
		default:
			m[kv.Key] = v.String()
		}
	}
	return m
}
