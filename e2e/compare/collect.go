package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zerocodelab/lab/e2e/checkout"
	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/wait"
)

// Source is where the lanes' spans are read: Tempo's HTTP API, or the end-to-end run's own sink.
type Source interface {
	// Trace returns the spans of one trace; none, and no error, while the backend has none of it.
	Trace(ctx context.Context, traceID string) ([]spans.Span, error)
	// Around returns a lane's spans of the traces that started between from and to.
	Around(ctx context.Context, lane string, from, to time.Time) ([]spans.Span, error)
}

// Signals are the other backends a lane's checkout is looked up in.
type Signals interface {
	// Logs counts the log lines of a lane that carry a trace id.
	Logs(ctx context.Context, lane, traceID string) (Signal, error)
	// RED counts a lane's request-count series.
	RED(ctx context.Context, lane string) (Signal, error)
	// Kept says what share of a lane's requests tail sampling keeps; Detail "" where there is none.
	Kept(ctx context.Context, lane string) (Signal, error)
}

// Lab sends the same checkout to every lane and collects what each lane's instrumentation made of it.
type Lab struct {
	Lanes    []Lane
	Client   *http.Client
	Source   Source
	Signals  Signals          // nil: logs and metrics are not looked up
	Verdicts []doctor.Verdict // the doctor's, where the lanes run; nil when it could not run there
	// A trace counts as complete once it has kept the same number of spans for Settle; a lane whose
	// trace is still empty or growing after Timeout is shown as it is, with the reason.
	Settle, Timeout time.Duration
	// SpanDelay is how long after a request ends its spans can take to be found in the trace backend:
	// the senders' batch delay (OTEL_BSP_SCHEDULE_DELAY of the lanes in docker-compose.yml), the
	// Collector's queue, Tempo's search (native.SpanDelay reads them all). Until then a trace is not
	// complete, however still it looks, and the traces answering its calls are awaited; past it (and
	// Settle), what is missing is reported as a wait that ran out, not as a "no".
	SpanDelay time.Duration
}

// Compare sends one checkout of the scenario to every lane, one lane after the other so that their
// spans do not overlap in time, then reads every lane's trace, logs and metrics at once.
func (l *Lab) Compare(ctx context.Context, sc Scenario) Matrix {
	results := make([]Result, len(l.Lanes))
	for i, lane := range l.Lanes {
		results[i] = l.send(ctx, lane, sc)
	}
	var wg sync.WaitGroup
	for i := range results {
		if results[i].Off != "" {
			continue
		}
		wg.Go(func() { l.collect(ctx, &results[i]) })
	}
	wg.Wait()
	return Build(sc, results, l.Verdicts)
}

