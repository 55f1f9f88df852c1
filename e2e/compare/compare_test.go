package compare_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/compare/comparetest"
	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/spans"
)

// load replays the comparison a native end-to-end run recorded for a scenario (make compare-fixtures).
func load(t *testing.T, scenario string) (compare.Matrix, compare.Recording) {
	t.Helper()
	rec, err := compare.LoadRecording(filepath.Join("testdata", scenario+".json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := rec.Replay()
	if err != nil {
		t.Fatal(err)
	}
	return m, rec
}

// The recorded runs' spans give every cell that the table of comparetest expects, for every scenario.
func TestRecordedRunsGiveTheExpectedMatrix(t *testing.T) {
	for _, sc := range compare.Scenarios {
		m, rec := load(t, sc.Name)
		comparetest.Check(t, m, rec.Verdicts)
	}
}

// Where the Go auto agent cannot carry the context (lockdown here), each downstream service's own trace
// is found by time and path and hung under the gateway's CLIENT span that called it.
func TestTracesOfTheCalledServicesAreRelatedToTheirCalls(t *testing.T) {
	m, rec := load(t, "normal")
	if ok, _ := doctor.Can(rec.Verdicts, doctor.AutoPropagation); ok {
		t.Skip("recorded where the agent propagates: nothing to relate")
	}
	tree := m.Trees["otel-auto"]
	related := map[string]int{}
	for i, n := range tree.Nodes {
		if !n.Related || n.Kind != "SERVER" {
			continue
		}
		related[n.Service]++
		parent := parentOf(tree.Nodes, i)
		if parent < 0 || tree.Nodes[parent].Kind != "CLIENT" || tree.Nodes[parent].Service != "gateway" || tree.Nodes[parent].Related {
			t.Errorf("%s's SERVER span %q hangs under %+v; want a CLIENT span of the gateway's own trace", n.Service, n.Name, parent)
		}
	}
	// price, reserve, store, confirm: catalog once, inventory twice, orders once.
	want := map[string]int{"catalog": 1, "inventory": 2, "orders": 1}
	for svc, n := range want {
		if related[svc] != n {
			t.Errorf("related SERVER spans of %s: %d; want %d (all: %v)", svc, related[svc], n, related)
		}
	}
	// The trees share one time axis: every span lies within it.
	for _, lane := range m.Lanes {
		tr := m.Trees[lane.Name]
		for _, n := range tr.Nodes {
			if n.Start < 0 || n.Start+n.Duration > tr.Span {
				t.Errorf("%s: %s %s at %v+%v lies outside the axis %v", lane.Name, n.Service, n.Name, n.Start, n.Duration, tr.Span)
			}
		}
	}
}

func parentOf(nodes []compare.Node, i int) int {
	for j := i - 1; j >= 0; j-- {
		if nodes[j].Depth == nodes[i].Depth-1 {
			return j
		}
	}
	return -1
}

// A trace whose calls were answered inside it (the SDK lane) needs nothing related, even with the
// other lanes' spans of the same moment offered.
func TestRelateLeavesAnsweredCallsAlone(t *testing.T) {
	_, rec := load(t, "normal")
	m, err := rec.Replay()
	if err != nil {
		t.Fatal(err)
	}
	var manual, others []spans.Span
	for _, r := range m.Results {
		if r.Lane.Name == "manual" {
			manual = r.Trace
		}
		others = append(others, r.Related...)
	}
	if len(manual) == 0 {
		t.Fatal("the recording has no manual trace")
	}
	if got := compare.Relate(manual, others); len(got) != 0 {
		t.Errorf("related %d traces to the manual lane's calls; want none", len(got))
	}
}

// A call whose answering trace is missing stays unanswered: Relate never picks the wrong one.
func TestRelateNeverPicksAnotherCallsTrace(t *testing.T) {
	m, _ := load(t, "normal")
	for _, r := range m.Results {
		if r.Lane.Name != "otel-auto" {
			continue
		}
		full := compare.Relate(r.Trace, r.Related)
		if len(full) == 0 {
			t.Skip("nothing related in this recording")
		}
		// Drop the trace that answered one call: that call must then get nothing, the others the same.
		var dropped string
		for call, tr := range full {
			dropped = tr[0].TraceID().String()
			delete(full, call)
			break
		}
		var rest []spans.Span
		for _, sp := range r.Related {
			if sp.TraceID().String() != dropped {
				rest = append(rest, sp)
			}
		}
		got := compare.Relate(r.Trace, rest)
		if len(got) != len(full) {
			t.Errorf("with one answering trace gone, %d calls related; want %d", len(got), len(full))
		}
		for call, tr := range got {
			want, ok := full[call]
			if !ok {
				t.Errorf("call %s related to trace %s; want nothing", call, tr[0].TraceID())
			} else if want[0].TraceID() != tr[0].TraceID() {
				t.Errorf("call %s related to trace %s; want %s", call, tr[0].TraceID(), want[0].TraceID())
			}
		}
	}
}

// A lane that is down is off in every row, with the reason.
func TestALaneThatIsDownIsOffEverywhere(t *testing.T) {
	sc, _ := compare.ScenarioNamed("normal")
	lane := compare.Lane{Name: "beyla", Observer: compare.Beyla, Gateway: "http://127.0.0.1:8081"}
	m := compare.Build(sc, []compare.Result{{Lane: lane, Off: "not running: connection refused"}}, nil)
	for _, c := range compare.Capabilities {
		if cell := m.Cell(c, "beyla"); cell.Verdict != compare.Off || cell.Reason != "not running: connection refused" {
			t.Errorf("%s: %+v; want off with the reason", c, cell)
		}
	}
}

// The writers print every capability for every lane, and each lane's tree.
func TestWritersShowEveryCellAndTree(t *testing.T) {
	m, _ := load(t, "error")
	var text, md, trees bytes.Buffer
	for _, write := range []struct {
		w  *bytes.Buffer
		fn func(*bytes.Buffer, compare.Matrix) error
	}{
		{&text, func(b *bytes.Buffer, m compare.Matrix) error { return compare.WriteText(b, m) }},
		{&md, func(b *bytes.Buffer, m compare.Matrix) error { return compare.WriteMarkdown(b, m) }},
		{&trees, func(b *bytes.Buffer, m compare.Matrix) error { return compare.WriteTrees(b, m) }},
	} {
		if err := write.fn(write.w, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range compare.Capabilities {
		for _, l := range m.Lanes {
			reason := m.Cell(c, l.Name).Reason
			if !strings.Contains(text.String(), reason) {
				t.Errorf("the text lacks %s's %s reason %q", l.Name, c, reason)
			}
			if !strings.Contains(md.String(), strings.ReplaceAll(reason, "|", `\|`)) {
				t.Errorf("the Markdown lacks %s's %s reason %q", l.Name, c, reason)
			}
		}
	}
	if rows := strings.Count(md.String(), "\n| "); rows != len(compare.Capabilities)+1 {
		t.Errorf("the Markdown table has %d rows; want a header and %d capabilities", rows, len(compare.Capabilities))
	}
	for _, l := range m.Lanes {
		if want := len(m.Trees[l.Name].Nodes); want > 0 && !strings.Contains(trees.String(), l.Name+" ("+string(l.Observer)+"): trace ") {
			t.Errorf("the trees lack lane %s", l.Name)
		}
	}
	if !strings.Contains(trees.String(), "ERROR") {
		t.Error("the error scenario's trees mark no error")
	}
}
