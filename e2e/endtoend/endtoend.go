// Package endtoend starts what the native end-to-end run observes: the Collector with the project's
// configuration and its backends (an OTLP sink in Tempo's place, Loki, Prometheus), the shop's lanes as
// processes with their stdout shipped as Docker's fluentd driver ships it, one Go auto agent per
// service of the agent lanes, attached by PID, and Beyla over the Beyla lane where a Beyla binary is given.
package endtoend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/pipeline"
	"github.com/zerocodelab/lab/e2e/proc"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/wait"
)

// Bins are the builds the run starts.
type Bins struct {
	Otelcol, Agent, Loki, Prometheus string // make collector, make agent, make loki, make prometheus
	Plain, SDK                       string // directories holding the shop's two builds (native.BuildShop)
	Beyla                            string // a Beyla binary (native.FindBeyla); "" when there is none
}

// Instrumentation is what observes a lane.
type Instrumentation int

const (
	None  Instrumentation = iota // the plain build, nothing attached
	Agent                        // the plain build with one Go auto agent per service
	SDK                          // the otelsdk build, exporting to the Collector
	Beyla                        // the plain build, with one Beyla process for the lane
)

// LaneSpec says how to run one lane.
type LaneSpec struct {
	Name string
	By   Instrumentation
	Env  []string // added to every service's environment, like ROUTE_PATTERN_HINT=false
}

// World is everything the run started.
type World struct {
	Sink       *spans.Sink     // every span the Collector exported
	Loki       *native.Backend // the Collector's log backend
	Prometheus *native.Backend // scrapes the lanes and the Collector; the Collector remote-writes to it
	Collector  *proc.Process
	Lanes      []*native.Lane           // in the order of the specs
	Agents     map[string]*native.Agent // by "lane/service"
	AgentsFrom time.Time                // when the agents were started
	Beyla      *native.Beyla            // over the Beyla lane; nil where the run has none
	agentLanes []*native.Lane           // the lanes the agents and Beyla observe
	stops      []func()
}

// ExportEvery is the SDK's and the agents' batch delay in the run (compose uses the default 5 s): checks
// then see a checkout's spans within a second or two.
const ExportEvery = 500 * time.Millisecond

var exportEvery = fmt.Sprintf("OTEL_BSP_SCHEDULE_DELAY=%d", ExportEvery.Milliseconds())

// Start starts the backends, the Collector and the lanes, then the agents, and returns once every agent
// has loaded its probes. dir is a scratch directory.
func Start(ctx context.Context, root, dir string, bins Bins, lanes []LaneSpec, attachTimeout time.Duration) (*World, error) {
	w := &World{Agents: map[string]*native.Agent{}}
	if err := w.start(ctx, root, dir, bins, lanes, attachTimeout); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *World) start(ctx context.Context, root, dir string, bins Bins, lanes []LaneSpec, attachTimeout time.Duration) error {
	sink, sinkAddr, stopSink, err := spans.ListenSink("127.0.0.1:0")
	if err != nil {
		return err
	}
	w.Sink, w.stops = sink, append(w.stops, stopSink)
	if w.Loki, err = native.StartLoki(ctx, bins.Loki, root, filepath.Join(dir, "loki")); err != nil {
		return err
	}
	w.stops = append(w.stops, func() { w.Loki.Kill() })

	// Prometheus starts once the lanes listen (it scrapes them), but the Collector writes to it from its
	// start: its address is picked first.
	promAddr, err := native.FreeAddrs(1)
	if err != nil {
		return err
	}
	ends, err := pipeline.NewEndpoints(filepath.Join(dir, "collector"))
	if err != nil {
		return err
	}
	ends.Tempo, ends.Loki, ends.PromWrite = sinkAddr, w.Loki.URL+"/otlp", "http://"+promAddr[0]+"/api/v1/write"
	col := pipeline.Collector{Bin: bins.Otelcol, Config: filepath.Join(root, "collector", "config.yaml"), Endpoints: ends}
	if w.Collector, err = col.Start(ctx); err != nil {
		return err
	}
	w.stops = append(w.stops, func() { w.Collector.Kill() })
	shipper, err := native.ShipLogs(ends.Fluent)
	if err != nil {
		return err
	}
	w.stops = append(w.stops, func() { shipper.Close() })

	// The SDK build and the agents send as their containers do (protocol, timeout), to this Collector.
	compose, err := native.LoadCompose(ctx, root)
	if err != nil {
		return err
	}
	sdkSender, err := ends.Sender(compose, "manual-gateway", "")
	if err != nil {
		return err
	}
	agentSender, err := ends.Sender(compose, "otel-auto-gateway-agent", "")
	if err != nil {
		return err
	}
	var targets []native.ScrapeTarget
	var beylaLane *native.Lane
	var beylaDir, beylaMetrics string
	for _, spec := range lanes {
		l, err := startLane(ctx, spec, bins, filepath.Join(dir, spec.Name), sdkSender, shipper)
		if err != nil {
			return err
		}
		w.Lanes = append(w.Lanes, l)
		w.stops = append(w.stops, func() { l.Kill() })
		if spec.By == Beyla {
			if bins.Beyla == "" || beylaLane != nil {
				return fmt.Errorf("lane %s: Beyla observes one lane of a run, with a Beyla binary", spec.Name)
			}
			addr, err := native.FreeAddrs(1)
			if err != nil {
				return err
			}
			beylaLane, beylaDir, beylaMetrics = l, filepath.Join(dir, spec.Name), addr[0]
		}
		for _, svc := range native.Services {
			targets = append(targets, native.ScrapeTarget{Addr: strings.TrimPrefix(l.URL[svc], "http://"), Service: svc})
		}
	}
	if w.Prometheus, err = native.StartPrometheus(ctx, bins.Prometheus, root, filepath.Join(dir, "prometheus"), promAddr[0], targets, ends.Telemetry, beylaMetrics); err != nil {
		return err
	}
	w.stops = append(w.stops, func() { w.Prometheus.Kill() })
	if err := w.attachAgents(ctx, bins.Agent, lanes, agentSender, attachTimeout); err != nil {
		return err
	}
	if beylaLane == nil {
		return nil
	}
	// Beyla sends as compose's Beyla does, over OTLP/HTTP, as often as the agents do here.
	w.Beyla, err = native.StartBeyla(ctx, native.BeylaSpec{
		Bin: bins.Beyla, Root: root, Compose: compose, Lane: beylaLane, LaneDir: beylaDir,
		Traces: "http://" + ends.OTLPHTTP, Metrics: beylaMetrics, BatchTimeout: ExportEvery,
		Dir: filepath.Join(dir, "beyla-config"),
	}, attachTimeout)
	if err != nil {
		return err
	}
	w.agentLanes = append(w.agentLanes, beylaLane)
	w.stops = append(w.stops, func() { w.Beyla.Stop(10 * time.Second) }) // lets Beyla take its probes away
	return nil
}

