// Package comparetest holds what each lane of the lab must show in the comparison, as a table, and the
// check that walks it: the compare package's tests use it on recorded fixtures, the native end-to-end
// run on its live lanes.
package comparetest

import (
	"testing"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/doctor"
)

// Want is the verdict each capability must get in a lane. Every lane logs the client's trace id (the
// plain services read it from the traceparent header themselves) and has RED series (the services'
// own metrics; span metrics too where there are spans). No tail sampling runs where Want applies (the
// native run, the recordings, the compose run's default stack): every span is kept. verdicts are the
// doctor's where the lanes ran: whether each agent can carry the trace context there.
func Want(lane string, sc compare.Scenario, verdicts []doctor.Verdict) map[compare.Capability]compare.Verdict {
	want := spanRows(lane, sc, verdicts)
	if want != nil {
		want[compare.Logs], want[compare.RED], want[compare.Latency] = compare.Yes, compare.Yes, compare.Value
		want[compare.Sampled] = compare.NA
	}
	return want
}

// spanRows is what the lane's spans must show.
func spanRows(lane string, sc compare.Scenario, verdicts []doctor.Verdict) map[compare.Capability]compare.Verdict {
	oneTrace := func(a doctor.Agent) compare.Verdict {
		if ok, _ := doctor.CanLink(verdicts, a); ok {
			return compare.Yes
		}
		return compare.No
	}
	errorMarked := compare.NA
	if sc.Fails != "" || sc.Refuses != "" {
		errorMarked = compare.Yes
	}
	switch lane {
	case "plain":
		return map[compare.Capability]compare.Verdict{
			compare.RouteNames: compare.No, compare.Upstreams: compare.No, compare.SQLSpans: compare.No,
			compare.Business: compare.No, compare.OneTrace: compare.No, compare.ClientTrace: compare.No,
			compare.ErrorMarked: compare.No,
		}
	case "otel-auto", "otel-auto-nohint":
		routes := compare.Yes
		if lane == "otel-auto-nohint" {
			routes = compare.No // without ROUTE_PATTERN_HINT the agent cannot know Echo's routes
		}
		return map[compare.Capability]compare.Verdict{
			compare.RouteNames: routes, compare.Upstreams: compare.Yes, compare.SQLSpans: compare.Yes,
			compare.Business: compare.No, compare.OneTrace: oneTrace(doctor.AutoAgent), compare.ClientTrace: compare.Yes,
			compare.ErrorMarked: errorMarked,
		}
	case "beyla":
		// Routes from beyla-config.yml's patterns; links through the socket where lockdown refuses writes.
		return map[compare.Capability]compare.Verdict{
			compare.RouteNames: compare.Yes, compare.Upstreams: compare.Yes, compare.SQLSpans: compare.Yes,
			compare.Business: compare.No, compare.OneTrace: oneTrace(doctor.Beyla), compare.ClientTrace: compare.Yes,
			compare.ErrorMarked: errorMarked,
		}
	case "manual":
		return map[compare.Capability]compare.Verdict{
			compare.RouteNames: compare.Yes, compare.Upstreams: compare.Yes, compare.SQLSpans: compare.Yes,
			compare.Business: compare.Yes, compare.OneTrace: compare.Yes, compare.ClientTrace: compare.Yes,
			compare.ErrorMarked: errorMarked,
		}
	}
	return nil
}

// Check asserts every lane's cells of m against Want, one subtest per lane and capability, so that a
// failure names both. Lanes Want does not know are skipped with a message.
func Check(t *testing.T, m compare.Matrix, verdicts []doctor.Verdict) {
	t.Helper()
	sc, ok := compare.ScenarioNamed(m.Scenario)
	if !ok {
		t.Fatalf("unknown scenario %q", m.Scenario)
	}
	for _, lane := range m.Lanes {
		t.Run(m.Scenario+"/"+lane.Name, func(t *testing.T) {
			want := Want(lane.Name, sc, verdicts)
			if want == nil {
				t.Skipf("no expectations for lane %s", lane.Name)
			}
			for _, c := range compare.Capabilities {
				got := m.Cell(c, lane.Name)
				if got.Verdict != want[c] {
					t.Errorf("%s: %s (%s); want %s", c, got.Verdict, got.Reason, want[c])
				}
			}
		})
	}
}
