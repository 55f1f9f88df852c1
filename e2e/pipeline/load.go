package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"

	"github.com/zerocodelab/lab/e2e/spans"
)

// Load sends spans to a Collector over OTLP/gRPC, each span with an id of its own (its number), and keeps
// which of them the Collector acknowledged. Safe for concurrent use.
type Load struct {
	client     ptraceotlp.GRPCClient
	lane       string // the resource's service.namespace, to find the spans in a sink
	perRequest int

	mu            sync.Mutex
	next          uint64          // the number of the next span
	acked         map[uint64]bool // span numbers in acknowledged requests
	sent, refused int             // spans
}

// NewLoad sends through conn, perRequest spans a request, with lane as their service.namespace.
func NewLoad(conn *grpc.ClientConn, lane string, perRequest int) *Load {
	return &Load{client: ptraceotlp.NewGRPCClient(conn), lane: lane, perRequest: perRequest, next: 1, acked: map[uint64]bool{}}
}

// Send sends one request and reports whether the Collector acknowledged all of its spans. Any error,
// partial rejection or missing answer (a Collector killed mid-request) counts its spans as refused: the
// sender was not told they were taken.
func (l *Load) Send(ctx context.Context) error {
	l.mu.Lock()
	first := l.next
	l.next += uint64(l.perRequest)
	l.sent += l.perRequest
	l.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := l.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(l.traces(first)))
	if err == nil && resp.PartialSuccess().RejectedSpans() > 0 {
		err = fmt.Errorf("%d spans rejected: %s", resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.refused += l.perRequest
		return err
	}
	for n := first; n < first+uint64(l.perRequest); n++ {
		l.acked[n] = true
	}
	return nil
}

// Run sends from workers goroutines at once, as fast as the Collector answers, until ctx ends.
func (l *Load) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				l.Send(ctx) // counted by Send; a refusal is what the load is there to see
			}
		})
	}
	wg.Wait()
}

// Lane is the service.namespace of the load's spans.
func (l *Load) Lane() string { return l.lane }

// Acknowledged is the number of spans the Collector acknowledged so far.
func (l *Load) Acknowledged() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// traces builds a request of spans first, first+1, ...: the span id is the number, the trace id too.
func (l *Load) traces(first uint64) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "pipeline-load")
	rs.Resource().Attributes().PutStr("service.namespace", l.lane)
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	for n := first; n < first+uint64(l.perRequest); n++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(traceID(n))
		sp.SetSpanID(spanID(n))
		sp.SetName("GET /load")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		sp.Attributes().PutStr("http.route", "/load")
		sp.Attributes().PutInt("http.response.status_code", 200)
	}
	return td
}

func spanID(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], n)
	return id
}

func traceID(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

// Tally is what happened to a load's spans, counted once from the load and what the backend received.
type Tally struct {
	Sent, Acknowledged, Refused int // by the Collector, as its answers said
	Received                    int // distinct spans of the load the backend received
	Duplicates                  int // receptions beyond the first of a span: a re-send after a crash
	Lost                        int // acknowledged, never received
	RefusedButReceived          int // refused (or unanswered) and received all the same
}

// Count tallies l against the spans a backend received (spans of other lanes are ignored).
func (l *Load) Count(received []spans.Span) Tally {
	seen := map[uint64]int{}
	for _, sp := range received {
		if sp.Lane != l.lane {
			continue
		}
		id := sp.SpanID()
		seen[binary.BigEndian.Uint64(id[:])]++
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := Tally{Sent: l.sent, Acknowledged: len(l.acked), Refused: l.refused, Received: len(seen)}
	for n, times := range seen {
		t.Duplicates += times - 1
		if !l.acked[n] {
			t.RefusedButReceived++
		}
	}
	for n := range l.acked {
		if seen[n] == 0 {
			t.Lost++
		}
	}
	return t
}

func (t Tally) String() string {
	return fmt.Sprintf("sent %d spans: acknowledged %d, refused %d; the backend received %d (duplicates %d, refused but received %d); acknowledged and lost: %d",
		t.Sent, t.Acknowledged, t.Refused, t.Received, t.Duplicates, t.RefusedButReceived, t.Lost)
}