// startLane starts one lane, its services' stdout shipped to the Collector as containers named
// <lane>-<service>, like compose's; an SDK lane exports with sender's settings.
func startLane(ctx context.Context, spec LaneSpec, bins Bins, dir string, sender []string, shipper *native.LogShipper) (*native.Lane, error) {
	build, env := bins.Plain, spec.Env
	if spec.By == SDK {
		build = bins.SDK
		env = slices.Concat(env, sender, []string{exportEvery})
	}
	return native.StartLane(ctx, native.LaneSpec{
		Name: spec.Name, Bins: build, Dir: dir,
		Env:  func(string) []string { return env },
		Logs: func(svc string) io.Writer { return shipper.Container(spec.Name + "-" + svc) },
	})
}

// attachAgents starts one Go auto agent per service of every agent lane, all at once, each targeting
// its process by PID (the same binary runs in several lanes, so a path would be ambiguous), and
// exporting with sender's settings.
func (w *World) attachAgents(ctx context.Context, bin string, lanes []LaneSpec, sender []string, timeout time.Duration) error {
	var mu sync.Mutex
	var started sync.WaitGroup
	var errs []error
	w.AgentsFrom = time.Now()
	for i, spec := range lanes {
		if spec.By != Agent {
			continue
		}
		w.agentLanes = append(w.agentLanes, w.Lanes[i])
		for _, svc := range native.Services {
			started.Go(func() {
				a, err := native.StartAgent(ctx, native.AgentSpec{
					Bin: bin, Service: svc, Pid: w.Lanes[i].Procs[svc].Pid(), Lane: spec.Name,
					Env: slices.Concat(sender, []string{
						exportEvery,
						"OTEL_PROPAGATORS=tracecontext,baggage",
						"OTEL_GO_AUTO_INCLUDE_DB_STATEMENT=true", // db.query.text, as compose sets it
						"OTEL_GO_AUTO_PARSE_DB_STATEMENT=true",   // db.operation.name and db.collection.name
					}),
				}, timeout)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				w.Agents[spec.Name+"/"+svc] = a
				w.stops = append(w.stops, func() { a.Kill() })
			})
		}
	}
	started.Wait()
	return errors.Join(errs...)
}

// WaitForAgentSpans browses every agent lane and the Beyla lane until each of its services has sent a
// SERVER span: an agent sees only the requests made after it attached. The error carries the agents' output.
func (w *World) WaitForAgentSpans(ctx context.Context, timeout time.Duration) error {
	err := wait.Eventually(ctx, "a SERVER span from every service of the agent lanes", timeout, 500*time.Millisecond, func() error {
		var missing []string
		for _, lane := range w.agentLanes {
			seen := map[string]bool{}
			for _, sp := range w.Sink.Spans(lane.Name) {
				if sp.Kind() == ptrace.SpanKindServer {
					seen[sp.Service] = true
				}
			}
			for _, svc := range native.Services {
				if !seen[svc] {
					missing = append(missing, lane.Name+"/"+svc)
				}
			}
			if err := lane.Browse(ctx, http.DefaultClient); err != nil {
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
		for name, a := range w.Agents {
			fmt.Fprintf(&out, "--- agent %s ---\n%s\n", name, report.Tail(a.Output(), 2000))
		}
		if w.Beyla != nil {
			fmt.Fprintf(&out, "--- beyla ---\n%s\n", report.Tail(w.Beyla.Output(), 4000))
		}
		return fmt.Errorf("%w\n%s", err, out.String())
	}
	return nil
}

// Close stops everything the run started, the last started first.
func (w *World) Close() {
	for i := len(w.stops) - 1; i >= 0; i-- {
		w.stops[i]()
	}
	w.stops = nil
}
