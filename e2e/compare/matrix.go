package compare

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/spans"
)

// Capability is one row of the matrix: something a user wants from instrumentation.
type Capability string

const (
	RouteNames  Capability = "SERVER spans named by route"
	Upstreams   Capability = "CLIENT spans to every upstream"
	SQLSpans    Capability = "SQL spans"
	Business    Capability = "business spans"
	OneTrace    Capability = "one trace across the services"
	ClientTrace Capability = "the client's trace id kept"
	ErrorMarked Capability = "the error marked where it happened"
	Logs        Capability = "log lines found by trace id (Loki)"
	RED         Capability = "RED series (Prometheus)"
	Sampled     Capability = "kept by tail sampling"
	Latency     Capability = "latency of this checkout"
)

// Capabilities are the matrix's rows, in order.
var Capabilities = []Capability{RouteNames, Upstreams, SQLSpans, Business, OneTrace, ClientTrace, ErrorMarked, Logs, RED, Sampled, Latency}

// Verdict is a cell's answer.
type Verdict string

const (
	Yes     Verdict = "yes"
	Partial Verdict = "partial"
	No      Verdict = "no"
	NA      Verdict = "n/a"     // the question does not arise in this scenario
	Value   Verdict = "value"   // the cell is a measurement (the reason holds it)
	Unknown Verdict = "unknown" // a backend could not be asked
	Off     Verdict = "off"     // the lane is not running
)

// Cell is one lane's answer for one capability, with a one-line reason drawn from what was seen.
type Cell struct {
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
}

// Matrix is the comparison of one checkout across lanes.
type Matrix struct {
	Scenario string                         `json:"scenario"`
	Lanes    []Lane                         `json:"lanes"`
	Cells    map[Capability]map[string]Cell `json:"cells"` // by capability, then lane name
	Trees    map[string]Tree                `json:"trees"` // by lane name
	Results  []Result                       `json:"results"`
}

// Cell returns the cell of a capability and a lane.
func (m Matrix) Cell(c Capability, lane string) Cell { return m.Cells[c][lane] }

// Build compares the results of one scenario's checkout across lanes. verdicts are the doctor's on the
// machine the lanes run on, nil when it could not run there; they explain what the kernel prevented.
func Build(sc Scenario, results []Result, verdicts []doctor.Verdict) Matrix {
	m := Matrix{Scenario: sc.Name, Cells: map[Capability]map[string]Cell{}, Trees: map[string]Tree{}, Results: results}
	for _, c := range Capabilities {
		m.Cells[c] = map[string]Cell{}
	}
	for _, r := range results {
		m.Lanes = append(m.Lanes, r.Lane)
		related := Relate(r.Trace, r.Related)
		m.Trees[r.Lane.Name] = BuildTree(r.TraceID, r.Trace, related)
		v := view{sc: sc, r: r, related: related, verdicts: verdicts}
		for _, c := range Capabilities {
			m.Cells[c][r.Lane.Name] = v.cell(c)
		}
	}
	return m
}

// view is one lane's result as the matrix reads it.
type view struct {
	sc       Scenario
	r        Result
	related  map[string][]spans.Span
	verdicts []doctor.Verdict
}

func (v view) cell(c Capability) Cell {
	cell := v.answer(c)
	if v.r.WaitRanOut == "" {
		return cell
	}
	switch c {
	case OneTrace: // the services are outside the client's trace either way; where they are is unknown
		cell.Reason += "; " + v.r.WaitRanOut
	case RouteNames, SQLSpans, Business, ErrorMarked:
		// What is missing may be in the spans that had not arrived: not a "no" the lane earned.
		if cell.Verdict == No || cell.Verdict == Partial {
			cell = Cell{Unknown, cell.Reason + "; " + v.r.WaitRanOut}
		}
	}
	return cell
}

// answer is the cell of a capability as far as the spans that arrived tell.
func (v view) answer(c Capability) Cell {
	r := v.r
	if r.Off != "" {
		return Cell{Off, r.Off}
	}
	switch c {
	case Logs:
		return v.logs()
	case RED:
		return v.red()
	case Sampled:
		return v.sampled()
	case Latency:
		return v.latency()
	}
	if r.Lane.Observer == None {
		return Cell{No, "nothing instruments this lane: no spans, by design"}
	}
	if len(r.Trace) == 0 {
		why := r.Missing
		if why == "" {
			why = "no span"
		}
		if r.Absent && r.Kept.Detail != "" {
			why += "; tail sampling keeps " + r.Kept.Detail + ": this checkout may be one it dropped"
		}
		return Cell{No, fmt.Sprintf("no trace %s: %s", r.TraceID, why)}
	}
	switch c {
	case RouteNames:
		return v.routes()
	case Upstreams:
		return v.upstreams()
	case SQLSpans:
		return v.sql()
	case Business:
		return v.business()
	case OneTrace:
		return v.oneTrace()
	case ClientTrace:
		return v.clientTrace()
	case ErrorMarked:
		return v.errors()
	}
	return Cell{Unknown, "no such capability"}
}

