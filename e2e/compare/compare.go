// Package compare puts the same checkout side by side in every lane of the lab: each lane's trace as a
// tree on one shared time axis, and a matrix of what each lane's instrumentation shows (rows are
// capabilities, columns are lanes), with reasons taken from the spans themselves and from what the
// doctor found on this kernel. Its input is spans as OTLP data, so Tempo's answers, the end-to-end
// run's sink and the recorded fixtures all go through the same code.
package compare

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/spans"
)

// Observer is what instruments a lane.
type Observer string

const (
	None   Observer = "none"    // the plain lane: nothing observes it
	GoAuto Observer = "go-auto" // one OpenTelemetry Go auto agent per service
	Beyla  Observer = "beyla"   // Grafana Beyla, one agent for the lane
	SDK    Observer = "sdk"     // the services' own OpenTelemetry SDK build
)

// Lane is one copy of the shop and what observes it.
type Lane struct {
	Name     string   `json:"name"`     // the lane label: service.namespace of its spans
	Observer Observer `json:"observer"` // what instruments it
	Gateway  string   `json:"gateway"`  // the base URL of its gateway
}

// observers says what instruments each lane the lab knows, by its name.
var observers = map[string]Observer{
	"plain": None, "beyla": Beyla, "otel-auto": GoAuto,
	"otel-auto-nohint": GoAuto, "manual": SDK,
}

// ObserverOf says what instruments a lane of the lab, by the lane's name.
func ObserverOf(lane string) (Observer, bool) {
	o, ok := observers[lane]
	return o, ok
}

// ParseLanes reads "name=URL,name=URL": every name a lane of the lab, every URL an http(s) one.
func ParseLanes(s string) ([]Lane, error) {
	var lanes []Lane
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		name, gateway, ok := strings.Cut(strings.TrimSpace(part), "=")
		observer, known := ObserverOf(name)
		if !ok || !known {
			return nil, fmt.Errorf("%q is not name=URL with a lane name of the lab (plain, beyla, otel-auto, otel-auto-nohint, manual)", part)
		}
		if seen[name] {
			return nil, fmt.Errorf("lane %s is given twice", name)
		}
		seen[name] = true
		if err := CheckURL(gateway); err != nil {
			return nil, fmt.Errorf("lane %s: %w", name, err)
		}
		lanes = append(lanes, Lane{Name: name, Observer: observer, Gateway: strings.TrimRight(gateway, "/")})
	}
	return lanes, nil
}

// CheckURL accepts an absolute http(s) URL.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", raw)
	}
	return nil
}

// Scenario is one of the shop's scenarios and what it does, as the shop is written: which services the
// gateway calls, which one answers with a server error or a refusal, and what the client gets.
type Scenario struct {
	Name    string
	Calls   []string // the upstream services the gateway calls
	Fails   string   // the service whose 5xx fails the checkout, "" if none
	Refuses string   // the service whose 4xx refuses the checkout, "" if none
	Status  int      // the gateway's answer
}

// Scenarios lists every scenario of the shop (services/internal/scenario).
var Scenarios = []Scenario{
	{Name: "normal", Calls: []string{"catalog", "inventory", "orders"}, Status: 201},
	{Name: "slow", Calls: []string{"catalog", "inventory", "orders"}, Status: 201},
	{Name: "error", Calls: []string{"catalog", "inventory"}, Fails: "inventory", Status: 502},
	{Name: "out_of_stock", Calls: []string{"catalog", "inventory"}, Refuses: "inventory", Status: 409},
	{Name: "not_found", Calls: []string{"catalog"}, Refuses: "catalog", Status: 404},
	{Name: "fanout", Calls: []string{"catalog", "inventory", "orders"}, Status: 201},
}

// ScenarioNamed returns the scenario of that name.
func ScenarioNamed(name string) (Scenario, bool) {
	for _, sc := range Scenarios {
		if sc.Name == name {
			return sc, true
		}
	}
	return Scenario{}, false
}

// Result is what one lane showed for one checkout.
type Result struct {
	Lane    Lane          `json:"lane"`
	Off     string        `json:"off,omitempty"`     // why the lane could not be asked (not running), "" when it was
	Status  int           `json:"status"`            // the gateway's answer
	Sent    time.Time     `json:"sent"`              // when the checkout was sent
	Latency time.Duration `json:"latency"`           // as the client measured it
	TraceID string        `json:"trace_id"`          // the trace id the client sent in its traceparent
	Missing string        `json:"missing,omitempty"` // why no trace could be read, "" when it could
	Absent  bool          `json:"absent,omitempty"`  // the trace backend answered, without any span of the trace
	Trace   []spans.Span  `json:"-"`                 // the spans of that trace
	Related []spans.Span  `json:"-"`                 // the lane's spans around it, for Relate
	// WaitRanOut says which calls no related trace answered once their spans had time to arrive, ""
	// when every call was answered: the cells that need those spans say so instead of "no".
	WaitRanOut string `json:"wait_ran_out,omitempty"`
	Logs       Signal `json:"logs"` // log lines with the trace id
	RED        Signal `json:"red"`  // RED series of the lane
	Kept       Signal `json:"kept"` // what tail sampling keeps of the lane's requests, where it runs
}

// Signal is a count read from a backend, or why it could not be read.
type Signal struct {
	Count  int    `json:"count"`
	Detail string `json:"detail,omitempty"` // where the count comes from
	Err    string `json:"err,omitempty"`    // why it could not be read, "" when it was
}

// upstreamOf names the service that serves a URL path of the shop, "" when none does.
func upstreamOf(path string) string {
	for prefix, svc := range map[string]string{
		"/products": "catalog", "/stock": "inventory", "/reservations": "inventory", "/orders": "orders",
	} {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return svc
		}
	}
	return ""
}

// pathOf is the URL path a span is about: url.path, or the path of url.full (or of the older
// http.target and http.url), "" when it has none.
func pathOf(sp spans.Span) string {
	if p := sp.Attr("url.path"); p != "" {
		return p
	}
	for _, key := range []string{"url.full", "http.url", "http.target"} {
		if raw := sp.Attr(key); raw != "" {
			if u, err := url.Parse(raw); err == nil {
				return u.Path
			}
		}
	}
	return ""
}
