package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/proc"
)

// Subject is a lane under measurement: its services and the agents attached to them, if any: one Go
// auto agent per service, or one Beyla for the lane.
type Subject struct {
	Lane   *native.Lane
	Agents []*native.Agent
	Beyla  *native.Beyla
}

// Part is a group of processes whose processor time the bench accounts per request.
type Part string

const (
	Services  Part = "services"  // the lane's four processes, uprobe traps included (the kernel runs them in the traced thread)
	Agents    Part = "agents"    // the lane's agents: reading the probes' events, building and exporting spans
	Collector Part = "collector" // the one Collector all lanes send to: it works only for the lane under load
)

// Parts are the parts in the order reports show them.
var Parts = []Part{Services, Agents, Collector}

// Sample is one measurement of one lane under one workload.
type Sample struct {
	Lane, Workload string
	Round          int
	Saturation     Saturation
	// Per request answered at saturation:
	CPU       map[Part]time.Duration // processor time
	ProbeHits float64                // uprobe hits
	// ... of them, at instructions the kernel single-steps, and at sites it could not sort (ProbeRuns)
	SteppedHits, UnsortedHits float64
	ProbeTime                 time.Duration // time the probes' eBPF programs ran
	Spans                     float64       // spans the trace backend received of the lane
	Latency                   []Latency     // one per rate
}

// Runner measures lanes.
type Runner struct {
	Client    *http.Client
	Workers   int           // concurrent senders at saturation
	Duration  time.Duration // of each run
	Settle    time.Duration // quiet time around the saturation run, longer than the exporters' batching delay
	Collector *proc.Process // nil when the Collector is not running
	Probes    *Probes       // nil when the kernel does not count eBPF program runs
	Spans     *SpanCounter  // nil when the Collector is not running
}

// Measure runs the open-loop runs at each rate, settles, then the saturation run, whose processor time
// is read from the kernel from its start to the end of the settle that follows it: spans batched during
// the run are exported, and worked on by the Collector, in that time. The settle before keeps the
// open-loop runs' telemetry out of the window.
func (r *Runner) Measure(ctx context.Context, s Subject, w Workload, round int, rates []float64) (Sample, error) {
	sample := Sample{Lane: s.Lane.Name, Workload: w.Name, Round: round}
	id := fmt.Sprintf("%s-r%d-%d", s.Lane.Name, round, time.Now().UnixNano())
	for i, rate := range rates {
		runID := fmt.Sprintf("%s-o%d", id, i)
		sample.Latency = append(sample.Latency, openLoop(ctx, r.Client, rate, r.Duration, func(n uint64) (*http.Request, error) {
			return w.Request(s.Lane, runID, n)
		}))
	}
	if len(rates) > 0 {
		sleep(ctx, r.Settle)
	}

	before, err := r.snapshot(s)
	if err != nil {
		return sample, err
	}
	sample.Saturation = saturate(ctx, r.Client, r.Workers, r.Duration, func(n uint64) (*http.Request, error) {
		return w.Request(s.Lane, id+"-s", n)
	})
	sleep(ctx, r.Settle)
	after, err := r.snapshot(s)
	if err != nil {
		return sample, err
	}
	if sample.Saturation.OK == 0 {
		return sample, fmt.Errorf("%s, %s: no request answered 2xx at saturation (%d failed)", s.Lane.Name, w.Name, sample.Saturation.Failed)
	}
	perRequest := func(d time.Duration) time.Duration { return d / time.Duration(sample.Saturation.OK) }
	sample.CPU = map[Part]time.Duration{}
	for _, part := range Parts {
		sample.CPU[part] = perRequest(after.cpu[part] - before.cpu[part])
	}
	ok := float64(sample.Saturation.OK)
	sample.ProbeHits = float64(after.probes.Hits-before.probes.Hits) / ok
	sample.SteppedHits = float64(after.probes.Stepped-before.probes.Stepped) / ok
	sample.UnsortedHits = float64(after.probes.Unsorted-before.probes.Unsorted) / ok
	sample.ProbeTime = perRequest(after.probes.Runtime - before.probes.Runtime)
	sample.Spans = float64(after.spans-before.spans) / ok
	return sample, ctx.Err()
}

type snapshot struct {
	cpu    map[Part]time.Duration
	probes ProbeRuns
	spans  int
}

func (r *Runner) snapshot(s Subject) (snapshot, error) {
	snap := snapshot{cpu: map[Part]time.Duration{}}
	var errs []error
	add := func(part Part, p *proc.Process) {
		d, err := p.CPUTime()
		snap.cpu[part] += d
		errs = append(errs, err)
	}
	for _, p := range s.Lane.Procs {
		add(Services, p)
	}
	for _, a := range s.Agents {
		add(Agents, a.Process)
	}
	if s.Beyla != nil {
		add(Agents, s.Beyla.Process)
	}
	if r.Collector != nil {
		add(Collector, r.Collector)
	}
	if r.Spans != nil {
		snap.spans = r.Spans.Spans(s.Lane.Name)
	}
	if r.Probes != nil {
		runs, err := r.Probes.Read()
		snap.probes = runs
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return snap, fmt.Errorf("read the kernel's accounting: %w", err)
	}
	return snap, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
