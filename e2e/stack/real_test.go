//go:build compose

package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/compare/comparetest"
	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/lab"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/wait"
)

// TestComposeRealTempo brings the stack up with Tempo's own image where the engine has one, and checks
// what a user reads back through Tempo's API under the compose file's real export settings and the load
// generator: every span row of every scenario in every running lane, from make compare's lab on the host
// and from the lab page's container. TestComposeStack keeps the stand-in, whose file holds every span
// received: its fault table counts them, which Tempo's API cannot list.
func TestComposeRealTempo(t *testing.T) {
	ctx := context.Background()
	env, err := native.DotEnv(root)
	if err != nil {
		t.Fatal(err)
	}
	comps, err := Components(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	tempo, grafana := ComponentNamed(comps, "Tempo"), ComponentNamed(comps, "Grafana")
	if tempo.Origin == Missing {
		t.Skipf("%s is not on the engine: it cannot be pulled here, and Tempo cannot be built from the module "+
			"proxy (TestComposeStack runs with its stand-in). Load Tempo's image (docker pull where a registry "+
			"answers, or docker load) to run this", tempo.Image)
	}
	lanes := []string{"plain", "otel-auto", "manual"}
	beyla := ComponentNamed(comps, "Beyla").Origin != Missing
	if beyla {
		lanes = append(lanes, "beyla")
	}
	run, rep := upForTest(t, Options{Name: "zero-code-lab-real", Lanes: lanes, Tempo: true, Grafana: grafana.Origin != Missing},
		"e2e-compose-real-report.txt")

	// Agents see only requests made after they attach: every lane is watched before the first checkout.
	for _, svc := range native.Services {
		if err := waitAttached(ctx, run, "otel-auto-"+svc+"-agent"); err != nil {
			t.Fatal(err)
		}
	}
	facts := doctor.Inspect()
	if beyla {
		rep.Section("Beyla")
		facts = waitBeyla(ctx, t, rep, run)
	}
	verdicts := doctor.Verdicts(facts)
	time.Sleep(attachGrace)

	t.Run("make compare's lab reads every running lane's checkouts back from Tempo", func(t *testing.T) {
		lab, err := hostLab(ctx, run, lanes, verdicts)
		if err != nil {
			t.Fatal(err)
		}
		rep.Section("make compare against the real Tempo, every scenario")
		rep.Printf("the lab waits %s for a checkout's spans (native.SpanDelay, from the compose file) and %s at most\n", lab.SpanDelay, lab.Timeout)
		rep.Printf("each line: the verdicts of %s\n", capabilityNames())
		var md bytes.Buffer
		for _, sc := range compare.Scenarios {
			m := lab.Compare(ctx, sc)
			if err := compare.WriteMarkdown(&md, m); err != nil {
				t.Fatal(err)
			}
			for _, lane := range lanes {
				rep.Printf("%-12s %-10s %s\n", sc.Name, lane, cellsOf(m, lane))
			}
			comparetest.Check(t, m, verdicts)
		}
		path := filepath.Join(root, "build", "compare-real-tempo.md")
		if err := os.WriteFile(path, md.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
		rep.Printf("the matrices: build/compare-real-tempo.md\n")
	})

	t.Run("the lab page's span rows of every running lane, read from Tempo", func(t *testing.T) {
		addr, err := run.HostAddr(ctx, "lab", 8090)
		if err != nil {
			t.Fatal(err)
		}
		rep.Section("the lab page (compose service lab) against the real Tempo, every scenario")
		rep.Printf("each line: the verdicts of %s\n", capabilityNames())
		for _, sc := range compare.Scenarios {
			got, err := lab.Ask(ctx, addr, sc.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, lane := range lanes {
				want := comparetest.Want(lane, sc, verdicts)
				var line []string
				for _, row := range got.Capabilities {
					cell := row.Cells[lane]
					line = append(line, cell.Verdict)
					if w := want[compare.Capability(row.Name)]; cell.Verdict != string(w) {
						t.Errorf("%s, lane %s, %s: %s (%s); want %s", sc.Name, lane, row.Name, cell.Verdict, cell.Reason, w)
					}
				}
				rep.Printf("%-12s %-10s %s\n", sc.Name, lane, strings.Join(line, " "))
			}
		}
	})

	// Tempo acknowledges a push once its ingester holds the spans, and writes them to its WAL when the
	// trace has been idle (trace_idle_period, checked every flush_check_period). What it had answered
	// for must still be there after a restart (SIGTERM) and after a kill (SIGKILL).
	t.Run("Tempo still has the traces it answered for after a restart and after a kill", func(t *testing.T) {
		tempoAddr, err := run.HostAddr(ctx, "tempo", 3200)
		if err != nil {
			t.Fatal(err)
		}
		gateway, err := run.HostAddr(ctx, "manual-gateway", 8080)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Timeout: 10 * time.Second}
		src := compare.Tempo{Client: client, URL: "http://" + tempoAddr}
		rep.Section("Tempo stopped with its traces on it: 20 manual checkouts read back before and after")
		for _, stop := range []struct {
			name string
			stop []string
		}{
			{"restarted (docker compose restart, SIGTERM)", []string{"restart", "tempo"}},
			{"killed (docker compose kill, SIGKILL), then started", []string{"kill", "tempo"}},
		} {
			var sent []Sent
			for range 20 {
				sent = append(sent, Checkout(ctx, client, "manual", "http://"+gateway))
			}
			before, err := traceSizes(ctx, src, sent, time.Minute)
			if err != nil {
				t.Fatalf("before Tempo %s: %v", stop.name, err)
			}
			if _, err := run.Compose(ctx, stop.stop...); err != nil {
				t.Fatal(err)
			}
			if stop.stop[0] == "kill" {
				if _, err := run.Compose(ctx, "start", "tempo"); err != nil {
					t.Fatal(err)
				}
			}
			back := time.Now()
			after, err := traceSizes(ctx, src, sent, 2*time.Minute)
			var lost []string
			for id, n := range before {
				if after[id] < n {
					lost = append(lost, fmt.Sprintf("%s…: %d of %d spans", id[:8], after[id], n))
				}
			}
			logs, _ := run.Logs(ctx, "tempo")
			rep.Printf("%-52s %d traces, %d spans before; after: %d spans, read back %.0f s after the start; traces that lost spans: %d %s\n",
				stop.name, len(before), sum(before), sum(after), time.Since(back).Seconds(), len(lost), strings.Join(lost, ", "))
			rep.Printf("  Tempo's log so far: %d lines \"failed to replay\", %d \"replay\" lines in all\n",
				strings.Count(logs, "failed to replay"), strings.Count(logs, "replay"))
			if err != nil || len(lost) > 0 {
				t.Errorf("Tempo %s: %v; traces with spans lost: %v", stop.name, err, lost)
			}
		}
	})
}

// traceSizes waits until Tempo answers each sent checkout's trace with spans of all four services and
// the same number of spans twice in a row, and returns those numbers by trace id. Until it can, it
// returns what it read and the error.
func traceSizes(ctx context.Context, src compare.Tempo, sent []Sent, timeout time.Duration) (map[string]int, error) {
	sizes := map[string]int{}
	stable := 0
	err := wait.Eventually(ctx, "every checkout's trace in Tempo, stable", timeout, 2*time.Second, func() error {
		now, partial := map[string]int{}, 0
		for _, s := range sent {
			trace, err := src.Trace(ctx, s.TraceID)
			if err != nil {
				return err
			}
			services := map[string]bool{}
			for _, sp := range trace {
				services[sp.Service] = true
			}
			if len(services) < len(native.Services) {
				partial++
			}
			now[s.TraceID] = len(trace)
		}
		if !maps.Equal(now, sizes) {
			sizes, stable = now, 0
			return errors.New("still growing")
		}
		if partial > 0 {
			return fmt.Errorf("%d traces without spans of all four services", partial)
		}
		if stable++; stable < 2 {
			return errors.New("not yet stable")
		}
		return nil
	})
	return sizes, err
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// hostLab is the lab of make compare (cmd/compare) for the run's published ports.
func hostLab(ctx context.Context, run *Run, lanes []string, verdicts []doctor.Verdict) (*compare.Lab, error) {
	lab := &compare.Lab{Client: &http.Client{Timeout: 10 * time.Second}, Verdicts: verdicts, Settle: 5 * time.Second, Timeout: 30 * time.Second}
	var spec []string
	for _, lane := range lanes {
		addr, err := run.HostAddr(ctx, lane+"-gateway", 8080)
		if err != nil {
			return nil, err
		}
		spec = append(spec, lane+"=http://"+addr)
	}
	var err error
	if lab.Lanes, err = compare.ParseLanes(strings.Join(spec, ",")); err != nil {
		return nil, err
	}
	tempo, err := run.HostAddr(ctx, "tempo", 3200)
	if err != nil {
		return nil, err
	}
	loki, err := run.HostAddr(ctx, "loki", 3100)
	if err != nil {
		return nil, err
	}
	prom, err := run.Prometheus(ctx)
	if err != nil {
		return nil, err
	}
	lab.Source = compare.Tempo{Client: lab.Client, URL: "http://" + tempo}
	lab.Signals = compare.Backends{Client: lab.Client, Loki: "http://" + loki, Prometheus: prom}
	project, err := native.Load(ctx, root, []string{"docker-compose.yml"}, lanes, nil)
	if err != nil {
		return nil, err
	}
	if lab.SpanDelay, err = native.SpanDelay(project); err != nil {
		return nil, err
	}
	return lab, nil
}

// capabilityNames lists the capabilities in the order of the report's verdicts.
func capabilityNames() string {
	var names []string
	for _, c := range compare.Capabilities {
		names = append(names, string(c))
	}
	return strings.Join(names, " | ")
}

// cellsOf is a lane's verdicts in the order of compare.Capabilities, for the report.
func cellsOf(m compare.Matrix, lane string) string {
	var vs []string
	for _, c := range compare.Capabilities {
		vs = append(vs, string(m.Cell(c, lane).Verdict))
	}
	return strings.Join(vs, " ")
}
