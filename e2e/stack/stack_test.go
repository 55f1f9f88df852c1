//go:build compose

package stack

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/lab"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/wait"
)

const root = "../.."

// routes each service serves (from the services' routes.go; /healthz is the container healthcheck's,
// /metrics Prometheus'), as the agent must name them.
var routes = map[string][]string{
	"gateway":   {"/api/checkout", "/api/products", "/healthz", "/metrics"},
	"catalog":   {"/products", "/products/:sku", "/healthz", "/metrics"},
	"inventory": {"/stock/:sku", "/reservations", "/reservations/:id/confirm", "/reservations/:id/release", "/healthz", "/metrics"},
	"orders":    {"/orders", "/orders/:id", "/orders/voids", "/healthz", "/metrics"},
}

func TestComposeStack(t *testing.T) {
	ctx := context.Background()
	// The lanes the run brings up: every lane this machine can run. spanLanes must send spans; plain
	// must send none. Beyla's image cannot be pulled here: make images builds it where the user gives a
	// Beyla binary (BEYLA_BIN), and the beyla lane runs where that image is.
	lanes := []string{"plain", "otel-auto", "manual"}
	spanLanes := []string{"otel-auto", "manual"}
	beyla, noBeyla, err := beylaLane(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if beyla {
		lanes, spanLanes = append(lanes, "beyla"), append(spanLanes, "beyla")
	}
	run, rep := upForTest(t, Options{Name: "zero-code-lab-e2e", Lanes: lanes}, "e2e-compose-report.txt")
	if !beyla {
		rep.Printf("the beyla lane is left out: %s\n", noBeyla)
	}

	gateways := map[string]string{}
	for _, lane := range lanes {
		addr, err := run.HostAddr(ctx, lane+"-gateway", 8080)
		if err != nil {
			t.Fatal(err)
		}
		gateways[lane] = "http://" + addr
	}
	client := &http.Client{Timeout: 10 * time.Second}

	t.Run("every container runs, healthy where it has a healthcheck", func(t *testing.T) {
		cs, err := run.Containers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rep.Printf("%-28s %-10s %s\n", "service", "state", "health")
		for _, name := range sortedKeys(cs) {
			c := cs[name]
			rep.Printf("%-28s %-10s %s\n", c.Service, c.State, c.Health)
			if !c.Ready() {
				t.Errorf("%s is %s %s", c.Service, c.State, c.Health)
			}
		}
		for _, lane := range lanes {
			for _, svc := range native.Services {
				if _, ok := cs[lane+"-"+svc]; !ok {
					t.Errorf("no container for %s-%s", lane, svc)
				}
			}
		}
	})

	t.Run("every image is what its official image is: user, entrypoint, command, directories", func(t *testing.T) {
		out, err := run.Compose(ctx, "config", "--images")
		if err != nil {
			t.Fatal(err)
		}
		rep.Printf("\n%-88s %s\n", "image", "user, entrypoint, command, directories (owner:group mode)")
		for _, ref := range slices.Compact(slices.Sorted(slices.Values(strings.Fields(out)))) {
			want, ok := ImageOf(ref)
			if !ok {
				t.Errorf("%s: not described in stack.Images", ref)
				continue
			}
			got, err := run.InspectImage(ctx, ref, slices.Sorted(maps.Keys(want.Dirs)))
			if err != nil {
				t.Error(err)
				continue
			}
			rep.Printf("%-88s %q %q %q %v\n", ref, got.User, got.Entrypoint, got.Cmd, got.Dirs)
			if got.User != want.User || !slices.Equal(got.Entrypoint, want.Entrypoint) || !slices.Equal(got.Cmd, want.Cmd) || !maps.Equal(got.Dirs, want.Dirs) {
				t.Errorf("%s is\n  user %q entrypoint %q cmd %q dirs %v\nwant\n  user %q entrypoint %q cmd %q dirs %v",
					ref, got.User, got.Entrypoint, got.Cmd, got.Dirs, want.User, want.Entrypoint, want.Cmd, want.Dirs)
			}
		}
		// The stand-in runs as Tempo and owns its directory as Tempo's image does.
		if s, tempo := Images["zero-code-lab/tempo-standin"], Images["grafana/tempo"]; s.User != tempo.User || !maps.Equal(s.Dirs, tempo.Dirs) {
			t.Errorf("the Tempo stand-in's user %q and directories %v differ from Tempo's %q %v", s.User, s.Dirs, tempo.User, tempo.Dirs)
		}
	})

	t.Run("each lane runs binaries of its own", func(t *testing.T) {
		dir := t.TempDir()
		owner := map[string]string{} // sha256 -> lane/service
		for _, lane := range lanes {
			for _, svc := range native.Services {
				dst := filepath.Join(dir, lane+"-"+svc)
				if _, err := run.Compose(ctx, "cp", lane+"-"+svc+":/app/"+svc, dst); err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(dst)
				if err != nil {
					t.Fatal(err)
				}
				sum := fmt.Sprintf("%x", sha256.Sum256(data))
				if other, ok := owner[sum]; ok {
					t.Errorf("%s-%s runs the same binary file as %s: uprobes on one trap in both", lane, svc, other)
				}
				owner[sum] = lane + "-" + svc
			}
		}
		rep.Printf("\n%d shop binaries, %d distinct files\n", len(lanes)*len(native.Services), len(owner))
	})

	// The run's own checkouts, one per lane, each with a traceparent whose trace id the checks look for.
	first := map[string]Sent{}
	t.Run("a checkout answers 201 on each lane's published port", func(t *testing.T) {
		rep.Section("one checkout per lane, on the published ports")
		for _, lane := range lanes {
			s := Checkout(ctx, client, lane, gateways[lane])
			first[lane] = s
			rep.Printf("%-10s %s  %d  trace %s\n", lane, gateways[lane], s.Status, s.TraceID)
			if s.Status != http.StatusCreated {
				t.Errorf("%s: checkout at %s answered %d; want 201", lane, gateways[lane], s.Status)
			}
		}
	})

	t.Run("every Go auto agent attaches to its own service and its spans carry the lane and the route", func(t *testing.T) {
		rep.Section("Go auto agents (one sidecar per service, in its PID namespace)")
		for _, svc := range native.Services {
			agent := "otel-auto-" + svc + "-agent"
			if err := waitAttached(ctx, run, agent); err != nil {
				logs, _ := run.Logs(ctx, agent)
				t.Fatalf("%v\n%s", err, report.Tail(logs, 3000))
			}
		}
		// Agents see only requests made after they attach: the load keeps coming, so each service's
		// SERVER spans arrive; each names routes only that service serves.
		checkServerRoutes(ctx, t, rep, run, "otel-auto", "the agent attached to another process, or the route hint is off")
	})

	t.Run("Beyla instruments the beyla lane: routes from beyla-config.yml, a checkout one trace where the kernel lets it link", func(t *testing.T) {
		if !beyla {
			t.Skip(noBeyla)
		}
		checkBeyla(ctx, t, rep, run, client, gateways["beyla"])
	})

	t.Run("the manual lane's checkout is one trace across the four services", func(t *testing.T) {
		s := first["manual"]
		var tree []spans.Span
		err := wait.Eventually(ctx, "the manual checkout's spans from all four services", 90*time.Second, 2*time.Second, func() error {
			received, err := run.Spans()
			if err != nil {
				return err
			}
			tree = tree[:0]
			got := map[string]bool{}
			for _, sp := range received {
				if sp.TraceID().String() == s.TraceID {
					tree = append(tree, sp)
					got[sp.Service] = true
				}
			}
			if len(got) < len(native.Services) {
				return fmt.Errorf("services so far: %v", sortedKeys(got))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		inTrace := map[string]bool{}
		for _, sp := range tree {
			inTrace[sp.Service] = true
		}
		roots := spans.Roots(tree)
		rep.Section("manual lane")
		rep.Printf("checkout trace %s: %d spans, services %v, roots %v\n", s.TraceID, len(tree), sortedKeys(inTrace), roots)
		if len(roots) != 1 {
			t.Errorf("the manual checkout's trace has %d roots %v; want 1 (the gateway's SERVER span, child of the client's)", len(roots), roots)
		}
	})

	t.Run("the plain lane sends no span", func(t *testing.T) {
		received, err := run.Spans()
		if err != nil {
			t.Fatal(err)
		}
		perLane := map[string]int{}
		for _, sp := range received {
			perLane[sp.Lane]++
		}
		rep.Section("spans received by the Tempo stand-in, per lane")
		for _, lane := range lanes {
			rep.Printf("%-10s %d\n", lane, perLane[lane])
		}
		if perLane["plain"] != 0 {
			t.Errorf("the plain lane sent %d spans; it has no instrumentation", perLane["plain"])
		}
		for _, lane := range spanLanes {
			if perLane[lane] == 0 {
				t.Errorf("the %s lane sent no span", lane)
			}
		}
	})

	promQL, err := run.Prometheus(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A series of process_start_time_seconds means its target was scraped; its lane label comes from the
	// service itself (prometheus.yml gives the shop's targets none).
	t.Run("Prometheus scrapes every shop target of the running lanes, each labelled with its lane by the service", func(t *testing.T) {
		up := map[string]float64{}
		err := wait.Eventually(ctx, "every shop target of the running lanes scraped", 90*time.Second, 3*time.Second, func() error {
			v, _, _, err := promQL.Query(ctx, `process_start_time_seconds{job="shop"} > bool 0`, time.Now())
			if err != nil {
				return err
			}
			up = map[string]float64{}
			for _, s := range v.(model.Vector) {
				up[string(s.Metric["lane"])+"/"+string(s.Metric["service"])] = float64(s.Value)
			}
			for _, lane := range lanes {
				for _, svc := range native.Services {
					if up[lane+"/"+svc] != 1 {
						return fmt.Errorf("%s/%s is %v", lane, svc, up[lane+"/"+svc])
					}
				}
			}
			return nil
		})
		rep.Section("Prometheus: process_start_time_seconds{job=\"shop\"} > bool 0, by lane/service")
		for _, k := range sortedKeys(up) {
			rep.Printf("%-20s %v\n", k, up[k])
		}
		if err != nil {
			t.Error(err)
		}
	})

	t.Run("Loki holds every shop container's lines by service and lane, manual lines with their trace_id", func(t *testing.T) {
		loki := func(query string) (int, error) { return run.LokiLines(ctx, query) }
		rep.Section("Loki: lines by lane and service (Docker's fluentd driver -> Collector -> Loki)")
		err := wait.Eventually(ctx, "log lines of every shop container in Loki", 2*time.Minute, 5*time.Second, func() error {
			for _, lane := range lanes {
				for _, svc := range native.Services {
					if n, err := loki(fmt.Sprintf(`{lane=%q, service_name=%q}`, lane, svc)); err != nil || n == 0 {
						return fmt.Errorf("%s/%s: %d lines (%v)", lane, svc, n, err)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		for _, lane := range lanes {
			rep.Printf("%-10s", lane)
			for _, svc := range native.Services {
				n, _ := loki(fmt.Sprintf(`{lane=%q, service_name=%q}`, lane, svc))
				rep.Printf(" %s=%d", svc, n)
			}
			rep.Printf("\n")
		}
		q := fmt.Sprintf(`{lane="manual"} | trace_id=%q`, first["manual"].TraceID)
		var n int
		err = wait.Eventually(ctx, "the manual checkout's lines by their trace_id field", time.Minute, 5*time.Second, func() error {
			var err error
			n, err = loki(q)
			if err == nil && n < len(native.Services) {
				err = fmt.Errorf("%d lines", n)
			}
			return err
		})
		rep.Printf("%s: %d lines\n", q, n)
		if err != nil {
			t.Errorf("%v; want the access line of each of the four services", err)
		}
	})

	t.Run("the lab page compares every lane: running lanes answer, the lane that is off is shown off", func(t *testing.T) {
		rep.Section("the lab page (compose service lab): one normal checkout in every lane")
		addr, err := run.HostAddr(ctx, "lab", 8090)
		if err != nil {
			t.Fatal(err)
		}
		page, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		page.Body.Close()
		if page.StatusCode != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET / answered %d %s; want the page", page.StatusCode, page.Header.Get("Content-Type"))
		}
		got, err := lab.Ask(ctx, addr, "normal")
		if err != nil {
			t.Fatal(err)
		}
		running := map[string]bool{}
		for _, lane := range lanes {
			running[lane] = true
		}
		for _, l := range got.Lanes {
			rep.Printf("%-10s answer %d  off %q  trace %q\n", l.Name, l.Status, l.Off, l.Missing)
			switch {
			case running[l.Name] && l.Status != http.StatusCreated:
				t.Errorf("lane %s is running but its checkout answered %d (off: %q)", l.Name, l.Status, l.Off)
			case !running[l.Name] && !strings.Contains(l.Off, "does not answer"):
				t.Errorf("lane %s is off but shown as %q", l.Name, l.Off)
			}
		}
		if len(got.Lanes) != 4 {
			t.Errorf("%d lanes compared; want the four of LAB_LANES", len(got.Lanes))
		}
		for _, row := range got.Capabilities {
			for _, lane := range lanes {
				cell := row.Cells[lane]
				rep.Printf("  %-40s %-10s %-7s %s\n", row.Name, lane, cell.Verdict, cell.Reason)
			}
			// Loki and Prometheus are the real ones: every running lane's lines and series are found,
			// and no sampler runs, so every span is kept.
			want := map[string]compare.Verdict{string(compare.Logs): compare.Yes, string(compare.RED): compare.Yes, string(compare.Sampled): compare.NA}
			if w, ok := want[row.Name]; ok {
				for _, lane := range lanes {
					if v := row.Cells[lane].Verdict; v != string(w) {
						t.Errorf("lane %s, %s: %s (%s); want %s", lane, row.Name, v, row.Cells[lane].Reason, w)
					}
				}
			}
		}
		rep.Printf("The stand-in for Tempo stores spans but serves no query API, so the span rows say why no trace\n" +
			"could be read. Where the engine has Tempo's image, TestComposeRealTempo checks those rows against it.\n")
	})

	t.Run("make lane-off and lane-on act on that lane alone, and the others keep reporting", func(t *testing.T) {
		rep.Section("lane off and on (make lane-off LANE=manual, make lane-on LANE=manual)")
		if _, err := run.Make(ctx, "lane-off", "LANE=manual"); err != nil {
			t.Fatal(err)
		}
		cs, err := run.Containers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			manual := strings.HasPrefix(c.Service, "manual-")
			if manual && c.State == "running" {
				t.Errorf("after lane-off, %s still runs", c.Service)
			}
			if !manual && !c.Ready() {
				t.Errorf("after lane-off manual, %s is %s %s: it should not have been touched", c.Service, c.State, c.Health)
			}
		}
		// The otel-auto lane keeps reporting: a checkout sent now gets its gateway span.
		s := Checkout(ctx, client, "otel-auto", gateways["otel-auto"])
		err = wait.Eventually(ctx, "the otel-auto lane's span while manual is off", time.Minute, 2*time.Second, func() error {
			received, err := run.Spans()
			if err != nil {
				return err
			}
			if l := Losses([]Sent{s}, received); l[0].Received != 1 {
				return fmt.Errorf("checkout answered %d, span not received", s.Status)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		rep.Printf("manual off: every other container untouched; otel-auto checkout %d, its span received: %v\n", s.Status, err == nil)
		if _, err := run.Make(ctx, "lane-on", "LANE=manual"); err != nil {
			t.Fatal(err)
		}
		if err := run.WaitReady(ctx, 2*time.Minute, "manual-gateway", "manual-catalog", "manual-inventory", "manual-orders"); err != nil {
			t.Fatal(err)
		}
		s = Checkout(ctx, client, "manual", gateways["manual"])
		rep.Printf("manual on again: checkout %d\n", s.Status)
		if s.Status != http.StatusCreated {
			t.Errorf("after lane-on, the manual checkout answered %d", s.Status)
		}
	})

	t.Run("faults under load lose no acknowledged span", func(t *testing.T) {
		tracker := &Tracker{Client: client, Gateways: map[string]string{}}
		// The lanes whose senders export OTLP/gRPC with retries: Beyla's exporter is its own (OTLP/HTTP),
		// and what it loses in these faults is not measured here.
		for _, lane := range []string{"otel-auto", "manual"} {
			tracker.Gateways[lane] = gateways[lane]
		}
		loadCtx, stopLoad := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { tracker.Run(loadCtx, 250*time.Millisecond); close(done) }()

		tracker.Phase(phaseSteady)
		time.Sleep(15 * time.Second)

		tracker.Phase(phaseTempo)
		if _, err := run.Compose(ctx, "stop", "tempo"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Second)
		if _, err := run.Compose(ctx, "start", "tempo"); err != nil {
			t.Fatal(err)
		}
		// What the Collector queued during the outage reaches Tempo once its exporter's next retry finds
		// it back (the backoff grows to 30 s). The next fault waits for that, so that each phase's count
		// is about its own fault; the final check below still asserts that nothing of it was lost.
		tempoBack := time.Now()
		drainErr := waitDelivered(ctx, run, "the spans queued during Tempo's outage delivered", 2*time.Minute, 2*time.Second,
			func() []Sent { return tracker.SentIn(phaseTempo) })
		drained := time.Since(tempoBack)

		// Each fault's phase begins faultLead before the fault: a sender's batch that the fault loses holds
		// the spans of the seconds before it, and those checkouts belong to the fault, not to the phase before.
		tracker.Phase(phaseCollector)
		time.Sleep(faultLead)
		if _, err := run.Compose(ctx, "restart", "otel-collector"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(15 * time.Second)

		// Eleven bytes on the Collector's published fluent forward port kill it (contrib#48519): the
		// engine restarts it (restart: unless-stopped) and its queues on disk keep what it acknowledged.
		tracker.Phase(phaseCrash)
		time.Sleep(faultLead)
		crash, err := crashCollector(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(15 * time.Second)
		// The next fault kills the otel-auto gateway, and its agent with it, and the batch the agent holds
		// then. Its phase begins faultLead before the kill, so that this batch is the kill's; but a batch
		// the crash delayed (the exporter retries 5 s apart and more) can be older: wait until this
		// phase's checkouts older than a batch have arrived. Nothing fails here; the final count decides.
		crashDrainErr := waitDelivered(ctx, run, "the crash phase's spans delivered", time.Minute, time.Second, func() []Sent {
			var older []Sent
			for _, s := range tracker.SentIn(phaseCrash) {
				if time.Since(s.At) > batchDelay+time.Second {
					older = append(older, s)
				}
			}
			return older
		})

		// kill -9 of the otel-auto gateway's process: the engine restarts it (restart: unless-stopped),
		// its sidecar dies with the PID namespace and is restarted to attach again.
		tracker.Phase(phaseKill)
		time.Sleep(faultLead)
		agentLogs := func() string { l, _ := run.Logs(ctx, "otel-auto-gateway-agent"); return l }
		loadedBefore := strings.Count(agentLogs(), "instrumentation loaded successfully")
		pid, err := run.PID(ctx, "otel-auto-gateway")
		if err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		attached := func() error {
			if n := strings.Count(agentLogs(), "instrumentation loaded successfully"); n <= loadedBefore {
				return errors.New("not yet")
			}
			return nil
		}
		// The sidecar dies with its target's PID namespace, and the engine restarts both at once. If it
		// starts the sidecar before the target runs again, joining the namespace fails ("is restarting")
		// and the engine gives up on the sidecar. Then the README's remedy brings it back: make lane-on.
		restartedByEngine := true
		err = wait.Eventually(ctx, "the gateway's agent attached again", time.Minute, time.Second, attached)
		if err != nil {
			cs, cerr := run.Containers(ctx)
			if cerr != nil || cs["otel-auto-gateway-agent"].State == "running" {
				t.Fatalf("%v; the sidecar runs but did not attach (%v)", err, cerr)
			}
			restartedByEngine = false
			if _, err := run.Make(ctx, "lane-on", "LANE=otel-auto"); err != nil {
				t.Fatal(err)
			}
			if err := wait.Eventually(ctx, "the gateway's agent attached after make lane-on", time.Minute, time.Second, attached); err != nil {
				t.Fatal(err)
			}
		}
		reattach := time.Since(killed)
		steps, err := reattachSteps(ctx, run, "otel-auto-gateway", "otel-auto-gateway-agent", killed)
		if err != nil {
			steps = "not read: " + err.Error() // a diagnostic: the count below still decides
		}
		// The agent logs that it loaded a moment before its probes catch requests: the phase, and its
		// budget, run until attachGrace after the line.
		time.Sleep(attachGrace)

		tracker.Phase(phaseAfter)
		time.Sleep(15 * time.Second)
		stopLoad()
		<-done

		// The otel-auto checkouts whose spans the kill may take: those the agent held in its batch when it
		// was killed with its target (up to one batch delay before the kill), and those answered before the
		// new agent attached (and its grace).
		beforeReattach := 0
		for _, s := range tracker.SentIn(phaseKill) {
			if s.Lane == "otel-auto" && s.Answered() && !s.At.Before(killed.Add(-batchDelay)) && s.At.Before(killed.Add(reattach+attachGrace)) {
				beforeReattach++
			}
		}
		// How many answered checkouts of a lane and phase may have no span, and why; by default none. A
		// Collector restart or crash costs none: the senders retry until it is back (OTLP over gRPC).
		budget := func(l Loss) int {
			if l.Phase == phaseKill && l.Lane == "otel-auto" {
				return beforeReattach
			}
			return 0
		}
		// Whatever the Collector accepted must arrive: wait until every lane and phase is within its
		// budget, or until the wait gives up.
		var losses []Loss
		settleErr := wait.Eventually(ctx, "every answered checkout's span in the trace backend", 3*time.Minute, 5*time.Second, func() error {
			received, err := run.Spans()
			if err != nil {
				return err
			}
			losses = Losses(tracker.Sent(), received)
			for _, l := range losses {
				if b := budget(l); l.Lost() > b {
					return fmt.Errorf("%s %s: %d of %d not received (budget %d)", l.Lane, l.Phase, l.Lost(), l.Answered, b)
				}
			}
			return nil
		})

		var senders []string
		for _, svc := range native.Services {
			senders = append(senders, "otel-auto-"+svc+"-agent", "manual-"+svc)
		}
		exportErrs, err := exportErrors(ctx, run, senders)
		if err != nil {
			t.Error(err)
		}

		// The Collector itself refused nothing, through every fault (its counters restart with it, hence max_over_time).
		refused := -1.0
		if v, _, _, err := promQL.Query(ctx, `sum(max_over_time(otelcol_receiver_refused_spans[15m]))`, time.Now()); err != nil {
			t.Error(err)
		} else if vec := v.(model.Vector); len(vec) == 1 {
			refused = float64(vec[0].Value)
		}
		if refused != 0 {
			t.Errorf("the Collector refused %v spans during the faults (-1: no such series); want 0", refused)
		}

		rep.Section("faults under load: the run's own checkouts (4 per second per lane) against the gateway SERVER spans received")
		PrintLosses(rep, losses)
		rep.Printf("\n%s\n", strings.Join([]string{
			"Tempo stopped: the Collector keeps what it accepted in its file-backed queue and delivers it when Tempo is back.",
			drainLine(drained, drainErr),
			fmt.Sprintf("Each fault's phase below begins %s before the fault: a sender's lost batch holds the spans of the seconds before it.", faultLead),
			fmt.Sprintf("Collector restarted: the Collector refused %v spans (otelcol_receiver_refused_spans). While it is down", refused),
			"  the senders (the SDK build and the Go auto agent, OTLP over gRPC) cannot connect: its name does not resolve,",
			"  or the connection is refused. gRPC calls that Unavailable, which the exporter retries, 5 s apart and more,",
			"  jittered, within the export timeout (OTEL_EXPORTER_OTLP_TIMEOUT, 30 s): a Collector back within about 15 s gets the batch.",
			"  Budget: none.",
			crash.String(),
			map[bool]string{true: "  Its delayed batch had arrived before the next fault began.",
				false: fmt.Sprintf("  Its delayed batch had not all arrived before the next fault began (%v).", crashDrainErr)}[crashDrainErr == nil],
			fmt.Sprintf("Gateway killed with -9: the engine restarted it and its Go auto agent attached again %.1f s after the kill", reattach.Seconds()),
			map[bool]string{
				true: "  (the engine restarted the sidecar too);",
				false: "  (the engine had restarted the sidecar before its target ran again, so joining the target's PID\n" +
					"  namespace failed and the engine gave up on it: make lane-on LANE=otel-auto started it, as the README says);",
			}[restartedByEngine],
			"  From the kill: " + steps + ".",
			fmt.Sprintf("  %d otel-auto checkouts were answered from %s before the kill to %s after its \"instrumentation loaded\" line.", beforeReattach, batchDelay, attachGrace),
			"  They may have no span: the agent dies with its target, and the batch it held (its last 5 s) with it; the new",
			"  agent sees only requests made after it attaches (it reads the binary's DWARF, our Go being newer than its",
			"  offset table), and its probes catch requests a moment after that line. The budget is those.",
			"The compose load generator ran at its own pace throughout, beside these checkouts.",
			fmt.Sprintf("Export errors in the senders' logs (an export retried until it got through logs none): %d senders.", len(exportErrs)),
		}, "\n"))
		for _, line := range exportErrs {
			rep.Printf("  %s\n", line)
		}
		if settleErr != nil {
			t.Error(settleErr)
		}
		for _, l := range losses {
			if l.Answered == 0 {
				t.Errorf("%s %s: no checkout answered", l.Lane, l.Phase)
			}
		}
	})
}

// The phases of the fault run, in order.
const (
	phaseSteady    = "1 steady"
	phaseTempo     = "2 Tempo stopped 60 s"
	phaseCollector = "3 Collector restarted"
	phaseCrash     = "4 Collector crashed"
	phaseKill      = "5 gateway killed (-9)"
	phaseAfter     = "6 after the faults"
)

// attachGrace is how long after the Go auto agent's "instrumentation loaded" line its probes may still
// miss a request: in one run, 4 of the 5 checkouts of the next 1.25 s had no span.
const attachGrace = 3 * time.Second

// faultLead is how long before its fault a phase begins: longer than the senders' batch delay.
const faultLead = 7 * time.Second

// batchDelay is the senders' batch delay: compose leaves OTEL_BSP_SCHEDULE_DELAY at its default, 5 s.
const batchDelay = 5 * time.Second

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// waitAttached waits until a Go auto agent reports its instrumentation loaded.
func waitAttached(ctx context.Context, run *Run, agent string) error {
	return wait.Eventually(ctx, agent+" reports its instrumentation loaded", 3*time.Minute, 2*time.Second, func() error {
		logs, err := run.Logs(ctx, agent)
		if err != nil {
			return err
		}
		if !strings.Contains(logs, "instrumentation loaded successfully") {
			return errors.New("no \"instrumentation loaded successfully\" in its log yet")
		}
		return nil
	})
}

// upForTest brings a stack up for a test, with root and a scratch directory of the test's. The report
// it returns is written to build/<reportName> and printed when the test ends, with every command and its
// output if the test failed; the stack is torn down before, and nothing of it may be left.
func upForTest(t *testing.T, o Options, reportName string) (*Run, *report.Report) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the compose run starts privileged agents and mounts securityfs: run it as root (sudo make e2e-compose)")
	}
	rep := &report.Report{}
	log := &report.Log{}
	o.Root, o.Scratch, o.Log = root, t.TempDir(), log
	t.Cleanup(func() { // registered first, so it runs last: after the tear down below
		if err := rep.Save(filepath.Join(root, "build", reportName)); err != nil {
			t.Errorf("write the report: %v", err)
		}
		rep.WriteTo(os.Stdout)
		if t.Failed() {
			fmt.Printf("\n== commands and their output ==\n%s", log.String())
		}
	})

	started := time.Now()
	run, err := Up(context.Background(), o)
	t.Cleanup(func() {
		if run == nil {
			return
		}
		mounted := run.Mounted()
		if err := run.Down(context.Background()); err != nil {
			t.Errorf("tear down: %v", err)
			return
		}
		rep.Section("tear down")
		rep.Printf("docker compose down --volumes: no container of the project left; unmounted what the run mounted: %v\n", mounted)
	})
	if err != nil {
		if run != nil && run.Project != nil {
			ps, _ := run.Compose(context.Background(), "ps", "--all")
			t.Fatalf("%v\n%s", err, ps)
		}
		t.Fatal(err)
	}
	rep.Section("the stack")
	rep.Printf("up and healthy after %.0f s (images built by compose from services/Dockerfile; the rest built locally under the compose file's names)\n", time.Since(started).Seconds())
	rep.Printf("compose files: docker-compose.yml %v, lanes %v\n", o.Files, o.Lanes)
	if len(run.Mounted()) > 0 {
		rep.Printf("mounted for the run: %v (the agents read the lockdown mode there)\n", run.Mounted())
	}
	rep.Section("the upstream components: whose image runs")
	env, err := native.DotEnv(root)
	if err != nil {
		t.Fatal(err)
	}
	comps, err := Components(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range comps {
		rep.Printf("%-24s %-96s %s\n", c.Name, c.Image, describe(c, o))
	}
	return run, rep
}

// describe says what runs for a component in a run with options o: its own image, one built here, a
// stand-in, or nothing.
func describe(c Component, o Options) string {
	switch {
	case c.Name == "Tempo" && !o.Tempo:
		return "a stand-in: a Collector that writes every span to a file, with no query API"
	case c.Name == "Grafana" && !o.Grafana, c.Name == "Beyla" && !slices.Contains(o.Lanes, "beyla"):
		if c.Origin == Missing {
			return "left out: the engine has no image"
		}
		return "not in this run"
	case c.Origin == Upstream:
		return "its image (not built by make images: pulled or loaded)"
	case c.Name == "Beyla":
		return "built here from the Beyla binary given (BEYLA_BIN), in an image like the official one"
	}
	return "built here from its source module at the pinned version, in an image like the official one"
}

// checkServerRoutes waits until every service of lane has sent SERVER spans, reports them by http.route,
// and fails on a route the service does not serve, saying what that would mean (why).
func checkServerRoutes(ctx context.Context, t *testing.T, rep *report.Report, run *Run, lane, why string) {
	t.Helper()
	seen := map[string]map[string]int{}
	err := wait.Eventually(ctx, "SERVER spans from every "+lane+" service", 3*time.Minute, 3*time.Second, func() error {
		received, err := run.Spans()
		if err != nil {
			return err
		}
		seen = map[string]map[string]int{}
		for _, sp := range received {
			if sp.Lane == lane && sp.Kind() == ptrace.SpanKindServer {
				if seen[sp.Service] == nil {
					seen[sp.Service] = map[string]int{}
				}
				seen[sp.Service][sp.Route()]++
			}
		}
		for _, svc := range native.Services {
			if len(seen[svc]) == 0 {
				return fmt.Errorf("none yet from %s", svc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range native.Services {
		rep.Printf("%-10s SERVER spans by http.route: %v\n", svc, seen[svc])
		for route := range seen[svc] {
			if !slices.Contains(routes[svc], route) {
				t.Errorf("%s %s: SERVER span with http.route %q, which %s does not serve: %s", lane, svc, route, svc, why)
			}
		}
	}
}
