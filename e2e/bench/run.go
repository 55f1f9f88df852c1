package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/native"
)

// Plan is what a bench run does.
type Plan struct {
	Rounds    int
	Workloads []Workload
	// Rates are the open-loop rates, as fractions of the plain lane's throughput at saturation (measured
	// first, alone), so that every lane gets the same absolute rate.
	Rates         []float64
	AttachTimeout time.Duration
	// Capacity are the rates, in spans a second, at which telemetrygen loads the Collector after the
	// lanes, until one loses spans; none skips that part.
	Capacity     []float64
	Telemetrygen string
	// HTTPSenders adds otel-auto-http and manual-http: the same lanes with OTLP/HTTP senders instead of
	// compose's gRPC, to show what the protocol costs.
	HTTPSenders bool
	Progress    io.Writer // a line per measurement
}

// Results are everything a run measured.
type Results struct {
	Plan     Plan
	Duration time.Duration             // of each run
	Workers  int                       // senders at saturation
	Rates    map[string][]float64      // absolute open-loop rates by workload
	Alone    []Sample                  // the plain lane before any other lane, agent or Collector ran
	Together []Sample                  // every lane, in interleaved rounds
	Attach   []time.Duration           // how long each agent took to its loaded line
	Beyla    *native.Beyla             // the beyla lane's Beyla, nil where none ran
	RSS      map[string]map[Part]int64 // resident memory at the end, by lane and part ("" for the Collector)
	Capacity []Step                    // the Collector under telemetrygen, rate by rate
}

// Run measures plain alone, starts the other lanes, and measures every lane in Plan.Rounds rounds, each
// round in another order (A B C, B C A, C A B, ...) so that drifts of a shared, noisy machine fall on
// every lane alike.
func Run(ctx context.Context, lab *Lab, r *Runner, plan Plan) (*Results, error) {
	res := &Results{Plan: plan, Duration: r.Duration, Workers: r.Workers, Rates: map[string][]float64{},
		RSS: map[string]map[Part]int64{}}
	plain := lab.Subjects[0]
	progress := func(s Sample, phase string) {
		fmt.Fprintf(plan.Progress, "%-8s round %d  %-9s %-9s %7.0f req/s  services %s/req\n",
			phase, s.Round, s.Lane, s.Workload, s.Saturation.Throughput(), micros(s.CPU[Services]))
	}

	// The rates: a fraction of what plain sustains, measured once before anything else.
	for _, w := range plan.Workloads {
		s, err := r.Measure(ctx, plain, w, 0, nil)
		if err != nil {
			return res, fmt.Errorf("calibrate: %w", err)
		}
		for _, f := range plan.Rates {
			res.Rates[w.Name] = append(res.Rates[w.Name], f*s.Saturation.Throughput())
		}
		fmt.Fprintf(plan.Progress, "calibrate %s: plain answers %.0f req/s at saturation; open-loop rates %.0f req/s\n",
			w.Name, s.Saturation.Throughput(), res.Rates[w.Name])
	}

	for round := 1; round <= plan.Rounds; round++ {
		for _, w := range plan.Workloads {
			s, err := r.Measure(ctx, plain, w, round, res.Rates[w.Name])
			if err != nil {
				return res, err
			}
			progress(s, "alone")
			res.Alone = append(res.Alone, s)
		}
	}

	if err := lab.StartOthers(ctx, plan.AttachTimeout, plan.HTTPSenders); err != nil {
		return res, err
	}
	r.Collector, r.Spans = lab.Collector, lab.Spans
	for _, s := range lab.Subjects {
		for _, a := range s.Agents {
			res.Attach = append(res.Attach, a.Attach)
		}
		if s.Beyla != nil {
			res.Beyla = s.Beyla
		}
	}
	for round := 1; round <= plan.Rounds; round++ {
		order := rotate(lab.Subjects, round-1)
		for _, w := range plan.Workloads {
			for _, subject := range order {
				s, err := r.Measure(ctx, subject, w, round, res.Rates[w.Name])
				if err != nil {
					return res, err
				}
				progress(s, "together")
				res.Together = append(res.Together, s)
			}
		}
	}

	for _, s := range lab.Subjects {
		rss := map[Part]int64{}
		for _, p := range s.Lane.Procs {
			n, err := p.RSS()
			if err != nil {
				return res, err
			}
			rss[Services] += n
		}
		for _, a := range s.Agents {
			n, err := a.RSS()
			if err != nil {
				return res, err
			}
			rss[Agents] += n
		}
		if s.Beyla != nil {
			n, err := s.Beyla.RSS()
			if err != nil {
				return res, err
			}
			rss[Agents] += n
		}
		res.RSS[s.Lane.Name] = rss
	}
	if n, err := lab.Collector.RSS(); err == nil {
		res.RSS[""] = map[Part]int64{Collector: n}
	}
	if len(plan.Capacity) > 0 {
		steps, err := lab.Capacity(ctx, plan.Telemetrygen, plan.Capacity, r.Duration, 20*time.Second)
		res.Capacity = steps
		for _, s := range steps {
			fmt.Fprintf(plan.Progress, "capacity %6.0f spans/s: made %d, accepted %d, refused %d, delivered %d\n",
				s.Rate, s.Generated, s.Accepted, s.Refused, s.Delivered)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// rotate returns list starting at its k-th element, wrapping around.
func rotate[T any](list []T, k int) []T {
	k %= len(list)
	return append(append([]T{}, list[k:]...), list[:k]...)
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

// StrayPerRequest is how many uprobe hits and spans a request of the plain lane may show: the kernel
// counts hits machine-wide, and the idle lanes' own background work (the inventory's sweep of expired
// reservations, its SQL, which Beyla traces) fires their probes while plain is measured. A probe of
// another lane on plain's binaries would fire at least once a request, on the HTTP handler.
const StrayPerRequest = 0.05

// Check says what would make a run's figures meaningless: a plain lane with uprobe hits or spans (another
// lane's instrumentation reached it), an agent lane without hits or spans, an SDK lane without spans, or
// requests that were not answered 2xx (an overloaded lane measures its errors, not its cost).
func Check(res *Results) error {
	var errs []error
	for _, s := range append(slices.Clone(res.Alone), res.Together...) {
		where := fmt.Sprintf("%s, %s, round %d", s.Lane, s.Workload, s.Round)
		switch {
		case s.Lane == "plain" && (s.ProbeHits >= StrayPerRequest || s.Spans >= StrayPerRequest):
			errs = append(errs, fmt.Errorf("%s: %.3f uprobe hits and %.3f spans a request; plain must have none (fewer than %.2f, the idle lanes' background)", where, s.ProbeHits, s.Spans, StrayPerRequest))
		case (strings.HasPrefix(s.Lane, "otel-auto") || s.Lane == "beyla") && (s.ProbeHits == 0 || s.Spans == 0):
			errs = append(errs, fmt.Errorf("%s: %.1f uprobe hits and %.1f spans a request; the agents were not working", where, s.ProbeHits, s.Spans))
		case strings.HasPrefix(s.Lane, "manual") && s.Spans == 0:
			errs = append(errs, fmt.Errorf("%s: no span reached the trace backend", where))
		}
		failed := s.Saturation.Failed
		for _, l := range s.Latency {
			failed += l.Failed
		}
		if failed > 0 {
			errs = append(errs, fmt.Errorf("%s: %d requests not answered 2xx", where, failed))
		}
	}
	return errors.Join(errs...)
}
