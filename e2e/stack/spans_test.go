package stack

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/wait"
)

// The Tempo stand-in, run natively with its real configuration, writes what it receives; spans.ReadFile reads
// it back with the attributes typed as they were sent, and Losses matches checkouts to gateway spans.
func TestTempoStandInFileReadsBackAndCountsLosses(t *testing.T) {
	bin, err := filepath.Abs("../../build/tempo-standin/otelcol-tempo-standin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the Tempo stand-in is not built: run make tempo-standin (%v)", err)
	}
	file := filepath.Join(t.TempDir(), "traces.jsonl")
	addrs, err := native.FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := addrs[0]
	cmd := exec.Command(bin, "--config", "tempo-standin/config.yaml")
	cmd.Env = append(os.Environ(), "OTLP_GRPC_ENDPOINT="+addr, "TRACES_FILE="+file)
	out := &report.Log{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	received := Sent{Lane: "manual", TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "00f067aa0ba902b7", Status: 201}
	missing := Sent{Lane: "manual", TraceID: "1af7651916cd43dd8448eb211c80319c", SpanID: "10f067aa0ba902b7", Status: 201}
	unanswered := Sent{Lane: "manual", TraceID: "2af7651916cd43dd8448eb211c80319c", SpanID: "20f067aa0ba902b7"}
	// Its gateway span arrives in a trace of its own, as the child of the client's span.
	misparented := Sent{Lane: "manual", TraceID: "3af7651916cd43dd8448eb211c80319c", SpanID: "30f067aa0ba902b7", Status: 201}
	ctx := context.Background()
	err = wait.Eventually(ctx, "the stand-in accepts an export", 20*time.Second, 200*time.Millisecond, func() error {
		_, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(gatewaySpan(received.TraceID, received.SpanID)))
		return err
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}

	other := gatewaySpan("4af7651916cd43dd8448eb211c80319c", misparented.SpanID)
	if _, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(other)); err != nil {
		t.Fatal(err)
	}
	var got []spans.Span
	err = wait.Eventually(ctx, "both spans in the stand-in's file", 10*time.Second, 100*time.Millisecond, func() error {
		got, err = spans.ReadFile(file)
		if err == nil && len(got) < 2 {
			err = fmt.Errorf("%d spans so far", len(got))
		}
		return err
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	sp := got[0]
	if sp.Lane != "manual" || sp.Service != "gateway" || sp.Kind() != ptrace.SpanKindServer || sp.Route() != "/api/checkout" {
		t.Errorf("read back lane %q service %q kind %v route %q", sp.Lane, sp.Service, sp.Kind(), sp.Route())
	}
	if v, _ := sp.Attributes().Get("http.response.status_code"); v.Type() != pcommon.ValueTypeInt || v.Int() != 201 {
		t.Errorf("http.response.status_code read back as %v %q; want the int 201", v.Type(), v.AsString())
	}
	if v, _ := sp.Attributes().Get("shop.retries"); v.Type() != pcommon.ValueTypeInt || v.Int() != 0 {
		t.Errorf("an int attribute 0 read back as %v %q; want the int 0", v.Type(), v.AsString())
	}

	losses := Losses([]Sent{received, missing, unanswered, misparented}, got)
	want := Loss{Lane: "manual", Sent: 4, Answered: 3, Received: 1, Misparented: 1}
	if len(losses) != 1 || losses[0] != want || losses[0].Lost() != 1 {
		t.Errorf("Losses = %+v; want [%+v] with 1 lost", losses, want)
	}
}

func gatewaySpan(traceID, parentID string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "gateway")
	rs.Resource().Attributes().PutStr("service.namespace", "manual")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	var tid pcommon.TraceID
	b, _ := hex.DecodeString(traceID)
	copy(tid[:], b)
	sp.SetTraceID(tid)
	var parent pcommon.SpanID
	b, _ = hex.DecodeString(parentID)
	copy(parent[:], b)
	sp.SetParentSpanID(parent)
	sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	sp.SetName("POST /api/checkout")
	sp.SetKind(ptrace.SpanKindServer)
	sp.Attributes().PutStr("http.route", "/api/checkout")
	sp.Attributes().PutInt("http.response.status_code", 201)
	sp.Attributes().PutInt("shop.retries", 0)
	now := time.Now()
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Millisecond)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	return td
}
