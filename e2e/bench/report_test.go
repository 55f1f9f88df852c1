package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/zerocodelab/lab/e2e/doctor"
)

func sample(lane string, round int, ok int, services time.Duration, hits float64) Sample {
	return Sample{
		Lane: lane, Workload: "read", Round: round,
		Saturation: Saturation{OK: ok, Elapsed: time.Second},
		CPU:        map[Part]time.Duration{Services: services},
		ProbeHits:  hits,
		Latency:    []Latency{{Rate: 100, P50: time.Millisecond, P99: time.Duration(round) * time.Millisecond, P999: 9 * time.Millisecond}},
	}
}

// The report's figures are the rounds' medians and their ratios to plain's medians.
func TestReportGivesMediansAndRatiosToPlain(t *testing.T) {
	read, _ := WorkloadByName("read")
	res := &Results{
		Plan:     Plan{Rounds: 3, Workloads: []Workload{read}},
		Duration: time.Second, Workers: 8,
		Rates: map[string][]float64{"read": {100}},
		Together: []Sample{
			sample("plain", 1, 1000, 100*time.Microsecond, 0), sample("plain", 2, 1200, 80*time.Microsecond, 0), sample("plain", 3, 900, 90*time.Microsecond, 0),
			sample("otel-auto", 1, 250, 400*time.Microsecond, 8), sample("otel-auto", 2, 300, 390*time.Microsecond, 8), sample("otel-auto", 3, 200, 420*time.Microsecond, 8),
		},
		Alone: []Sample{sample("plain", 1, 2000, 90*time.Microsecond, 0)},
	}
	var out strings.Builder
	if err := WriteMarkdown(&out, res, Context{Machine: "2 CPUs", NotRun: map[string]string{"beyla": "no kprobes"}}); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	for _, want := range []string{
		"| plain | 1000 [900–1200] | 1.00 | 90 µs [80–100] |",
		"| otel-auto | 250 [200–300] | 0.25 | 400 µs [390–420] |",
		"| 8.0 |", // uprobe hits a request
		"| beyla | not runnable here: no kprobes", // the lane that cannot run, with its reason
		"| read | 2000 | 1000 | 0.50 |",           // plain alone against plain with the others
		"The probe cost was not measured here",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}

func TestCheckRefusesMeaninglessRuns(t *testing.T) {
	good := &Results{Together: []Sample{
		{Lane: "plain", Workload: "read", ProbeHits: 0.002, Spans: 0.001}, // the idle lanes' background
		{Lane: "otel-auto", Workload: "read", ProbeHits: 8, Spans: 2},
		{Lane: "beyla", Workload: "read", ProbeHits: 37, Spans: 4},
		{Lane: "manual", Workload: "read", Spans: 2},
	}}
	if err := Check(good); err != nil {
		t.Fatalf("Check(good) = %v", err)
	}
	for name, bad := range map[string]Sample{
		"probes in plain":      {Lane: "plain", Workload: "read", ProbeHits: 1},
		"spans in plain":       {Lane: "plain", Workload: "read", Spans: 0.5},
		"an agent that slept":  {Lane: "otel-auto", Workload: "read", Spans: 2},
		"a Beyla that slept":   {Lane: "beyla", Workload: "read", ProbeHits: 37},
		"an SDK without spans": {Lane: "manual", Workload: "read"},
		"failed requests":      {Lane: "plain", Workload: "read", Saturation: Saturation{Failed: 3}},
	} {
		if err := Check(&Results{Together: []Sample{bad}}); err == nil {
			t.Errorf("%s: Check found nothing wrong", name)
		}
	}
}

// Each agent lane's extra processor time is predicted from its hits at the doctor's trap cost for their
// kind, warm and cold, its programs' own run time and its reader's wakeups (a span each for the Go auto
// agent, one per 500 events for Beyla) at the doctor's wakeup cost; the estimate, the middle of warm and
// cold, is set against what its services spent more than plain's; hits the bench could not sort are
// counted single-stepped, and said so.
func TestReportPredictsEachAgentLane(t *testing.T) {
	read, _ := WorkloadByName("read")
	withProgram := func(s Sample, stepped float64, prog time.Duration, spans, unsorted float64) Sample {
		s.SteppedHits, s.ProbeTime, s.Spans, s.UnsortedHits = stepped, prog, spans, unsorted
		return s
	}
	res := &Results{
		Plan: Plan{Rounds: 1, Workloads: []Workload{read}}, Duration: time.Second, Workers: 8,
		Rates: map[string][]float64{"read": {100}},
		Together: []Sample{
			sample("plain", 1, 1000, 40*time.Microsecond, 0),
			withProgram(sample("otel-auto", 1, 250, 180*time.Microsecond, 8), 8, 28*time.Microsecond, 4, 0),
			withProgram(sample("beyla", 1, 120, 400*time.Microsecond, 37), 17, 60*time.Microsecond, 5, 2),
		},
	}
	cost := doctor.ProbeCost{Plain: time.Nanosecond, Entry: 10*time.Microsecond + time.Nanosecond, EmulatedEntry: time.Microsecond,
		ColdStepped: 30 * time.Microsecond, ColdEmulated: 3 * time.Microsecond, EvictBytes: 4 << 20, Wakeup: 20 * time.Microsecond}
	var out strings.Builder
	if err := WriteMarkdown(&out, res, Context{Machine: "2 CPUs", ProbeCost: &cost}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| otel-auto | read | 8.0 | 8.0 | 28 µs | 4.00 | 188 µs | 348 µs | 268 µs | 140 µs | 0.52 |",
		"| beyla | read | 37.0 | 17.0 | 60 µs | 0.01 | 250 µs | 630 µs | 440 µs | 360 µs | 0.82 |",
		"Up to 2.0 hits a request came from programs attached at both kinds of site, or at none the kernel lists; they are counted as single-stepped.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}
