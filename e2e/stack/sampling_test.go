//go:build compose

package stack

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/dashboards"
	"github.com/zerocodelab/lab/e2e/lab"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/query"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/wait"
)

// The sampling run's lanes: one whose checkouts are one trace, one whose checkouts split under lockdown.
var samplingLanes = []string{"otel-auto", "manual"}

// How many checkouts of each scenario the run sends each lane, besides the load generator's.
const checkoutsPerScenario = 10

// The two-tier form of docker-compose.sampling.yml on the engine: the Collector routes each trace by its id
// to one of two samplers, which keep errors, slow traces, every trace of the split lanes and 10 % of the
// rest. Each trace in Tempo comes whole from one sampler, both samplers decide, what the policies must
// keep is kept, the lab and the dashboard show it, and a sampler killed with -9 loses only what it held.
func TestComposeTwoTierSampling(t *testing.T) {
	ctx := context.Background()
	run, rep := upForTest(t, Options{Name: "zero-code-lab-e2e-sampling", Lanes: samplingLanes, Files: []string{"docker-compose.sampling.yml"}},
		"e2e-compose-sampling-report.txt")

	ids, err := run.Compose(ctx, "ps", "--quiet", "otel-sampler")
	if err != nil {
		t.Fatal(err)
	}
	var samplers []string // their host names: the first 12 digits of the container ids
	for _, id := range strings.Fields(ids) {
		samplers = append(samplers, id[:12])
	}
	rep.Printf("samplers running: %v\n", samplers)
	if len(samplers) != 2 {
		t.Fatalf("%d otel-sampler containers run; docker-compose.sampling.yml asks for 2", len(samplers))
	}

	// Every scenario on both lanes, after the agents attached (their load is steady by then).
	client := &http.Client{Timeout: 10 * time.Second}
	type sent struct {
		Sent
		scenario string
	}
	var checkouts []sent
	for _, svc := range native.Services {
		if err := waitAttached(ctx, run, "otel-auto-"+svc+"-agent"); err != nil {
			t.Fatal(err)
		}
	}
	for range checkoutsPerScenario {
		for _, sc := range compare.Scenarios {
			for _, lane := range samplingLanes {
				addr, err := run.HostAddr(ctx, lane+"-gateway", 8080)
				if err != nil {
					t.Fatal(err)
				}
				s := CheckoutOf(ctx, client, lane, "http://"+addr, sc.Name)
				if !s.Answered() {
					t.Fatalf("%s %s: the gateway did not answer", lane, sc.Name)
				}
				checkouts = append(checkouts, sent{s, sc.Name})
			}
		}
	}
	last := time.Now()

	// What the policies must keep: every checkout of the split lane, every manual checkout that failed
	// or was slow. The others of the manual lane are kept 1 time in 10.
	mustKeep := func(c sent) bool {
		return c.Lane == "otel-auto" || (c.scenario != "normal" && c.scenario != "fanout")
	}
	var byTrace map[string][]spans.Span
	err = wait.Eventually(ctx, "every checkout the policies keep, in Tempo", 2*time.Minute, 3*time.Second, func() error {
		received, err := run.Spans()
		if err != nil {
			return err
		}
		byTrace = spans.ByTrace(received)
		missing := 0
		for _, c := range checkouts {
			if mustKeep(c) && len(byTrace[c.TraceID]) == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d not yet", missing)
		}
		return nil
	})
	rep.Section("what the samplers kept of the run's checkouts")
	rep.Printf("the last checkout was sent %.0f s before the check ended (decision_wait is 10 s)\n", time.Since(last).Seconds())
	if err != nil {
		t.Error(err)
	}
	type count struct{ sent, kept int }
	kept := map[[2]string]*count{}
	for _, c := range checkouts {
		k := [2]string{c.Lane, c.scenario}
		if kept[k] == nil {
			kept[k] = &count{}
		}
		kept[k].sent++
		if len(byTrace[c.TraceID]) > 0 {
			kept[k].kept++
		}
	}
	rep.Printf("%-10s %-13s %s\n", "lane", "scenario", "checkouts whose trace the client started was kept")
	for _, sc := range compare.Scenarios {
		for _, lane := range samplingLanes {
			c := kept[[2]string{lane, sc.Name}]
			rep.Printf("%-10s %-13s %d of %d\n", lane, sc.Name, c.kept, c.sent)
		}
	}

	t.Run("each trace comes whole from one sampler, and both samplers decide", func(t *testing.T) {
		by := map[string]int{}
		for id, trace := range byTrace {
			names := map[string]bool{}
			seen := map[string]bool{}
			for _, sp := range trace {
				name := ""
				if v, ok := sp.Resource.Attributes().Get("sampled_by"); ok {
					name = v.Str()
				}
				names[name] = true
				if seen[sp.SpanID().String()] {
					t.Errorf("trace %s: span %s arrived twice", id, sp.SpanID())
				}
				seen[sp.SpanID().String()] = true
			}
			if len(names) != 1 {
				t.Errorf("trace %s: spans from samplers %v; the first tier routes a trace to one", id, sortedKeys(names))
				continue
			}
			for name := range names {
				if !slices.Contains(samplers, name) {
					t.Errorf("trace %s: sampled_by %q is none of the samplers %v", id, name, samplers)
				}
				by[name]++
			}
		}
		rep.Printf("traces in Tempo by the sampler that kept them: %v\n", by)
		for _, s := range samplers {
			if by[s] == 0 {
				t.Errorf("sampler %s kept no trace: the first tier does not spread the traces", s)
			}
		}
	})

	t.Run("the manual lane's kept checkouts are whole: one trace with its services", func(t *testing.T) {
		for _, c := range checkouts {
			if c.Lane != "manual" || !mustKeep(c) {
				continue
			}
			services := map[string]bool{}
			for _, sp := range byTrace[c.TraceID] {
				services[sp.Service] = true
			}
			// Every scenario reaches inventory or, for not_found, catalog; each goes through the gateway.
			want := []string{"gateway", "inventory"}
			if c.scenario == "not_found" {
				want = []string{"gateway", "catalog"}
			}
			for _, svc := range want {
				if !services[svc] {
					t.Errorf("manual %s checkout %s: kept without %s (has %v)", c.scenario, c.TraceID, svc, sortedKeys(services))
				}
			}
		}
	})

	prom, err := run.Prometheus(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the tail sampling dashboard's queries have data for each lane", func(t *testing.T) {
		all, err := dashboards.Load(root)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, dq := range dashboards.Queries(all) {
			parsed, err := dashboards.Parse(dq.Expr)
			if err != nil {
				t.Fatal(err)
			}
			names := dashboards.Metrics(parsed)
			if dashboards.SourceOf(names) != dashboards.Sampler {
				continue
			}
			n++
			for _, lane := range samplingLanes {
				q := strings.NewReplacer("$__rate_interval", "1m", "$lane", lane).Replace(dq.Expr)
				var got int
				err := wait.Eventually(ctx, q, 2*time.Minute, 5*time.Second, func() error {
					v, err := query.Vector(ctx, prom, q)
					if err != nil {
						return err
					}
					if got = len(v); got == 0 {
						return fmt.Errorf("no series")
					}
					return nil
				})
				rep.Printf("%-10s %d series  %s\n", lane, got, dq.Where)
				if err != nil {
					t.Errorf("%s [%s]: %v", dq.Where, lane, err)
				}
			}
		}
		if n == 0 {
			t.Error("no dashboard query reads the samplers' metrics")
		}
		// What share of each lane's SERVER spans the samplers kept, since they started.
		v, err := query.Vector(ctx, prom, `sum by (lane) (traces_kept_calls_total{span_kind="SPAN_KIND_SERVER"}) / sum by (lane) (traces_span_metrics_calls_total{span_kind="SPAN_KIND_SERVER"})`)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range v {
			rep.Printf("kept share of SERVER spans since the start, lane %s: %.2f (approximate: both counts are flushed every 15 s, not at the same moment, and the kept one lags by the decision wait)\n", s.Metric["lane"], float64(s.Value))
		}
	})
	// The samplers' span metrics reach Prometheus through the remote-write WAL, up to a minute or so after
	// the samplers start: the lab, which asks once per comparison, is asked once they are there.
	t.Run("the lab page shows what tail sampling keeps of each lane", func(t *testing.T) {
		addr, err := run.HostAddr(ctx, "lab", 8090)
		if err != nil {
			t.Fatal(err)
		}
		for _, lane := range samplingLanes {
			q := fmt.Sprintf(`traces_kept_calls_total{lane=%q}`, lane)
			err := wait.Eventually(ctx, q, 2*time.Minute, 5*time.Second, func() error {
				v, err := query.Vector(ctx, prom, q)
				if err == nil && len(v) == 0 {
					err = fmt.Errorf("no series yet")
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		rep.Section("the lab page with tail sampling: one error checkout in every lane")
		got, err := lab.Ask(ctx, addr, "error")
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range got.Capabilities {
			for _, lane := range samplingLanes {
				cell := row.Cells[lane]
				rep.Printf("  %-40s %-10s %-7s %s\n", row.Name, lane, cell.Verdict, cell.Reason)
				if row.Name == string(compare.Sampled) && (cell.Verdict != string(compare.Value) || !strings.Contains(cell.Reason, "% of the lane's requests")) {
					t.Errorf("lane %s, %s: %s (%s); want the share the samplers keep", lane, row.Name, cell.Verdict, cell.Reason)
				}
			}
		}
	})

	// Last: it leaves one sampler restarted. Error checkouts of the manual lane, which the errors policy
	// always keeps, 4 a second for 40 s; 15 s in, one sampler is killed with -9, and the engine restarts
	// it. What it held, waiting for decisions, is gone; what came after waited on the first tier's disk.
	t.Run("a sampler killed with -9 loses only the traces it held for their decision", func(t *testing.T) {
		rep.Section("a sampler killed with -9 under load (manual lane, error checkouts, 4 a second)")
		addr, err := run.HostAddr(ctx, "manual-gateway", 8080)
		if err != nil {
			t.Fatal(err)
		}
		victim := samplers[0]
		pid, err := run.Docker(ctx, "inspect", "-f", "{{.State.Pid}}", victim)
		if err != nil {
			t.Fatal(err)
		}
		var sentList []Sent
		var killedAt time.Time
		began := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for ; time.Since(began) < 40*time.Second; <-tick.C {
			if killedAt.IsZero() && time.Since(began) > 15*time.Second {
				var p int
				fmt.Sscan(strings.TrimSpace(pid), &p)
				if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
					t.Fatalf("kill -9 sampler %s (pid %d): %v", victim, p, err)
				}
				killedAt = time.Now()
			}
			sentList = append(sentList, CheckoutOf(ctx, client, "manual", "http://"+addr, "error"))
		}
		restarted, _ := run.Docker(ctx, "inspect", "-f", "{{.RestartCount}} {{.State.StartedAt}}", victim)
		rep.Printf("sampler %s killed %.1f s into the load; the engine restarted it: restart count and start %s\n",
			victim, killedAt.Sub(began).Seconds(), strings.TrimSpace(restarted))

		// Held at the kill: a checkout's spans reach the sampler up to 6 s after it (the senders' 5 s
		// batch, the first tier's 1 s queue) and wait 10 s there for the decision.
		const held = 17 * time.Second
		var kept map[string][]spans.Span
		var lostIn, lostOut, inWindow int
		wait.Eventually(ctx, "the checkouts after the kill, in Tempo", 2*time.Minute, 3*time.Second, func() error {
			received, err := run.Spans()
			if err != nil {
				return err
			}
			kept = spans.ByTrace(received)
			lostIn, lostOut, inWindow = 0, 0, 0
			for _, c := range sentList {
				in := c.At.After(killedAt.Add(-held)) && c.At.Before(killedAt.Add(time.Second))
				if in {
					inWindow++
				}
				switch {
				case len(kept[c.TraceID]) > 0:
				case in:
					lostIn++
				default:
					lostOut++
				}
			}
			if lostOut > 0 {
				return fmt.Errorf("%d checkouts outside the kill's window not (yet) in Tempo", lostOut)
			}
			return nil
		})
		partial := 0
		for _, c := range sentList {
			services := map[string]bool{}
			for _, sp := range kept[c.TraceID] {
				services[sp.Service] = true
			}
			if len(kept[c.TraceID]) > 0 && !(services["gateway"] && services["inventory"]) {
				partial++
			}
		}
		rep.Printf("%d error checkouts: %d sent in the %s before the kill (the traces it could hold), of which %d lost;\n"+
			"%d lost outside that window; %d kept without the gateway's or inventory's spans (decided on what arrived after the restart)\n",
			len(sentList), inWindow, held, lostIn, lostOut, partial)
		if lostOut > 0 {
			t.Errorf("%d checkouts lost outside the %s the killed sampler could hold: the first tier should have kept them on disk until it was back", lostOut, held)
		}
	})
}