// all is the lane's trace with the traces related to it.
func (v view) all() []spans.Span {
	out := slices.Clone(v.r.Trace)
	for _, r := range v.related {
		out = append(out, r...)
	}
	return out
}

// involved lists the services the scenario runs through: the gateway and those it calls.
func (v view) involved() []string { return append([]string{"gateway"}, v.sc.Calls...) }

func (v view) routes() Cell {
	named, unnamed := map[string]bool{}, map[string]string{}
	for _, sp := range v.all() {
		if !isServer(sp) {
			continue
		}
		if sp.Route() != "" {
			named[sp.Service] = true
		} else {
			unnamed[sp.Service] = sp.Name()
		}
	}
	var withRoute, without []string
	for _, svc := range v.involved() {
		switch {
		case named[svc] && unnamed[svc] == "":
			withRoute = append(withRoute, svc)
		case unnamed[svc] != "":
			without = append(without, fmt.Sprintf("%s (%q)", svc, unnamed[svc]))
		default:
			without = append(without, svc+" (no SERVER span)")
		}
	}
	switch {
	case len(without) == 0:
		return Cell{Yes, "http.route on the SERVER spans of " + strings.Join(withRoute, ", ")}
	case len(withRoute) == 0:
		return Cell{No, "no http.route: " + strings.Join(without, ", ")}
	}
	return Cell{Partial, "no http.route: " + strings.Join(without, ", ")}
}

func (v view) upstreams() Cell {
	called := map[string]int{}
	for _, sp := range v.r.Trace {
		if sp.Service == "gateway" && isClient(sp) {
			if up := upstreamOf(pathOf(sp)); up != "" {
				called[up]++
			}
		}
	}
	var seen, missing []string
	for _, up := range v.sc.Calls {
		if called[up] > 0 {
			seen = append(seen, fmt.Sprintf("%s ×%d", up, called[up]))
		} else {
			missing = append(missing, up)
		}
	}
	switch {
	case len(missing) == 0:
		return Cell{Yes, "from the gateway to " + strings.Join(seen, ", ")}
	case len(seen) == 0:
		return Cell{No, "no CLIENT span from the gateway to " + strings.Join(missing, ", ")}
	}
	return Cell{Partial, "none to " + strings.Join(missing, ", ") + "; to " + strings.Join(seen, ", ")}
}

func (v view) sql() Cell {
	var total, withText int
	services := map[string]bool{}
	for _, sp := range v.all() {
		if isSQL(sp) {
			total++
			services[sp.Service] = true
			if statement(sp) != "" {
				withText++
			}
		}
	}
	where := strings.Join(slices.Sorted(maps.Keys(services)), ", ")
	switch {
	case total == 0:
		return Cell{No, "no database span"}
	case withText == total:
		return Cell{Yes, fmt.Sprintf("%d, each with its statement (%s)", total, where)}
	case withText == 0:
		return Cell{Partial, fmt.Sprintf("%d, without the statement text (%s)", total, where)}
	}
	return Cell{Partial, fmt.Sprintf("%d, %d with the statement text (%s)", total, withText, where)}
}

func (v view) business() Cell {
	names := map[string]bool{}
	for _, sp := range v.all() {
		if !isServer(sp) && !isClient(sp) && !isSQL(sp) && !isServerPhase(v.r.Lane.Observer, sp) {
			names[sp.Name()] = true
		}
	}
	if len(names) == 0 {
		switch v.r.Lane.Observer {
		case SDK:
			return Cell{No, "no INTERNAL span"}
		case Beyla:
			return Cell{No, "Beyla sees HTTP and SQL calls, not the shop's functions (its \"in queue\" and \"processing\" spans split each SERVER span)"}
		}
		return Cell{No, "an agent sees HTTP and SQL calls, not the shop's functions"}
	}
	return Cell{Yes, strings.Join(slices.Sorted(maps.Keys(names)), ", ")}
}

func (v view) oneTrace() Cell {
	in := map[string]bool{}
	for _, sp := range v.r.Trace {
		in[sp.Service] = true
	}
	var outside []string
	for _, svc := range v.involved() {
		if !in[svc] {
			outside = append(outside, svc)
		}
	}
	if len(outside) == 0 {
		return Cell{Yes, fmt.Sprintf("%d services, one trace", len(v.involved()))}
	}
	why := fmt.Sprintf("%s in traces of their own (%d related by time and path)", strings.Join(outside, ", "), len(v.related))
	if reason := v.noPropagation(); reason != "" {
		why += ": " + reason
	}
	if len(outside) == len(v.involved())-1 {
		return Cell{No, why}
	}
	return Cell{Partial, why}
}

