//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/compare/comparetest"
	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/pipeline"
	"github.com/zerocodelab/lab/e2e/proc"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/wait"
)

// routes each service serves in the run, from the services' routes.go files.
var exercised = map[string][]string{
	"gateway":   {"/api/checkout", "/api/products"},
	"catalog":   {"/products", "/products/:sku"},
	"inventory": {"/stock/:sku", "/reservations", "/reservations/:id/confirm"},
	"orders":    {"/orders"},
}

func TestEndToEnd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Fatalf("make e2e runs eBPF agents on a Linux kernel; this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		t.Fatal("make e2e loads eBPF programs into the kernel and needs root: run it as root (sudo make e2e)")
	}
	// What the run saw, printed at the end and written to build/e2e-report.txt.
	rep := &report.Report{}
	defer func() {
		if err := rep.Save(filepath.Join(root, "build", "e2e-report.txt")); err != nil {
			t.Errorf("write the report: %v", err)
		}
		fmt.Println()
		rep.WriteTo(os.Stdout)
	}()

	ctx := context.Background()
	// What this kernel allows decides what the run expects.
	// The agents read the lockdown mode on securityfs: mounted for the run if missing, and so for the doctor.
	mountIfMissing(t, rep, "securityfs", doctor.SecurityfsPath)
	facts := doctor.Inspect()
	verdicts := doctor.Verdicts(facts)
	var doc bytes.Buffer
	doctor.Report(&doc, facts, verdicts)
	rep.Printf("== make doctor on this machine ==\n%s\n", doc.String())
	if ok, why := doctor.Can(verdicts, doctor.AutoSpans); !ok {
		t.Fatalf("the Go auto agent cannot run on this kernel: %s", why)
	}
	propagates, propagationWhy := doctor.Can(verdicts, doctor.AutoPropagation)
	mountIfMissing(t, rep, "tracefs", "/sys/kernel/tracing")
	mountIfMissing(t, rep, "bpf", "/sys/fs/bpf")

	agentBin := builtFile(t, "build/otel-go-instrumentation", "bash otel-auto/build.sh")
	lokiBin := builtFile(t, "build/loki", "bash observability/loki/build.sh")
	// The compose image's version, built from its module source: the native run and the stack run the same Prometheus.
	promBin := builtFile(t, "build/prometheus", "bash observability/prometheus/build.sh")
	plainBins, sdkBins := buildShop(t, ""), buildShop(t, "otelsdk")
	loadgenBin := buildLoadgen(t)

	// The backends and the Collector, with the project's own configurations.
	sink, sinkAddr, stopSink, err := spans.ListenSink("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopSink)
	loki, err := native.StartLoki(ctx, lokiBin, root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loki.Kill() })
	promAddr, err := native.FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := pipeline.NewEndpoints(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ends.Tempo, ends.Loki, ends.PromWrite = sinkAddr, loki.URL+"/otlp", "http://"+promAddr[0]+"/api/v1/write"
	col, err := pipeline.Collector{Bin: otelcol(t), Config: filepath.Join(root, "collector", "config.yaml"), Endpoints: ends}.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { col.Kill() })
	shipper := newLogShipper(t, ends.Fluent)

	// The lanes. otel-auto-nohint is the otel-auto lane with ROUTE_PATTERN_HINT=false, to show the difference.
	otlp := "http://" + ends.OTLPHTTP
	lanes := []*native.Lane{
		startLane(t, "plain", plainBins, shipper, nil),
		startLane(t, "otel-auto", plainBins, shipper, nil),
		startLane(t, "otel-auto-nohint", plainBins, shipper, []string{"ROUTE_PATTERN_HINT=false"}),
		startLane(t, "manual", sdkBins, shipper, []string{
			"OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_BSP_SCHEDULE_DELAY=500",
		}),
	}
	byName := map[string]*native.Lane{}
	var targets []native.ScrapeTarget
	for _, l := range lanes {
		byName[l.Name] = l
		for _, svc := range services {
			targets = append(targets, native.ScrapeTarget{Addr: strings.TrimPrefix(l.URL[svc], "http://"), Lane: l.Name, Service: svc})
		}
	}
	prom, err := native.StartPrometheus(ctx, promBin, root, t.TempDir(), promAddr[0], targets, ends.Telemetry)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Kill() })
	promURL, lokiURL := prom.URL, loki.URL

	// One Go auto agent per service of the agent lanes, each targeting its process by PID (the same
	// binary runs in several lanes, so a path would be ambiguous), all started at once.
	agents := map[string]*native.Agent{}
	var mu sync.Mutex
	var started sync.WaitGroup
	var errs []error
	attachStart := time.Now()
	for _, name := range []string{"otel-auto", "otel-auto-nohint"} {
		for _, svc := range services {
			started.Go(func() {
				a, err := native.StartAgent(ctx, native.AgentSpec{
					Bin: agentBin, Service: svc, Pid: byName[name].Procs[svc].Pid(), Lane: name, OTLP: otlp,
					Env: []string{
						"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
						"OTEL_BSP_SCHEDULE_DELAY=500",
						"OTEL_PROPAGATORS=tracecontext,baggage",
						"OTEL_GO_AUTO_INCLUDE_DB_STATEMENT=true", // db.query.text, as compose sets it
						"OTEL_GO_AUTO_PARSE_DB_STATEMENT=true",   // db.operation.name and db.collection.name
					},
				}, 3*time.Minute)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				agents[name+"/"+svc] = a
			})
		}
	}
	started.Wait()
	for _, a := range agents {
		t.Cleanup(func() { a.Kill() })
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	// Agents see only requests made after they attach: wait until every agent has reported a SERVER span.
	attached := waitForAgents(t, sink, byName, agents)
	rep.Printf("== Go auto agents attached after %.1f s (8 agents, one per service of otel-auto and otel-auto-nohint) ==\n\n",
		attached.Sub(attachStart).Seconds())

	// The load generator drives every scenario in every lane, a fresh traceparent per request.
	var gateways []string
	for _, l := range lanes {
		gateways = append(gateways, l.Name+"="+l.URL["gateway"])
	}
	// It keeps going while the checks run, as it does in compose, so that rate() windows hold live data;
	// DURATION bounds it should the run hang, and the cleanup stops it.
	startProc(t, proc.Command{Path: loadgenBin, Env: append(os.Environ(), "TARGETS="+strings.Join(gateways, ","), "RATE=5", "DURATION=10m")})
	// The checks need every scenario served in every lane (the shop's own counters say so) and, in the
	// manual lane, checkouts that ended a while ago. The Prometheus checks wait for their own data.
	err = wait.Eventually(context.Background(), "every scenario served twice in every lane", 2*time.Minute, time.Second, func() error {
		for _, l := range lanes {
			served, err := checkoutsByScenario(l.URL["gateway"] + "/metrics")
			if err != nil {
				return err
			}
			for _, sc := range scenarios {
				if served[sc] < 2 {
					return fmt.Errorf("%s: %s served %v times", l.Name, sc, served[sc])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second) // checkManualLane counts only checkouts that ended 5 s before it looks

	checkAutoLane(t, rep, sink, "otel-auto", true, propagates, propagationWhy)
	checkAutoLane(t, rep, sink, "otel-auto-nohint", false, propagates, propagationWhy)
	manualTrace := checkManualLane(t, rep, sink)
	if n := len(sink.Spans("plain")); n != 0 {
		t.Errorf("plain lane: %d spans; the zero-code lanes must be zero", n)
	}
	rep.Printf("== lane plain ==\nspans: %d (none expected: no instrumentation)\n\n", len(sink.Spans("plain")))

	checkPrometheus(t, rep, promURL, lanes, propagates)
	if t.Failed() {
		// What both ends said about remote writes, to tell a missing series from a refused write.
		for _, line := range strings.Split(col.Output(), "\n") {
			if strings.Contains(line, "prometheus_remote_write") && strings.Contains(line, "error") {
				t.Logf("collector: %s", tail(line, 600))
			}
		}
		for _, line := range strings.Split(prom.Output(), "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				t.Logf("prometheus: %s", tail(line, 600))
			}
		}
	}
	checkLoki(t, rep, lokiURL, lanes, manualTrace)
	compareLanes(t, rep, sink, lanes, lokiURL, promURL, verdicts, propagates)
}

// compareLanes sends one checkout of every scenario to every lane and compares what each lane's
// instrumentation made of it, from the spans the sink received: the matrix and trees go into the report
// and build/compare.md, and each cell is checked against comparetest's table. COMPARE_RECORD=dir keeps
// what each comparison was built from, as the compare package's test fixtures (make compare-fixtures).
func compareLanes(t *testing.T, rep *report.Report, sink *spans.Sink, lanes []*native.Lane, lokiURL, promURL string, verdicts []doctor.Verdict, propagates bool) {
	client, err := promapi.NewClient(promapi.Config{Address: promURL})
	if err != nil {
		t.Fatal(err)
	}
	lab := compare.Lab{
		Client:   &http.Client{Timeout: 10 * time.Second},
		Source:   sink,
		Signals:  compare.Backends{Client: &http.Client{Timeout: 10 * time.Second}, Loki: lokiURL, Prometheus: promv1.NewAPI(client)},
		Verdicts: verdicts,
		Settle:   3 * time.Second, // the SDK and the agents export every 0.5 s, the Collector's queue batches for 1 s
		Timeout:  30 * time.Second,
	}
	for _, l := range lanes {
		observer, _ := compare.ObserverOf(l.Name) // every lane of the run is one of the lab's
		lab.Lanes = append(lab.Lanes, compare.Lane{Name: l.Name, Observer: observer, Gateway: l.URL["gateway"]})
	}
	var md bytes.Buffer
	md.WriteString("# The lanes compared, one checkout of each scenario (make e2e)\n\n")
	for _, sc := range compare.Scenarios {
		m := lab.Compare(context.Background(), sc)
		rep.Section("the lanes compared: one " + sc.Name + " checkout in every lane")
		var text bytes.Buffer
		if err := compare.WriteText(&text, m); err != nil {
			t.Fatal(err)
		}
		if err := compare.WriteTrees(&text, m); err != nil {
			t.Fatal(err)
		}
		rep.Printf("%s", text.String())
		if err := compare.WriteMarkdown(&md, m); err != nil {
			t.Fatal(err)
		}
		comparetest.Check(t, m, propagates)
		if dir := os.Getenv("COMPARE_RECORD"); dir != "" {
			rec, err := compare.Record(m, verdicts)
			if err == nil {
				err = rec.Save(filepath.Join(root, dir))
			}
			if err != nil {
				t.Errorf("record the %s comparison: %v", sc.Name, err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "build", "compare.md"), md.Bytes(), 0o644); err != nil {
		t.Errorf("write build/compare.md: %v", err)
	}
}

// waitForAgents sends traffic to the agent lanes until each of their services has a SERVER span.
func waitForAgents(t *testing.T, sink *spans.Sink, lanes map[string]*native.Lane, agents map[string]*native.Agent) time.Time {
	t.Helper()
	err := wait.Eventually(context.Background(), "a SERVER span from every service of the agent lanes", 120*time.Second, 500*time.Millisecond, func() error {
		var missing []string
		for _, name := range []string{"otel-auto", "otel-auto-nohint"} {
			seen := map[string]bool{}
			for _, sp := range sink.Spans(name) {
				if sp.Kind() == ptrace.SpanKindServer {
					seen[sp.Service] = true
				}
			}
			for _, svc := range services {
				if !seen[svc] {
					missing = append(missing, name+"/"+svc)
				}
			}
			// Traffic for the agents to see once attached.
			if err := errors.Join(
				post(lanes[name].URL["gateway"]+"/api/checkout", `{"sku":"ceramic-mug","quantity":1}`),
				get(lanes[name].URL["gateway"]+"/api/products"),
			); err != nil {
				return err
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("none yet from %v", missing)
		}
		return nil
	})
	if err != nil {
		var out strings.Builder
		for name, a := range agents {
			fmt.Fprintf(&out, "--- agent %s ---\n%s\n", name, tail(a.Output(), 2000))
		}
		t.Fatalf("%v\n%s", err, out.String())
	}
	return time.Now()
}

// checkAutoLane asserts what the Go auto agent produced in one lane and reports it.
func checkAutoLane(t *testing.T, rep *report.Report, sink *spans.Sink, name string, hint, propagates bool, propagationWhy string) {
	laneSpans := sink.Spans(name)
	byID := map[string]spans.Span{}
	for _, sp := range laneSpans {
		byID[sp.SpanID().String()] = sp
	}
	rep.Printf("== lane %s (Go auto agent, route hint %s) ==\n", name, map[bool]string{true: "on", false: "off"}[hint])
	rep.Printf("%-10s %7s  %-34s %7s %5s %7s\n", "service", "SERVER", "http.route on SERVER spans", "CLIENT", "SQL", "errors")
	for _, svc := range services {
		var server, client, sql, errs int
		routes := map[string]bool{}
		names := map[string]bool{}
		for _, sp := range laneSpans {
			if sp.Service != svc {
				continue
			}
			if sp.IsError() {
				errs++
			}
			switch {
			case sp.Kind() == ptrace.SpanKindServer:
				server++
				names[sp.Name()] = true
				if r := sp.Attr("http.route"); r != "" {
					routes[r] = true
				}
			case sp.Attr("db.query.text") != "":
				sql++
			case sp.Kind() == ptrace.SpanKindClient:
				client++
			}
		}
		rep.Printf("%-10s %7d  %-34s %7d %5d %7d\n", svc, server, strings.Join(sortedKeys(routes), " "), client, sql, errs)
		if server == 0 {
			t.Errorf("%s: no SERVER span from %s", name, svc)
		}
		for _, route := range exercised[svc] {
			if routes[route] != hint {
				t.Errorf("%s: %s SERVER spans with http.route=%s: %v; want %v (route hint %v)", name, svc, route, routes[route], hint, hint)
			}
		}
		if !hint && len(routes) != 0 {
			t.Errorf("%s: %s has routes %v without the route hint", name, svc, sortedKeys(routes))
		}
		if !hint {
			rep.Printf("%-10s span names without the hint: %s\n", "", strings.Join(sortedKeys(names), " "))
		}
		if svc != "gateway" && sql == 0 {
			t.Errorf("%s: no database/sql span from %s", name, svc)
		}
	}

	// CLIENT spans of the gateway, one per upstream, inside the gateway's trace.
	upstreams := map[string]bool{}
	for _, sp := range laneSpans {
		if sp.Service != "gateway" || sp.Kind() != ptrace.SpanKindClient {
			continue
		}
		parent, ok := byID[sp.ParentSpanID().String()]
		if !ok || parent.TraceID().String() != sp.TraceID().String() || parent.Service != "gateway" {
			continue
		}
		u := sp.Attr("url.full") + sp.Attr("url.path") + sp.Attr("http.url")
		for prefix, svc := range map[string]string{"/products": "catalog", "/stock": "inventory", "/reservations": "inventory", "/orders": "orders"} {
			if strings.Contains(u, prefix) {
				upstreams[svc] = true
			}
		}
	}
	rep.Printf("gateway CLIENT spans parented in the gateway's trace, by upstream: %s\n", strings.Join(sortedKeys(upstreams), " "))
	for _, up := range []string{"catalog", "inventory", "orders"} {
		if !upstreams[up] {
			t.Errorf("%s: no CLIENT span from the gateway to %s parented inside the gateway's trace", name, up)
		}
	}

	// The error scenario: inventory answers 500, the gateway 502; both SERVER spans are errors.
	for _, svc := range []string{"inventory", "gateway"} {
		found := false
		for _, sp := range laneSpans {
			found = found || (sp.Service == svc && sp.Kind() == ptrace.SpanKindServer && sp.IsError())
		}
		if !found {
			t.Errorf("%s: the error scenario left no SERVER span of %s marked as an error", name, svc)
		}
	}

	// Cross-service linking: expected exactly when doctor says the agent may write headers.
	linked := 0
	traces := spans.ByTrace(laneSpans)
	for _, tr := range traces {
		for _, sp := range tr {
			if sp.Service != tr[0].Service {
				linked++
				break
			}
		}
	}
	rep.Printf("traces spanning more than one service: %d of %d; expected %s: %s\n\n",
		linked, len(traces), map[bool]string{true: "some", false: "none"}[propagates], propagationWhy)
	if propagates && linked == 0 {
		t.Errorf("%s: no trace crosses services although doctor says the agent can propagate context", name)
	}
	if !propagates && linked != 0 {
		t.Errorf("%s: %d traces cross services although doctor says the agent cannot write headers here (%s)", name, linked, propagationWhy)
	}
}

// checkManualLane asserts that each normal checkout is one connected trace across the four services,
// with business and SQL spans, and returns one such trace id.
func checkManualLane(t *testing.T, rep *report.Report, sink *spans.Sink) string {
	traces := spans.ByTrace(sink.Spans("manual"))
	var checkouts, complete int
	var example string
	// The load is still running: a checkout that ended in the last seconds may still have spans on their
	// way (0.5 s SDK export, 1 s Collector batch). Count only those that ended well before.
	settled := time.Now().Add(-5 * time.Second)
	for id, tr := range traces {
		var isNormal bool
		for _, sp := range tr {
			isNormal = isNormal || (sp.Name() == "checkout" && sp.Attr("shop.scenario") == "normal" && sp.EndTimestamp().AsTime().Before(settled))
		}
		if !isNormal {
			continue
		}
		checkouts++
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
				roots++ // the parent is the load generator's span, outside the trace
			}
		}
		if len(services) == 4 && roots == 1 && sql >= 7 && names["price lookup"] && names["reserve stock"] && names["store order"] {
			complete++
			example = id
		}
	}
	rep.Printf("== lane manual (OpenTelemetry SDK) ==\n")
	rep.Printf("normal checkouts (ended 5 s before the check): %d, of which one connected trace across 4 services with business and SQL spans: %d\n", checkouts, complete)
	if example != "" {
		rep.Printf("example trace %s:\n", example)
		var tree bytes.Buffer
		if err := compare.WriteTree(&tree, compare.BuildTree(example, traces[example], nil)); err != nil {
			t.Fatal(err)
		}
		rep.Printf("%s", tree.String())
	}
	rep.Printf("\n")
	if checkouts == 0 || complete != checkouts {
		t.Errorf("manual: %d of %d normal checkouts are one complete trace across the four services", complete, checkouts)
	}
	return example
}

// checkPrometheus asserts the metrics of every source and runs every dashboard query.
func checkPrometheus(t *testing.T, rep *report.Report, promURL string, lanes []*native.Lane, autoPropagates bool) {
	client, err := promapi.NewClient(promapi.Config{Address: promURL})
	if err != nil {
		t.Fatal(err)
	}
	prom := promv1.NewAPI(client)
	rep.Printf("== Prometheus ==\n")
	// Remote-written span metrics arrive in 15-second flushes, and rate() over 1m needs two of them: a
	// query gets until the deadline to see data, as a dashboard refreshing every 10 s would.
	deadline := time.Now().Add(2 * time.Minute)
	eventually := func(expr string) (n int, queryErr error) {
		wait.Eventually(context.Background(), expr, time.Until(deadline), 3*time.Second, func() error {
			n, queryErr = promCount(prom, expr)
			if n == 0 {
				return errors.New("no series yet")
			}
			return nil
		}) // what counts is n and the query's own error, which the callers report
		return n, queryErr
	}
	must := func(expr, why string) {
		n, err := eventually(expr)
		status := fmt.Sprintf("%d series", n)
		if err != nil || n == 0 {
			t.Errorf("Prometheus: %s returned %d series (%v): %s", expr, n, err, why)
			status = "MISSING"
		}
		rep.Printf("%-12s %s\n", status, expr)
	}
	for _, l := range lanes {
		must(fmt.Sprintf(`shop_http_requests_total{lane=%q}`, l.Name), "the shop's own metrics, every lane")
	}
	for _, name := range []string{"otel-auto", "otel-auto-nohint", "manual"} {
		must(fmt.Sprintf(`traces_span_metrics_calls_total{lane=%q}`, name), "span metrics with the lane label")
	}
	must(`traces_span_metrics_calls_total{lane="otel-auto", http_route="/products/:sku"}`, "span metrics carry the route the hint gave")
	must(`traces_service_graph_request_total{client_lane="manual", server_lane="manual"}`, "service-graph edges of the manual lane")
	if autoPropagates {
		must(`traces_service_graph_request_total{client_lane="otel-auto"}`, "service-graph edges of the otel-auto lane")
	}
	if n, _ := promCount(prom, `traces_span_metrics_calls_total{lane="plain"}`); n != 0 {
		t.Errorf("Prometheus: the plain lane has span metrics")
	}

	// Every query of every dashboard, for each lane it concerns.
	rep.Printf("\ndashboard queries (service=gateway for per-service panels):\n")
	laneNames := map[string]bool{}
	for _, l := range lanes {
		laneNames[l.Name] = true
	}
	for where, exprs := range queries(t) {
		for _, expr := range exprs {
			parsed, err := parseQuery(expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			names := metricsOf(parsed)
			source := sourceOf(names)
			var runLanes []string
			switch source {
			case "beyla":
				rep.Printf("%-12s %s: %s\n", "not here", where, "Beyla cannot run on this machine (no kprobes; its module is not served)")
				continue
			case "collector":
				runLanes = []string{""}
			case "shop":
				runLanes = []string{"plain", "otel-auto", "manual"}
			case "spans":
				runLanes = []string{"otel-auto", "manual"}
			case "graph":
				runLanes = []string{"manual"}
				if autoPropagates {
					runLanes = append(runLanes, "otel-auto")
				}
			}
			for _, ln := range runLanes {
				q := strings.NewReplacer("$__rate_interval", "1m", "$lane", ln, "$service", "gateway").Replace(expr)
				var n int
				var err error
				if failureOnly(names) {
					n, err = promCount(prom, q)
				} else {
					n, err = eventually(q)
				}
				label := where + " (" + strings.Join(names, ", ") + ")"
				if ln != "" {
					label += " [" + ln + "]"
				}
				switch {
				case n > 0:
					rep.Printf("%-12s %s\n", fmt.Sprintf("%d series", n), label)
				case failureOnly(names):
					rep.Printf("%-12s %s (counts failures; none happened)\n", "0 series", label)
				default:
					rep.Printf("%-12s %s\n", "NO DATA", label)
					t.Errorf("dashboard query returned nothing: %s\n  %s\n  a series of that metric: %s", label, q, promSample(prom, names[0]))
				}
				if err != nil {
					t.Errorf("%s: %v", label, err)
				}
			}
		}
	}
	rep.Printf("\n")
}

// sourceOf names where the metrics of a query come from.
func sourceOf(names []string) string {
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "http_server_") || strings.HasPrefix(n, "http_client_"):
			return "beyla"
		case strings.HasPrefix(n, "traces_service_graph"):
			return "graph"
		case strings.HasPrefix(n, "traces_span_metrics"):
			return "spans"
		case strings.HasPrefix(n, "otelcol_"):
			return "collector"
		}
	}
	return "shop"
}

// failureOnly reports whether every metric of a query counts failures, refusals or drops, which a
// healthy run does not produce.
func failureOnly(names []string) bool {
	for _, n := range names {
		if !strings.Contains(n, "failed") && !strings.Contains(n, "refused") {
			return false
		}
	}
	return len(names) > 0
}

// checkLoki asserts that every service of every lane logged to Loki with its labels, and that the
// manual lane's lines carry the trace id in the record's own field.
func checkLoki(t *testing.T, rep *report.Report, lokiURL string, lanes []*native.Lane, manualTrace string) {
	rep.Printf("== Loki ==\n%-18s", "lane")
	for _, svc := range services {
		rep.Printf(" %10s", svc)
	}
	rep.Printf("\n")
	for _, l := range lanes {
		rep.Printf("%-18s", l.Name)
		for _, svc := range services {
			n, err := lokiCount(lokiURL, fmt.Sprintf(`{lane=%q, service_name=%q}`, l.Name, svc))
			rep.Printf(" %10d", n)
			if err != nil || n == 0 {
				t.Errorf("Loki: no log line from %s in lane %s (%v)", svc, l.Name, err)
			}
		}
		rep.Printf("\n")
	}
	if manualTrace != "" {
		q := fmt.Sprintf(`{lane="manual"} | trace_id=%q`, manualTrace)
		n, err := lokiCount(lokiURL, q)
		rep.Printf("log lines of manual trace %s found by its trace_id field: %d\n\n", manualTrace, n)
		if err != nil || n < 4 {
			t.Errorf("Loki: %s found %d lines (%v); want the access lines of all four services", q, n, err)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Starting things.

func builtFile(t *testing.T, rel, how string) string {
	t.Helper()
	path, _ := filepath.Abs(filepath.Join(root, rel))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: %s builds it (make e2e runs it)", rel, how)
	}
	return path
}

func buildLoadgen(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "loadgen")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/loadgen")
	cmd.Dir = filepath.Join(root, "services")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build loadgen: %v\n%s", err, b)
	}
	return out
}

// mountIfMissing mounts a pseudo filesystem the agents may need and unmounts it at the end, so the
// host's mounts are left as they were.
func mountIfMissing(t *testing.T, rep *report.Report, fstype, target string) {
	t.Helper()
	unmount, err := native.MountIfMissing(fstype, target)
	if err != nil {
		t.Fatal(err)
	}
	if unmount != nil {
		rep.Printf("mounted %s on %s for the run (unmounted at the end)\n\n", fstype, target)
		t.Cleanup(func() { unmount() })
	}
}

// startLane starts a lane with extra in its environment, its services' stdout shipped to the Collector.
func startLane(t *testing.T, name, bins string, shipper *logShipper, extra []string) *native.Lane {
	t.Helper()
	l, err := native.StartLane(context.Background(), native.LaneSpec{
		Name: name, Bins: bins, Dir: t.TempDir(),
		Env:  func(string) []string { return extra },
		Logs: func(svc string) io.Writer { return shipper.container(name + "-" + svc) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Kill() })
	return l
}

// ---------------------------------------------------------------------------------------------
// Talking to things.

func post(u, body string) error {
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func get(u string) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// promCount runs an instant query and returns how many series it answered.
func promCount(prom promv1.API, expr string) (int, error) {
	v, _, err := prom.Query(context.Background(), expr, time.Now())
	if err != nil {
		return 0, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return 0, fmt.Errorf("%s answered a %s, not an instant vector", expr, v.Type())
	}
	return len(vec), nil
}

// promSample returns the labels of one series of metric, to show why a query found nothing.
func promSample(prom promv1.API, metric string) string {
	series, _, err := prom.Series(context.Background(), []string{metric}, time.Now().Add(-time.Hour), time.Now())
	switch {
	case err != nil:
		return err.Error()
	case len(series) == 0:
		return "none"
	}
	return series[0].String()
}

// lokiCount returns how many log lines a LogQL query finds in the last 15 minutes.
func lokiCount(base, query string) (int, error) {
	q := url.Values{"query": {query}, "limit": {"5000"}, "start": {fmt.Sprint(time.Now().Add(-15 * time.Minute).UnixNano())}}
	resp, err := http.Get(base + "/loki/api/v1/query_range?" + q.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body struct {
		Data struct {
			Result []struct {
				Values [][]string `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &body); err != nil || resp.StatusCode != 200 {
		return 0, fmt.Errorf("loki %d: %s", resp.StatusCode, data)
	}
	n := 0
	for _, r := range body.Data.Result {
		n += len(r.Values)
	}
	return n, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
