package compare

import (
	"slices"
	"time"

	"github.com/zerocodelab/lab/e2e/spans"
)

// slack is how far a SERVER span may start before its CLIENT call, or end after it, and still be the
// one that answered it: both come from the same machine's clock, read in two processes.
const slack = 2 * time.Millisecond

// Relate finds the traces that answered the calls of trace when the lane's instrumentation could not
// carry the trace context across: the called service then starts a trace of its own. For each CLIENT
// span of trace with no SERVER span under it, it looks among others (the lane's spans around that time)
// for a trace whose root is a SERVER span of the called service, for the called path, inside the call's
// time. The answer maps the CLIENT span's id to that trace's spans. The traces it adds are searched in
// turn, so a call made by an answering service is followed too.
func Relate(trace, others []spans.Span) map[string][]spans.Span {
	candidates := spans.ByTrace(others)
	for _, sp := range trace {
		delete(candidates, sp.TraceID().String())
	}
	related := map[string][]spans.Span{}
	queue := trace
	for len(queue) > 0 {
		var next []spans.Span
		for _, call := range unanswered(queue) {
			id, ok := answering(call, candidates)
			if !ok {
				continue
			}
			related[call.SpanID().String()] = candidates[id]
			next = append(next, candidates[id]...)
			delete(candidates, id)
		}
		queue = next
	}
	return related
}

// Unanswered lists the calls (CLIENT spans to a service of the shop) of a checkout's trace and of the
// traces related to its calls (Relate's map) that neither a SERVER span of the same trace nor a related
// trace answers.
func Unanswered(trace []spans.Span, related map[string][]spans.Span) []spans.Span {
	all := slices.Clone(trace)
	for _, r := range related {
		all = append(all, r...)
	}
	return slices.DeleteFunc(unanswered(all), func(call spans.Span) bool {
		_, ok := related[call.SpanID().String()]
		return ok
	})
}

// unanswered lists the CLIENT spans of trace that no SERVER span of trace has as its parent.
func unanswered(trace []spans.Span) []spans.Span {
	answered := map[string]bool{}
	for _, sp := range trace {
		if isServer(sp) {
			answered[sp.ParentSpanID().String()] = true
		}
	}
	var out []spans.Span
	for _, sp := range trace {
		if isClient(sp) && !answered[sp.SpanID().String()] && upstreamOf(pathOf(sp)) != "" {
			out = append(out, sp)
		}
	}
	return out
}

// answering returns the id of the candidate trace whose root SERVER span answered call: the called
// service, the same path, inside the call's time; the closest start wins.
func answering(call spans.Span, candidates map[string][]spans.Span) (string, bool) {
	path := pathOf(call)
	service := upstreamOf(path)
	from := call.StartTimestamp().AsTime().Add(-slack)
	to := call.EndTimestamp().AsTime().Add(slack)
	best, bestGap := "", time.Duration(-1)
	for id, tr := range candidates {
		root, ok := serverRoot(tr)
		if !ok || root.Service != service || pathOf(root) != path {
			continue
		}
		start, end := root.StartTimestamp().AsTime(), root.EndTimestamp().AsTime()
		if start.Before(from) || end.After(to) {
			continue
		}
		if gap := start.Sub(call.StartTimestamp().AsTime()).Abs(); bestGap < 0 || gap < bestGap {
			best, bestGap = id, gap
		}
	}
	return best, bestGap >= 0
}

// serverRoot returns a trace's only root when it is a SERVER span.
func serverRoot(trace []spans.Span) (spans.Span, bool) {
	ids := map[string]bool{}
	for _, sp := range trace {
		ids[sp.SpanID().String()] = true
	}
	var root spans.Span
	roots := 0
	for _, sp := range trace {
		if !ids[sp.ParentSpanID().String()] {
			root = sp
			roots++
		}
	}
	return root, roots == 1 && isServer(root)
}
