package compare

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/zerocodelab/lab/e2e/spans"
)

// replayed is the recorded otel-auto lane of a scenario (recorded under lockdown: one trace per service),
// moved to now: the checkout's result as sent, its own trace, and the traces that answered its calls.
func replayed(t *testing.T, scenario string) (Result, []spans.Span, []spans.Span) {
	t.Helper()
	rec, err := LoadRecording(filepath.Join("testdata", scenario+".json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rec.Lanes {
		if l.Lane.Name != "otel-auto" {
			continue
		}
		r, err := l.Decode()
		if err != nil {
			t.Fatal(err)
		}
		var answers []spans.Span
		for _, tr := range Relate(r.Trace, r.Related) {
			answers = append(answers, tr...)
		}
		if len(answers) == 0 {
			t.Fatalf("%s: the recorded otel-auto checkout has no related trace", scenario)
		}
		shift := time.Since(r.Sent)
		for _, sp := range append(r.Trace, answers...) {
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(sp.StartTimestamp().AsTime().Add(shift)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(sp.EndTimestamp().AsTime().Add(shift)))
		}
		sent := Result{Lane: r.Lane, Status: r.Status, Sent: r.Sent.Add(shift), Latency: r.Latency, TraceID: r.TraceID}
		return sent, r.Trace, answers
	}
	t.Fatalf("%s: no otel-auto lane recorded", scenario)
	return Result{}, nil, nil
}

func export(t *testing.T, sink *spans.Sink, list []spans.Span) {
	t.Helper()
	td := ptrace.NewTraces()
	spans.ToTraces(list).CopyTo(td)
	if _, err := sink.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatal(err)
	}
}

// The traces of the called services arrive after the gateway's (their agents export on their own, every
// few seconds): the lab waits for them as long as SpanDelay says, and its cells are those of the
// whole recording.
func TestCollectWaitsForTheCalledServicesTraces(t *testing.T) {
	sent, trace, answers := replayed(t, "error")
	sink := &spans.Sink{}
	export(t, sink, trace)
	time.AfterFunc(1500*time.Millisecond, func() { export(t, sink, answers) })

	l := &Lab{Source: sink, Settle: 200 * time.Millisecond, Timeout: 10 * time.Second, SpanDelay: 2 * time.Second}
	r := sent
	began := time.Now()
	l.collect(context.Background(), &r)
	if r.WaitRanOut != "" || r.Missing != "" {
		t.Fatalf("after %s: wait ran out %q, missing %q", time.Since(began).Round(time.Millisecond), r.WaitRanOut, r.Missing)
	}
	sc, _ := ScenarioNamed("error")
	m := Build(sc, []Result{r}, nil)
	for _, c := range []Capability{RouteNames, SQLSpans, ErrorMarked} {
		if cell := m.Cell(c, "otel-auto"); cell.Verdict != Yes {
			t.Errorf("%s: %s %q; want yes, as in the recording", c, cell.Verdict, cell.Reason)
		}
	}
}

// When the traces of the called services never come, the cells that need them say that the wait ran
// out, not "no", and the wait ends once the spans had time to arrive.
func TestCollectSaysWhenTheWaitRanOut(t *testing.T) {
	sent, trace, _ := replayed(t, "error")
	sink := &spans.Sink{}
	export(t, sink, trace)

	l := &Lab{Source: sink, Settle: 200 * time.Millisecond, Timeout: 10 * time.Second, SpanDelay: time.Second}
	r := sent
	began := time.Now()
	l.collect(context.Background(), &r)
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the wait took %s; the spans had time to arrive after SpanDelay and Settle", took)
	}
	if !strings.HasPrefix(r.WaitRanOut, "the wait ran out: no trace of ") {
		t.Fatalf("WaitRanOut %q", r.WaitRanOut)
	}
	sc, _ := ScenarioNamed("error")
	m := Build(sc, []Result{r}, nil)
	for _, c := range []Capability{RouteNames, SQLSpans} {
		cell := m.Cell(c, "otel-auto")
		if cell.Verdict != Unknown || !strings.Contains(cell.Reason, "the wait ran out") {
			t.Errorf("%s: %s %q; want unknown, saying the wait ran out", c, cell.Verdict, cell.Reason)
		}
	}
	if cell := m.Cell(ClientTrace, "otel-auto"); cell.Verdict != Yes {
		t.Errorf("%s needs no related trace: %s %q", ClientTrace, cell.Verdict, cell.Reason)
	}
}

// A trace the backend does not have, in a stack with tail sampling, may be one the samplers dropped: the
// cell says so. A backend that could not be asked says nothing of sampling.
func TestMissingTraceMentionsSamplingOnlyWhenTheBackendAnswered(t *testing.T) {
	sc, _ := ScenarioNamed("normal")
	kept := Signal{Count: 31, Detail: "31 % of the lane's requests in the last 5 min (31 of 100)"}
	lane := Lane{Name: "manual", Observer: SDK, Gateway: "http://127.0.0.1:1"}
	for _, tc := range []struct {
		r    Result
		want bool
	}{
		{Result{Lane: lane, Status: 201, TraceID: "aa", Missing: "not in the trace backend", Absent: true, Kept: kept}, true},
		{Result{Lane: lane, Status: 201, TraceID: "aa", Missing: "connection refused", Kept: kept}, false},
		{Result{Lane: lane, Status: 201, TraceID: "aa", Missing: "not in the trace backend", Absent: true}, false},
	} {
		cell := Build(sc, []Result{tc.r}, nil).Cell(RouteNames, "manual")
		if got := strings.Contains(cell.Reason, "may be one it dropped"); got != tc.want || cell.Verdict != No {
			t.Errorf("absent %v, kept %q: %s %q", tc.r.Absent, tc.r.Kept.Detail, cell.Verdict, cell.Reason)
		}
		if s := Build(sc, []Result{tc.r}, nil).Cell(Sampled, "manual"); (s.Verdict == Value) != (tc.r.Kept.Detail != "") {
			t.Errorf("kept %q: sampling row %s %q", tc.r.Kept.Detail, s.Verdict, s.Reason)
		}
	}
}
