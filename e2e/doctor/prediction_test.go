package doctor

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The doctor predicts each agent lane from the bench's counts: hits at its own trap cost for their kind,
// warm and cold, plus the programs' run time, plus the reader's wakeups at its own wakeup cost; the
// estimate is the middle of warm and cold, set against what the bench measured where the file has it;
// the counts survive their file.
func TestPredictEachAgentLaneFromTheBenchsCounts(t *testing.T) {
	h := ProbeHits{Kernel: "6.18.44", Counted: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), Lanes: map[string]LaneProbes{
		"otel-auto": {Hits: map[string]float64{"checkout": 91}, Stepped: map[string]float64{"checkout": 91}, ProgramTime: map[string]float64{"checkout": 307}, Wakeups: map[string]float64{"checkout": 20},
			Measured: map[string]float64{"checkout": 2780}},
		"beyla": {Hits: map[string]float64{"checkout": 397}, Stepped: map[string]float64{"checkout": 170}, ProgramTime: map[string]float64{"checkout": 900}, Wakeups: map[string]float64{"checkout": 0.06}},
	}}
	path := filepath.Join(t.TempDir(), "probe-hits.json")
	if err := h.Save(path); err != nil {
		t.Fatal(err)
	}
	read, err := ReadProbeHits(path)
	if err != nil {
		t.Fatal(err)
	}
	cost := ProbeCost{Entry: 10 * time.Microsecond, EmulatedEntry: time.Microsecond,
		ColdStepped: 30 * time.Microsecond, ColdEmulated: 3 * time.Microsecond, Wakeup: 20 * time.Microsecond}
	var out strings.Builder
	cost.Predict(&out, read, "6.18.44")
	for _, want := range []string{
		"otel-auto  checkout  2527.0 µs, between 1617.0 µs (warm) and 3437.0 µs (cold); make bench measured 2780.0 µs, 1.10 of the estimate\n",
		"91.0 hits single-stepped, 0.0 emulated; 307.0 µs of its programs; 20.00 wakeups x 20.0 µs",
		"beyla      checkout  4755.2 µs, between 2828.2 µs (warm) and 6682.2 µs (cold)\n", // no measurement in the file
		"170.0 hits single-stepped, 227.0 emulated; 900.0 µs of its programs; 0.06 wakeups x 20.0 µs",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the prediction lacks %q:\n%s", want, out.String())
		}
	}
}
