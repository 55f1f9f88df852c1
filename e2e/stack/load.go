package stack

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/zerocodelab/lab/e2e/checkout"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
)

// Sent is one checkout the run sent itself, with the trace id of the traceparent it carried, so that
// its spans can be found.
type Sent struct {
	Lane, Phase     string
	TraceID, SpanID string // of the traceparent sent: the gateway's SERVER span is the child of SpanID
	Status          int    // 0 when no answer came
	At              time.Time
}

// Answered reports whether the shop answered (any status): the request was served, so an instrumented
// lane owes a span for it.
func (s Sent) Answered() bool { return s.Status != 0 }

// Checkout sends one normal checkout to a gateway with a traceparent of its own.
func Checkout(ctx context.Context, client *http.Client, lane, gateway string) Sent {
	return CheckoutOf(ctx, client, lane, gateway, "normal")
}

// CheckoutOf sends one checkout of a scenario to a gateway with a traceparent of its own.
func CheckoutOf(ctx context.Context, client *http.Client, lane, gateway, scenario string) Sent {
	tp := checkout.NewTraceparent()
	s := Sent{Lane: lane, TraceID: tp.TraceID, SpanID: tp.SpanID, At: time.Now()}
	req, err := checkout.Request(ctx, gateway, checkout.Order{SKU: "ceramic-mug", Quantity: 1, Scenario: scenario}, tp)
	if err != nil {
		return s
	}
	resp, err := client.Do(req)
	if err != nil {
		return s
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	s.Status = resp.StatusCode
	return s
}

// Tracker sends checkouts to each lane's gateway at a steady pace, remembering each under the phase
// the run is in when it is sent.
type Tracker struct {
	Client   *http.Client
	Gateways map[string]string // lane -> gateway base URL

	mu    sync.Mutex
	phase string
	sent  []Sent
}

// Phase names what the run is doing from now on (a fault, or steady state).
func (t *Tracker) Phase(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.phase = name
}

// Run sends one checkout per lane every interval until ctx ends.
func (t *Tracker) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		var wg sync.WaitGroup
		for lane, gw := range t.Gateways {
			wg.Go(func() {
				t.mu.Lock()
				phase := t.phase
				t.mu.Unlock()
				s := Checkout(ctx, t.Client, lane, gw)
				s.Phase = phase
				if ctx.Err() != nil {
					return // cut off by the end of the run, not by the stack
				}
				t.mu.Lock()
				t.sent = append(t.sent, s)
				t.mu.Unlock()
			})
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sent returns every checkout sent so far.
func (t *Tracker) Sent() []Sent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.sent)
}

// SentIn returns the checkouts sent so far in one phase.
func (t *Tracker) SentIn(phase string) []Sent {
	var out []Sent
	for _, s := range t.Sent() {
		if s.Phase == phase {
			out = append(out, s)
		}
	}
	return out
}

// Loss counts, for one lane and phase, the checkouts sent, those the shop answered, and those whose
// gateway SERVER span reached the trace backend: in the trace the client started, or (Misparented)
// as the child of the client's span but in another trace, which would mean the traceparent was misread.
type Loss struct {
	Lane, Phase              string
	Sent, Answered, Received int
	Misparented              int
}

// Lost is how many answered checkouts have no span in the backend.
func (l Loss) Lost() int { return l.Answered - l.Received - l.Misparented }

// Losses matches what was sent against the spans received, per lane and phase, in the order phases began.
func Losses(sent []Sent, received []spans.Span) []Loss {
	traces := map[string]bool{}  // lane/trace id of gateway SERVER spans
	parents := map[string]bool{} // lane/parent span id of the same
	for _, sp := range received {
		if sp.Service == "gateway" && sp.Kind() == ptrace.SpanKindServer {
			traces[sp.Lane+"/"+sp.TraceID().String()] = true
			parents[sp.Lane+"/"+sp.ParentSpanID().String()] = true
		}
	}
	var out []Loss
	index := map[string]int{}
	for _, s := range sent {
		key := s.Lane + "/" + s.Phase
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, Loss{Lane: s.Lane, Phase: s.Phase})
		}
		out[i].Sent++
		if s.Answered() {
			out[i].Answered++
			switch {
			case traces[s.Lane+"/"+s.TraceID]:
				out[i].Received++
			case parents[s.Lane+"/"+s.SpanID]:
				out[i].Misparented++
			}
		}
	}
	return out
}

// PrintLosses writes the loss table: per lane and phase, checkouts sent, answered, and received as spans.
func PrintLosses(r *report.Report, losses []Loss) {
	r.Printf("%-10s %-24s %6s %9s %9s %12s %6s\n", "lane", "phase", "sent", "answered", "received", "other trace", "lost")
	for _, l := range losses {
		r.Printf("%-10s %-24s %6d %9d %9d %12d %6d\n", l.Lane, l.Phase, l.Sent, l.Answered, l.Received, l.Misparented, l.Lost())
	}
}
