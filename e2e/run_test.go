//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/compare/comparetest"
	"github.com/zerocodelab/lab/e2e/dashboards"
	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/endtoend"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/proc"
	"github.com/zerocodelab/lab/e2e/query"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/summary"
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

	// The Collector, the agent, Loki and Prometheus at the compose images' versions, built from their
	// sources; the shop in both builds, and its load generator.
	bins := endtoend.Bins{Otelcol: otelcol(t), Plain: t.TempDir(), SDK: t.TempDir()}
	agent, agentErr := native.Built(root, "build/otel-go-instrumentation", "bash otel-auto/build.sh")
	loki, lokiErr := native.Built(root, "build/loki", "bash observability/loki/build.sh")
	prom, promErr := native.Built(root, "build/prometheus", "bash observability/prometheus/build.sh")
	if err := errors.Join(agentErr, lokiErr, promErr); err != nil {
		t.Fatal(err)
	}
	bins.Agent, bins.Loki, bins.Prometheus = agent, loki, prom
	// Beyla runs where the user gives a binary: the project cannot build it (no source reachable).
	beylaBin, noBeyla, err := native.FindBeyla(root)
	if err != nil {
		t.Fatal(err)
	}
	bins.Beyla = beylaBin
	tools := t.TempDir()
	if err := errors.Join(
		native.BuildShop(root, bins.Plain, ""),
		native.BuildShop(root, bins.SDK, "otelsdk"),
		native.Build(root, tools, "", "loadgen"),
	); err != nil {
		t.Fatal(err)
	}

	// The backends, the Collector, the lanes and the agents. otel-auto-nohint is the otel-auto lane
	// with ROUTE_PATTERN_HINT=false, to show the difference.
	specs := []endtoend.LaneSpec{
		{Name: "plain", By: endtoend.None},
		{Name: "otel-auto", By: endtoend.Agent},
		{Name: "otel-auto-nohint", By: endtoend.Agent, Env: []string{"ROUTE_PATTERN_HINT=false"}},
		{Name: "manual", By: endtoend.SDK},
	}
	if beylaBin != "" {
		specs = append(specs, endtoend.LaneSpec{Name: "beyla", By: endtoend.Beyla})
	}
	world, err := endtoend.Start(ctx, root, t.TempDir(), bins, specs, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(world.Close)
	lanes, sink := world.Lanes, world.Sink
	// Agents see only requests made after they attach: wait until every agent has reported a SERVER span.
	if err := world.WaitForAgentSpans(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	rep.Printf("== Go auto agents attached after %.1f s (8 agents, one per service of otel-auto and otel-auto-nohint) ==\n\n",
		time.Since(world.AgentsFrom).Seconds())
	beyla := beylaRan(rep, world.Beyla, &facts)
	verdicts = doctor.Verdicts(facts)
	if beyla.ran {
		rep.Printf("the doctor's Beyla rows for this build:\n")
		for _, v := range verdicts {
			if v.Agent == doctor.Beyla {
				rep.Printf("  %-40s %-3s  %s\n", v.Feature, map[bool]string{true: "yes", false: "no"}[v.OK], v.Why)
			}
		}
		rep.Printf("\n")
	}

	// The load generator drives every scenario in every lane, a fresh traceparent per request.
	var gateways []string
	for _, l := range lanes {
		gateways = append(gateways, l.Name+"="+l.URL["gateway"])
	}
	// It keeps going while the checks run, as it does in compose, so that rate() windows hold live data;
	// DURATION bounds it should the run hang, and the cleanup stops it.
	loadgen, err := proc.Start(proc.Command{Path: filepath.Join(tools, "loadgen"), Env: append(os.Environ(), "TARGETS="+strings.Join(gateways, ","), "RATE=5", "DURATION=10m")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loadgen.Kill() })
	// The checks need every scenario served in every lane (the shop's own counters say so) and, in the
	// manual lane, checkouts that ended a while ago. The Prometheus checks wait for their own data.
	err = wait.Eventually(context.Background(), "every scenario served twice in every lane", 2*time.Minute, time.Second, func() error {
		for _, l := range lanes {
			families, err := query.Scrape(context.Background(), http.DefaultClient, l.URL["gateway"]+"/metrics")
			if err != nil {
				return err
			}
			served := query.SumBy(families["shop_checkouts_total"], "scenario")
			for _, sc := range compare.Scenarios {
				if served[sc.Name] < 2 {
					return fmt.Errorf("%s: %s served %v times", l.Name, sc.Name, served[sc.Name])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second) // the manual lane's check counts only checkouts that ended 5 s before it looks

	// What each lane must show, walked lane by lane and signal by signal: every summary is computed once
	// from the spans, printed into the report, then asserted.
	for _, lane := range autoLanes {
		sum := summary.OfAuto(lane.name, native.Services, sink.Spans(lane.name))
		sum.Print(rep, "Go auto agent, route hint "+map[bool]string{true: "on", false: "off"}[lane.hint], lane.hint, propagates, propagationWhy)
		t.Run(lane.name, func(t *testing.T) { assertAutoLane(t, sum, lane.hint, propagates, propagationWhy) })
	}
	if beyla.ran {
		// Beyla names routes from beyla-config.yml's patterns, and links services at the socket where
		// the kernel refuses writes into the process.
		links, linksWhy := doctor.CanLink(verdicts, doctor.Beyla)
		sum := summary.OfAuto("beyla", native.Services, sink.Spans("beyla"))
		sum.Print(rep, beyla.label, true, links, linksWhy)
		t.Run("beyla", func(t *testing.T) { assertAutoLane(t, sum, true, links, linksWhy) })
	} else {
		rep.Printf("== lane beyla: not run: %s ==\n\n", noBeyla)
		t.Run("beyla", func(t *testing.T) { t.Skip(noBeyla) })
	}
	manual := summary.OfManual(sink.Spans("manual"), time.Now().Add(-5*time.Second))
	if err := manual.Print(rep); err != nil {
		t.Error(err)
	}
	t.Run("manual/one trace per checkout", func(t *testing.T) {
		if manual.Checkouts == 0 || manual.Complete != manual.Checkouts {
			t.Errorf("%d of %d normal checkouts are one complete trace across the four services", manual.Complete, manual.Checkouts)
		}
	})
	rep.Printf("== lane plain ==\nspans: %d (none expected: no instrumentation)\n\n", len(sink.Spans("plain")))
	t.Run("plain/no span", func(t *testing.T) {
		if n := len(sink.Spans("plain")); n != 0 {
			t.Errorf("%d spans; the zero-code lanes must be zero", n)
		}
	})

	beylaLinked, _ := doctor.CanLink(verdicts, doctor.Beyla)
	if !t.Run("prometheus", func(t *testing.T) {
		checkPrometheus(t, rep, world.Prometheus.URL, lanes, propagates, beyla.ran, beyla.ran && beylaLinked)
	}) {
		// What both ends said about remote writes, to tell a missing series from a refused write.
		for _, line := range strings.Split(world.Collector.Output(), "\n") {
			if strings.Contains(line, "prometheus_remote_write") && strings.Contains(line, "error") {
				t.Logf("collector: %s", report.Tail(line, 600))
			}
		}
		for _, line := range strings.Split(world.Prometheus.Output(), "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				t.Logf("prometheus: %s", report.Tail(line, 600))
			}
		}
	}
	t.Run("loki", func(t *testing.T) { checkLoki(t, rep, world.Loki.URL, lanes, sink) })
	builds := map[string]string{}
	if beyla.ran {
		builds["beyla"] = beyla.label
	}
	recorded := fmt.Sprintf("make e2e, %s, kernel %s, lockdown=%s", time.Now().UTC().Format(time.DateOnly), facts.Kernel, facts.Lockdown)
	compareLanes(t, rep, sink, lanes, world.Loki.URL, world.Prometheus.URL, verdicts, recorded, builds)
}

// compareLanes sends one checkout of every scenario to every lane and compares what each lane's
// instrumentation made of it, from the spans the sink received: the matrix and trees go into the report
// and build/compare.md, and each cell is checked against comparetest's table. COMPARE_RECORD=dir keeps
// what each comparison was built from, as the compare package's test fixtures (make compare-fixtures).
func compareLanes(t *testing.T, rep *report.Report, sink *spans.Sink, lanes []*native.Lane, lokiURL, promURL string, verdicts []doctor.Verdict, recorded string, builds map[string]string) {
	client, err := promapi.NewClient(promapi.Config{Address: promURL})
	if err != nil {
		t.Fatal(err)
	}
	lab := compare.Lab{
		Client:   &http.Client{Timeout: 10 * time.Second},
		Source:   sink,
		Signals:  compare.Backends{Client: &http.Client{Timeout: 10 * time.Second}, Loki: lokiURL, Prometheus: promv1.NewAPI(client)},
		Verdicts: verdicts,
		Settle:   3 * time.Second,
		Timeout:  30 * time.Second,
		// The SDK and the agents export every 0.5 s here, and the Collector's queue batches for 1 s;
		// the sink has every span it received at once.
		SpanDelay: endtoend.ExportEvery + time.Second,
	}
	if slices.ContainsFunc(lanes, func(l *native.Lane) bool { return l.Name == "beyla" }) {
		// Beyla's events can wait in its ring buffer and its first stage before its exporter has them.
		lab.SpanDelay += native.BeylaRingBufferHold + native.DefaultBeylaEBPFBatchTimeout
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
		comparetest.Check(t, m, verdicts)
		if dir := os.Getenv("COMPARE_RECORD"); dir != "" {
			rec, err := compare.Record(m, recorded, verdicts, builds)
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

// autoLanes are the Go auto agent's lanes of the run: with the route hint, and without it.
var autoLanes = []struct {
	name string
	hint bool // ROUTE_PATTERN_HINT: the SERVER spans carry http.route
}{{"otel-auto", true}, {"otel-auto-nohint", false}}

// assertAutoLane checks a lane's summary signal by signal: what the agent must show with or without the
// route hint, and cross-service links exactly when the doctor says the agent can write headers here.
func assertAutoLane(t *testing.T, sum summary.Auto, hint, propagates bool, propagationWhy string) {
	t.Run("server spans", func(t *testing.T) {
		for _, svc := range native.Services {
			if sum.Services[svc].Server == 0 {
				t.Errorf("no SERVER span from %s", svc)
			}
		}
	})
	t.Run("routes", func(t *testing.T) {
		for _, svc := range native.Services {
			routes := sum.Services[svc].Routes
			for _, route := range exercised[svc] {
				if routes[route] != hint {
					t.Errorf("%s SERVER spans with http.route=%s: %v; want %v (route hint %v)", svc, route, routes[route], hint, hint)
				}
			}
			if !hint && len(routes) != 0 {
				t.Errorf("%s has routes %v without the route hint", svc, slices.Sorted(maps.Keys(routes)))
			}
		}
	})
	t.Run("sql", func(t *testing.T) {
		for _, svc := range []string{"catalog", "inventory", "orders"} {
			if sum.Services[svc].SQL == 0 {
				t.Errorf("no database/sql span from %s", svc)
			}
		}
	})
	t.Run("client spans", func(t *testing.T) {
		for _, up := range []string{"catalog", "inventory", "orders"} {
			if !sum.Upstreams[up] {
				t.Errorf("no CLIENT span from the gateway to %s parented inside the gateway's trace", up)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		// The error scenario: inventory answers 500, the gateway 502; both SERVER spans are errors.
		for _, svc := range []string{"inventory", "gateway"} {
			if sum.Services[svc].ServerErrors == 0 {
				t.Errorf("the error scenario left no SERVER span of %s marked as an error", svc)
			}
		}
	})
	t.Run("linking", func(t *testing.T) {
		if propagates && sum.Linked == 0 {
			t.Errorf("no trace crosses services although doctor says the agent can propagate context")
		}
		if !propagates && sum.Linked != 0 {
			t.Errorf("%d traces cross services although doctor says the agent cannot write headers here (%s)", sum.Linked, propagationWhy)
		}
	})
}

// checkPrometheus asserts the metrics of every source and runs every dashboard query. beylaRan says
// whether Beyla observed a lane of the run, beylaLinks whether it can link its services here.
func checkPrometheus(t *testing.T, rep *report.Report, promURL string, lanes []*native.Lane, autoPropagates, beylaRan, beylaLinks bool) {
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
			n, queryErr = count(prom, expr)
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
	spanLanes := []string{"otel-auto", "otel-auto-nohint", "manual"}
	if beylaRan {
		spanLanes = append(spanLanes, "beyla")
		must(`http_server_request_duration_seconds_count{lane="beyla"}`, "Beyla's own RED metrics, scraped")
		must(`traces_span_metrics_calls_total{lane="beyla", http_route="/products/:sku"}`, "Beyla's spans carry beyla-config.yml's routes")
	}
	for _, name := range spanLanes {
		must(fmt.Sprintf(`traces_span_metrics_calls_total{lane=%q}`, name), "span metrics with the lane label")
	}
	must(`traces_span_metrics_calls_total{lane="otel-auto", http_route="/products/:sku"}`, "span metrics carry the route the hint gave")
	must(`traces_service_graph_request_total{client_lane="manual", server_lane="manual"}`, "service-graph edges of the manual lane")
	if autoPropagates {
		must(`traces_service_graph_request_total{client_lane="otel-auto"}`, "service-graph edges of the otel-auto lane")
	}
	if beylaLinks {
		must(`traces_service_graph_request_total{client_lane="beyla", server_lane="beyla"}`, "service-graph edges of the beyla lane")
	}
	if n, _ := count(prom, `traces_span_metrics_calls_total{lane="plain"}`); n != 0 {
		t.Errorf("Prometheus: the plain lane has span metrics")
	}

	// Every query of every dashboard, for each lane it concerns.
	rep.Printf("\ndashboard queries (service=gateway for per-service panels):\n")
	laneNames := map[string]bool{}
	for _, l := range lanes {
		laneNames[l.Name] = true
	}
	all, err := dashboards.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, dq := range dashboards.Queries(all) {
		parsed, err := dashboards.Parse(dq.Expr)
		if err != nil {
			t.Errorf("%s: %v", dq.Where, err)
			continue
		}
		names := dashboards.Metrics(parsed)
		var runLanes []string
		switch dashboards.SourceOf(names) {
		case dashboards.Beyla:
			if !beylaRan {
				rep.Printf("%-12s %s: %s\n", "not here", dq.Where, "no Beyla in this run (BEYLA_BIN)")
				continue
			}
			runLanes = []string{"beyla"}
		case dashboards.Sampler:
			rep.Printf("%-12s %s: %s\n", "not here", dq.Where, "the two-tier form only (docker-compose.sampling.yml): the compose run checks it")
			continue
		case dashboards.Collector:
			runLanes = []string{""}
		case dashboards.Shop:
			runLanes = []string{"plain", "otel-auto", "manual"}
		case dashboards.Spans:
			runLanes = []string{"otel-auto", "manual"}
		case dashboards.Graph:
			runLanes = []string{"manual"}
			if autoPropagates {
				runLanes = append(runLanes, "otel-auto")
			}
			if beylaLinks {
				runLanes = append(runLanes, "beyla")
			}
		}
		if beylaRan && (dashboards.SourceOf(names) == dashboards.Shop || dashboards.SourceOf(names) == dashboards.Spans) {
			runLanes = append(runLanes, "beyla")
		}
		for _, ln := range runLanes {
			q := strings.NewReplacer("$__rate_interval", "1m", "$lane", ln, "$service", "gateway").Replace(dq.Expr)
			var n int
			var err error
			if dashboards.FailureOnly(names) {
				n, err = count(prom, q)
			} else {
				n, err = eventually(q)
			}
			label := dq.Where + " (" + strings.Join(names, ", ") + ")"
			if ln != "" {
				label += " [" + ln + "]"
			}
			switch {
			case n > 0:
				rep.Printf("%-12s %s\n", fmt.Sprintf("%d series", n), label)
			case dashboards.FailureOnly(names):
				rep.Printf("%-12s %s (counts failures; none happened)\n", "0 series", label)
			default:
				rep.Printf("%-12s %s\n", "NO DATA", label)
				t.Errorf("dashboard query returned nothing: %s\n  %s\n  a series of that metric: %s", label, q, query.SeriesOf(context.Background(), prom, names[0]))
			}
			if err != nil {
				t.Errorf("%s: %v", label, err)
			}
		}
	}
	rep.Printf("\n")
}

// checkLoki asserts that every service of every lane logged to Loki with its labels, and that the
// manual lane's lines carry the trace id in the record's own field: it takes a settled checkout's trace
// id from the sink itself, whatever the other checks found.
func checkLoki(t *testing.T, rep *report.Report, lokiURL string, lanes []*native.Lane, sink *spans.Sink) {
	rep.Printf("== Loki ==\n%-18s", "lane")
	for _, svc := range native.Services {
		rep.Printf(" %10s", svc)
	}
	rep.Printf("\n")
	for _, l := range lanes {
		rep.Printf("%-18s", l.Name)
		for _, svc := range native.Services {
			n, err := query.LokiLines(context.Background(), http.DefaultClient, lokiURL, fmt.Sprintf(`{lane=%q, service_name=%q}`, l.Name, svc), 15*time.Minute)
			rep.Printf(" %10d", n)
			if err != nil || n == 0 {
				t.Errorf("no log line from %s in lane %s (%v)", svc, l.Name, err)
			}
		}
		rep.Printf("\n")
	}
	var traceID string
	for id, tr := range spans.ByTrace(sink.Spans("manual")) {
		if summary.SettledCheckout(tr, time.Now().Add(-5*time.Second)) {
			traceID = id
			break
		}
	}
	if traceID == "" {
		t.Fatal("no manual checkout ended 5 s ago to look its log lines up by")
	}
	q := fmt.Sprintf(`{lane="manual"} | trace_id=%q`, traceID)
	n, err := query.LokiLines(context.Background(), http.DefaultClient, lokiURL, q, 15*time.Minute)
	rep.Printf("log lines of manual trace %s found by its trace_id field: %d\n\n", traceID, n)
	if err != nil || n < 4 {
		t.Errorf("%s found %d lines (%v); want the access lines of all four services", q, n, err)
	}
}

// ---------------------------------------------------------------------------------------------
// Starting things.

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

// count runs an instant query and returns how many series it answered.
func count(prom promv1.API, expr string) (int, error) {
	vec, err := query.Vector(context.Background(), prom, expr)
	return len(vec), err
}

// beylaRun is what the run knows of its Beyla: whether it ran, and the label its figures carry.
type beylaRun struct {
	ran   bool
	label string
}

// beylaRan reports the Beyla of the run, if any, and records in facts what it showed: on a kernel
// without kprobes, a Beyla that instrumented the lane is a build whose discovery polls /proc.
func beylaRan(rep *report.Report, b *native.Beyla, facts *doctor.Facts) beylaRun {
	if b == nil {
		return beylaRun{}
	}
	label := b.Label(facts.Kprobes)
	facts.BeylaPollsProc = !facts.Kprobes
	rep.Printf("== %s: instrumented the beyla lane's 4 processes %.1f s after its start ==\n", label, b.Attach.Seconds())
	rep.Printf("its configuration (beyla/beyla-config.yml, adapted to this machine):\n%s\n", b.Config)
	return beylaRun{ran: true, label: label}
}
