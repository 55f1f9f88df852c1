// Package summary condenses what a lane's instrumentation produced, from its spans, into what the
// end-to-end run reports and checks: spans by service and kind, routes, errors, traces across services,
// and, for the SDK build, how many checkouts are one complete trace.
package summary

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
)

// Service counts one service's spans.
type Service struct {
	Server, Client, SQL int
	Errors              int             // spans of any kind with an error status
	ServerErrors        int             // SERVER spans with an error status
	Routes, Names       map[string]bool // http.route and names of its SERVER spans
}

// Auto is what an auto-instrumentation agent produced in one lane.
type Auto struct {
	Lane      string
	Order     []string            // the services, in the order they are printed
	Services  map[string]*Service // by service name
	Upstreams map[string]bool     // upstreams of the gateway's CLIENT spans parented inside the gateway's trace
	Traces    int
	Linked    int // traces spanning more than one service
}

// upstreamByPath names the service a gateway CLIENT span called, from its URL's path.
var upstreamByPath = map[string]string{"/products": "catalog", "/stock": "inventory", "/reservations": "inventory", "/orders": "orders"}

// OfAuto summarizes a lane's spans for services; spans of other services are left out.
func OfAuto(lane string, services []string, laneSpans []spans.Span) Auto {
	sum := Auto{Lane: lane, Order: services, Services: map[string]*Service{}, Upstreams: map[string]bool{}}
	for _, svc := range services {
		sum.Services[svc] = &Service{Routes: map[string]bool{}, Names: map[string]bool{}}
	}
	byID := map[string]spans.Span{}
	for _, sp := range laneSpans {
		byID[sp.SpanID().String()] = sp
	}
	for _, sp := range laneSpans {
		s, ok := sum.Services[sp.Service]
		if !ok {
			continue
		}
		if sp.IsError() {
			s.Errors++
		}
		switch {
		case sp.Kind() == ptrace.SpanKindServer:
			s.Server++
			s.Names[sp.Name()] = true
			if r := sp.Route(); r != "" {
				s.Routes[r] = true
			}
			if sp.IsError() {
				s.ServerErrors++
			}
		case sp.Attr("db.query.text") != "":
			s.SQL++
		case sp.Kind() == ptrace.SpanKindClient:
			s.Client++
			parent, ok := byID[sp.ParentSpanID().String()]
			if sp.Service != "gateway" || !ok || parent.TraceID() != sp.TraceID() || parent.Service != "gateway" {
				continue
			}
			u := sp.Attr("url.full") + sp.Attr("url.path") + sp.Attr("http.url")
			for prefix, up := range upstreamByPath {
				if strings.Contains(u, prefix) {
					sum.Upstreams[up] = true
				}
			}
		}
	}
	traces := spans.ByTrace(laneSpans)
	sum.Traces = len(traces)
	for _, tr := range traces {
		if slices.ContainsFunc(tr, func(sp spans.Span) bool { return sp.Service != tr[0].Service }) {
			sum.Linked++
		}
	}
	return sum
}

// Print writes the summary as the report's table of the lane. by says what observed it; hint whether
// its SERVER spans should carry routes (the Go auto agent's route hint, Beyla's route patterns);
// propagates and why are the doctor's verdict on cross-service links.
func (a Auto) Print(rep *report.Report, by string, hint, propagates bool, why string) {
	rep.Printf("== lane %s (%s) ==\n", a.Lane, by)
	rep.Printf("%-10s %7s  %-34s %7s %5s %7s\n", "service", "SERVER", "http.route on SERVER spans", "CLIENT", "SQL", "errors")
	for _, svc := range a.Order {
		s := a.Services[svc]
		rep.Printf("%-10s %7d  %-34s %7d %5d %7d\n", svc, s.Server, keys(s.Routes), s.Client, s.SQL, s.Errors)
		if !hint {
			rep.Printf("%-10s span names without the hint: %s\n", "", keys(s.Names))
		}
	}
	rep.Printf("gateway CLIENT spans parented in the gateway's trace, by upstream: %s\n", keys(a.Upstreams))
	expected := "none"
	if propagates {
		expected = "some"
	}
	rep.Printf("traces spanning more than one service: %d of %d; expected %s: %s\n\n", a.Linked, a.Traces, expected, why)
}

// Manual is what the SDK build produced for the normal checkouts that ended before a moment.
type Manual struct {
	Checkouts int // normal checkouts that ended in time
	Complete  int // of which one connected trace across the four services with business and SQL spans
	Example   string
	Spans     []spans.Span // the example's spans
}

// OfManual counts the normal checkouts that ended before settled (later ones may still have spans on
// their way: 0.5 s SDK export, 1 s Collector batch) and those that are one connected trace across the
// four services with business and SQL spans.
func OfManual(laneSpans []spans.Span, settled time.Time) Manual {
	var sum Manual
	traces := spans.ByTrace(laneSpans)
	for _, id := range slices.Sorted(maps.Keys(traces)) {
		tr := traces[id]
		if !SettledCheckout(tr, settled) {
			continue
		}
		sum.Checkouts++
		if complete(tr) {
			sum.Complete++
			sum.Example, sum.Spans = id, tr
		}
	}
	return sum
}

// complete reports whether a checkout's trace has one root (its parent is the load generator's span,
// outside the trace), spans of all four services, its business spans and at least 7 SQL spans.
func complete(tr []spans.Span) bool {
	services, names, ids := map[string]bool{}, map[string]bool{}, map[string]bool{}
	sql := 0
	for _, sp := range tr {
		services[sp.Service] = true
		names[sp.Name()] = true
		ids[sp.SpanID().String()] = true
		if sp.Attr("db.system.name") == "sqlite" {
			sql++
		}
	}
	roots := 0
	for _, sp := range tr {
		if !ids[sp.ParentSpanID().String()] {
			roots++
		}
	}
	return len(services) == 4 && roots == 1 && sql >= 7 && names["price lookup"] && names["reserve stock"] && names["store order"]
}

// SettledCheckout reports whether a trace holds a normal checkout's business span that ended before settled.
func SettledCheckout(tr []spans.Span, settled time.Time) bool {
	return slices.ContainsFunc(tr, func(sp spans.Span) bool {
		return sp.Name() == "checkout" && sp.Attr("shop.scenario") == "normal" && sp.EndTimestamp().AsTime().Before(settled)
	})
}

// Print writes the summary and the example trace's tree into the report.
func (m Manual) Print(rep *report.Report) error {
	rep.Printf("== lane manual (OpenTelemetry SDK) ==\n")
	rep.Printf("normal checkouts (ended 5 s before the check): %d, of which one connected trace across 4 services with business and SQL spans: %d\n", m.Checkouts, m.Complete)
	if m.Example != "" {
		rep.Printf("example trace %s:\n", m.Example)
		var tree bytes.Buffer
		if err := compare.WriteTree(&tree, compare.BuildTree(m.Example, m.Spans, nil)); err != nil {
			return fmt.Errorf("draw trace %s: %w", m.Example, err)
		}
		rep.Printf("%s", tree.String())
	}
	rep.Printf("\n")
	return nil
}

// keys lists a set's members, sorted, separated by spaces.
func keys(set map[string]bool) string { return strings.Join(slices.Sorted(maps.Keys(set)), " ") }