// send makes the checkout with a traceparent of its own, as a client starting a trace would.
func (l *Lab) send(ctx context.Context, lane Lane, sc Scenario) Result {
	tp := checkout.NewTraceparent()
	r := Result{Lane: lane, TraceID: tp.TraceID}
	order := checkout.Order{SKU: "espresso-beans", Quantity: 1, Scenario: sc.Name, IdempotencyKey: "compare-" + tp.TraceID[:16]}
	req, err := checkout.Request(ctx, lane.Gateway, order, tp)
	if err != nil {
		r.Off = fmt.Sprintf("gateway %q: %v", lane.Gateway, err)
		return r
	}
	r.Sent = time.Now()
	resp, err := l.Client.Do(req)
	if err != nil {
		r.Off = fmt.Sprintf("not running: its gateway %s does not answer (%v)", lane.Gateway, err)
		return r
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.Latency, r.Status = time.Since(r.Sent), resp.StatusCode
	return r
}

// aroundSlack widens the time of a checkout when looking for the traces its calls started: they start
// inside it, on clocks that may differ a little from this one.
const aroundSlack = 250 * time.Millisecond

// collect reads a lane's trace until it stops growing, the spans around it, then its logs and metrics.
func (l *Lab) collect(ctx context.Context, r *Result) {
	// Every span of the checkout has left its sender and the Collector by then.
	exported := r.Sent.Add(r.Latency + l.SpanDelay)
	if r.Lane.Observer == None {
		// Nothing should come: look once, after the time a span would need to arrive.
		sleep(ctx, time.Until(exported)+l.Settle)
		r.Trace, r.Missing = l.readOnce(ctx, r.TraceID)
	} else {
		r.Trace, r.Missing, r.Absent = l.readStable(ctx, r.TraceID, exported)
	}
	if len(r.Trace) > 0 && len(unanswered(r.Trace)) > 0 {
		l.readRelated(ctx, r, exported)
	}
	if l.Signals == nil {
		r.Logs = Signal{Err: "not looked up"}
		r.RED = Signal{Err: "not looked up"}
		r.Kept = Signal{Err: "not looked up"}
		return
	}
	var err error
	if r.Kept, err = l.Signals.Kept(ctx, r.Lane.Name); err != nil {
		r.Kept = Signal{Err: err.Error()}
	}
	r.Logs = l.untilFound(ctx, func() (Signal, error) { return l.Signals.Logs(ctx, r.Lane.Name, r.TraceID) })
	r.RED = l.untilFound(ctx, func() (Signal, error) { return l.Signals.RED(ctx, r.Lane.Name) })
}

func (l *Lab) readOnce(ctx context.Context, traceID string) ([]spans.Span, string) {
	trace, err := l.Source.Trace(ctx, traceID)
	if err != nil {
		return nil, err.Error()
	}
	return trace, ""
}

// readStable reads a trace until the same nonzero number of spans comes back over Settle, and not before
// exported, when the last of its spans has left the senders.
func (l *Lab) readStable(ctx context.Context, traceID string, exported time.Time) (trace []spans.Span, missing string, absent bool) {
	var stableSince time.Time
	err := wait.Eventually(ctx, "trace "+traceID, l.Timeout, l.Settle/4, func() error {
		got, err := l.Source.Trace(ctx, traceID)
		switch {
		case err != nil:
			absent = false
			return err
		case len(got) == 0:
			trace, absent = nil, true
			return errors.New("not in the trace backend")
		case len(got) != len(trace):
			trace, stableSince = got, time.Now()
			return errors.New("still growing")
		case time.Since(stableSince) < l.Settle, time.Now().Before(exported):
			return errors.New("still growing")
		}
		return nil
	})
	if err != nil && len(trace) == 0 {
		return nil, err.Error(), absent
	}
	if err != nil {
		return trace, fmt.Sprintf("still growing after %s", l.Timeout), false
	}
	return trace, "", false
}

// readRelated reads the lane's spans around the checkout until every call of its trace is answered by a
// trace of the called service (a lane that propagates has none unanswered), or until the answers had
// time to arrive: exported, then Settle for the backend. What is still unanswered then is said in
// r.WaitRanOut.
func (l *Lab) readRelated(ctx context.Context, r *Result, exported time.Time) {
	var missing []spans.Span
	err := wait.Eventually(ctx, "the traces answering its calls", time.Until(exported)+l.Settle, l.Settle/4, func() error {
		around, err := l.Source.Around(ctx, r.Lane.Name, r.Sent.Add(-aroundSlack), r.Sent.Add(r.Latency+aroundSlack))
		if err != nil {
			return err
		}
		r.Related = around
		if missing = Unanswered(r.Trace, Relate(r.Trace, around)); len(missing) > 0 {
			return fmt.Errorf("%d calls unanswered", len(missing))
		}
		return nil
	})
	switch {
	case err != nil && len(missing) > 0:
		services := map[string]bool{}
		for _, call := range missing {
			services[upstreamOf(pathOf(call))] = true
		}
		r.WaitRanOut = fmt.Sprintf("the wait ran out: no trace of %s answering %d of its calls %.0f s after the checkout",
			strings.Join(slices.Sorted(maps.Keys(services)), ", "), len(missing), time.Since(r.Sent).Seconds())
	case err != nil: // the backend could not be asked
		r.Missing = "the spans around it: " + err.Error()
	}
}

// untilFound asks a backend until it finds something or the timeout passes: logs and metrics arrive
// after the spans (shipped in batches, scraped every few seconds).
func (l *Lab) untilFound(ctx context.Context, ask func() (Signal, error)) Signal {
	var s Signal
	// What counts is the last answer, found or not, which s keeps; the wait's own error adds nothing.
	wait.Eventually(ctx, "a signal", l.Timeout, time.Second, func() error {
		var err error
		if s, err = ask(); err != nil {
			s = Signal{Err: err.Error()}
			return err
		}
		if s.Count == 0 {
			return errors.New("nothing yet")
		}
		return nil
	})
	return s
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
