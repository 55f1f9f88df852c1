package summary_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/summary"
)

// laneSpans replays a recorded comparison (a native end-to-end run's spans) and returns each lane's
// spans, the checkout's trace and the spans around it together, with the doctor's verdicts of the
// machine that recorded it.
func laneSpans(t *testing.T, scenario string) (map[string][]spans.Span, []doctor.Verdict) {
	t.Helper()
	rec, err := compare.LoadRecording(filepath.Join("..", "compare", "testdata", scenario+".json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := rec.Replay()
	if err != nil {
		t.Fatal(err)
	}
	byLane := map[string][]spans.Span{}
	for _, r := range m.Results {
		byLane[r.Lane.Name] = append(append([]spans.Span{}, r.Trace...), r.Related...)
	}
	return byLane, rec.Verdicts
}

func TestAutoLaneOfARecordedCheckout(t *testing.T) {
	byLane, verdicts := laneSpans(t, "normal")
	sum := summary.OfAuto("otel-auto", native.Services, byLane["otel-auto"])
	for _, svc := range native.Services {
		if sum.Services[svc].Server == 0 {
			t.Errorf("%s: no SERVER span counted", svc)
		}
	}
	if !sum.Services["gateway"].Routes["/api/checkout"] || !sum.Services["inventory"].Routes["/reservations"] {
		t.Errorf("routes: gateway %v, inventory %v; want /api/checkout and /reservations",
			sum.Services["gateway"].Routes, sum.Services["inventory"].Routes)
	}
	for _, svc := range []string{"catalog", "inventory", "orders"} {
		if sum.Services[svc].SQL == 0 {
			t.Errorf("%s: no SQL span counted", svc)
		}
		if !sum.Upstreams[svc] {
			t.Errorf("no gateway CLIENT span to %s counted in the gateway's trace: %v", svc, sum.Upstreams)
		}
	}
	propagates, why := doctor.Can(verdicts, doctor.AutoPropagation)
	if linked := sum.Linked > 0; linked != propagates {
		t.Errorf("%d of %d traces cross services; the recording machine's doctor says propagation %v (%s)", sum.Linked, sum.Traces, propagates, why)
	}

	// The SDK lane's checkout is one trace across the four services.
	if manual := summary.OfAuto("manual", native.Services, byLane["manual"]); manual.Linked == 0 {
		t.Errorf("the manual lane's %d traces: none crosses services", manual.Traces)
	}
	// The plain lane has nothing to summarize.
	if plain := summary.OfAuto("plain", native.Services, byLane["plain"]); plain.Traces != 0 || plain.Services["gateway"].Server != 0 {
		t.Errorf("the plain lane: %d traces, %d gateway SERVER spans; want none", plain.Traces, plain.Services["gateway"].Server)
	}
}

func TestAutoLaneCountsTheErrorScenariosServerErrors(t *testing.T) {
	byLane, _ := laneSpans(t, "error")
	sum := summary.OfAuto("otel-auto", native.Services, byLane["otel-auto"])
	for _, svc := range []string{"inventory", "gateway"} {
		if sum.Services[svc].ServerErrors == 0 {
			t.Errorf("%s: no SERVER span counted as an error", svc)
		}
	}
	if n := sum.Services["catalog"].ServerErrors; n != 0 {
		t.Errorf("catalog: %d SERVER errors; it answered 200", n)
	}
}

func TestManualLaneCountsSettledCompleteCheckouts(t *testing.T) {
	byLane, _ := laneSpans(t, "normal")
	manual := byLane["manual"]
	sum := summary.OfManual(manual, time.Now())
	if sum.Checkouts != 1 || sum.Complete != 1 || sum.Example != manual[0].TraceID().String() {
		t.Errorf("%d checkouts, %d complete, example %q; want the recorded checkout, complete", sum.Checkouts, sum.Complete, sum.Example)
	}
	// A checkout that had not ended by then is not counted: its spans may still be on their way.
	if early := summary.OfManual(manual, time.Unix(0, 0)); early.Checkouts != 0 {
		t.Errorf("%d checkouts ended before 1970", early.Checkouts)
	}
	// Without one of its services the checkout is not complete.
	var withoutOrders []spans.Span
	for _, sp := range manual {
		if sp.Service != "orders" {
			withoutOrders = append(withoutOrders, sp)
		}
	}
	if s := summary.OfManual(withoutOrders, time.Now()); s.Checkouts != 1 || s.Complete != 0 {
		t.Errorf("without orders' spans: %d checkouts, %d complete; want 1, 0", s.Checkouts, s.Complete)
	}

	rep := &report.Report{}
	if err := sum.Print(rep); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if _, err := rep.WriteTo(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "example trace "+sum.Example) || !strings.Contains(text.String(), "store order") {
		t.Errorf("the report does not show the example trace's tree:\n%s", text.String())
	}
}
