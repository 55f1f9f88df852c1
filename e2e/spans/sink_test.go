package spans

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Spans sent over OTLP/gRPC come back from the sink per lane, grouped by trace, attributes typed as sent.
func TestSinkKeepsSpansAsSent(t *testing.T) {
	sink, addr, stop, err := ListenSink("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	td := ptrace.NewTraces()
	for i, lane := range []string{"manual", "manual", "otel-auto"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "inventory")
		rs.Resource().Attributes().PutStr("service.namespace", lane)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{byte(i + 1), 1})
		sp.SetSpanID(pcommon.SpanID{byte(i), 2})
		sp.SetName("POST /reservations")
		sp.Attributes().PutInt("shop.retries", 0)
		sp.Attributes().PutBool("shop.replayed", false)
		if i == 1 {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	if _, err := ptraceotlp.NewGRPCClient(conn).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatal(err)
	}

	manual := sink.Spans("manual")
	if len(manual) != 2 || len(sink.Spans("otel-auto")) != 1 {
		t.Fatalf("manual %d spans, otel-auto %d; want 2 and 1", len(manual), len(sink.Spans("otel-auto")))
	}
	v, _ := manual[0].Attributes().Get("shop.retries")
	if v.Type() != pcommon.ValueTypeInt || v.Int() != 0 || manual[0].Attr("shop.replayed") != "false" {
		t.Errorf("attributes came back as %v %q and %q; want the int 0 and the bool false", v.Type(), v.AsString(), manual[0].Attr("shop.replayed"))
	}
	if manual[0].IsError() || !manual[1].IsError() || manual[0].Service != "inventory" {
		t.Errorf("status or service lost: %v %v %q", manual[0].IsError(), manual[1].IsError(), manual[0].Service)
	}
	if traces := ByTrace(manual); len(traces) != 2 {
		t.Errorf("ByTrace made %d traces of two spans of two traces", len(traces))
	}
}