// noPropagation is the doctor's reason why this lane's instrumentation cannot carry the trace context
// from service to service here, "" when it says it can or did not run.
func (v view) noPropagation() string {
	var agent doctor.Agent
	switch v.r.Lane.Observer {
	case GoAuto:
		agent = doctor.AutoAgent
	case Beyla:
		agent = doctor.Beyla
	default:
		return ""
	}
	if v.verdicts == nil {
		return "make doctor, run where the lanes run, says why"
	}
	if ok, why := doctor.CanLink(v.verdicts, agent); !ok {
		return why
	}
	return "" // the doctor says one way works: the cause is elsewhere
}

func (v view) clientTrace() Cell {
	for _, sp := range v.r.Trace {
		if sp.Service == "gateway" && isServer(sp) && sp.TraceID().String() == v.r.TraceID {
			return Cell{Yes, "the gateway's SERVER span continues the client's trace " + short(v.r.TraceID)}
		}
	}
	return Cell{No, "no SERVER span of the gateway in the client's trace " + short(v.r.TraceID)}
}

func (v view) errors() Cell {
	errs := map[string][]string{} // by service, the kinds of its spans marked as errors
	for _, sp := range v.all() {
		if sp.IsError() {
			kind := strings.ToUpper(sp.Kind().String())
			if !slices.Contains(errs[sp.Service], kind) {
				errs[sp.Service] = append(errs[sp.Service], kind)
			}
		}
	}
	marked := func(svc, kind string) bool { return slices.Contains(errs[svc], kind) }
	switch {
	case v.sc.Fails != "":
		at, up := marked(v.sc.Fails, "SERVER"), marked("gateway", "SERVER")
		switch {
		case at && up:
			return Cell{Yes, fmt.Sprintf("%s's SERVER span (the 5xx) and the gateway's (its 502) are errors", v.sc.Fails)}
		case at || up:
			return Cell{Partial, fmt.Sprintf("errors only at %s", describe(errs))}
		}
		return Cell{No, "no span marked as an error"}
	case v.sc.Refuses != "":
		var servers []string
		for svc, kinds := range errs {
			if slices.Contains(kinds, "SERVER") {
				servers = append(servers, svc)
			}
		}
		if len(servers) > 0 {
			sort.Strings(servers)
			return Cell{Partial, fmt.Sprintf("the %d refusal is marked as a server error at %s", v.sc.Status, strings.Join(servers, ", "))}
		}
		why := fmt.Sprintf("a %d refusal: no SERVER span marked as an error, as the conventions ask", v.sc.Status)
		if marked("gateway", "CLIENT") {
			why += "; the gateway's CLIENT span is (a 4xx answer to a client)"
		}
		return Cell{Yes, why}
	}
	if len(errs) > 0 {
		return Cell{No, "nothing failed, yet errors at " + describe(errs)}
	}
	return Cell{NA, "nothing fails in this scenario, and no span says otherwise"}
}

func (v view) logs() Cell {
	s := v.r.Logs
	if s.Err != "" {
		return Cell{Unknown, s.Err}
	}
	if s.Count == 0 {
		return Cell{No, "no log line with trace id " + short(v.r.TraceID)}
	}
	return Cell{Yes, fmt.Sprintf("%s with trace id %s (%s)", plural(s.Count, "line"), short(v.r.TraceID), s.Detail)}
}

func (v view) red() Cell {
	s := v.r.RED
	if s.Err != "" {
		return Cell{Unknown, s.Err}
	}
	if s.Count == 0 {
		return Cell{No, "no request-count series with lane=" + v.r.Lane.Name}
	}
	return Cell{Yes, fmt.Sprintf("%d request-count series with lane=%s (%s)", s.Count, v.r.Lane.Name, s.Detail)}
}

func (v view) sampled() Cell {
	s := v.r.Kept
	switch {
	case s.Err != "":
		return Cell{Unknown, s.Err}
	case s.Detail == "":
		return Cell{NA, "no tail sampling in this stack: every span is kept"}
	}
	return Cell{Value, s.Detail}
}

func (v view) latency() Cell {
	if v.r.Status == 0 {
		return Cell{No, "no answer"}
	}
	why := fmt.Sprintf("%s at the client, answer %d", ms(v.r.Latency), v.r.Status)
	for _, sp := range v.r.Trace {
		if sp.Service == "gateway" && isServer(sp) {
			why += fmt.Sprintf("; gateway SERVER span %s", ms(time.Duration(sp.EndTimestamp()-sp.StartTimestamp())))
			break
		}
	}
	return Cell{Value, why}
}

// plural writes "1 line", "2 lines".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func describe(errs map[string][]string) string {
	var parts []string
	for _, svc := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, svc+" "+strings.Join(errs[svc], "+"))
	}
	return strings.Join(parts, ", ")
}

func short(traceID string) string {
	if len(traceID) > 8 {
		return traceID[:8] + "…"
	}
	return traceID
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
