package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/pipeline"
	"github.com/zerocodelab/lab/e2e/proc"
)

// Setup is what the bench needs from the repository and the builds.
type Setup struct {
	Root    string // the repository: services/, collector/config.yaml, docker-compose.yml
	Dir     string // a scratch directory for binaries, databases and queues
	Otelcol string // the Collector (make collector)
	Agent   string // the Go auto agent (make agent)
	Beyla   string // a Beyla binary (native.FindBeyla); "" runs no beyla lane
}

// Lab is the lanes the bench measures and what they export to.
type Lab struct {
	setup    Setup
	compose  *types.Project
	Subjects []Subject // in the order they were started: plain first
	Spans    *SpanCounter
	// Collector is the one Collector of the agent and SDK lanes, with the project's config; its trace,
	// log and metric backends are this process's receivers.
	Collector *proc.Process
	collector pipeline.Collector
	stops     []func() error
}

// StartPlain builds the shop in both builds and starts the plain lane alone, so that its figures can be
// taken before anything else runs.
func StartPlain(ctx context.Context, s Setup) (*Lab, error) {
	compose, err := native.LoadCompose(ctx, s.Root)
	if err != nil {
		return nil, err
	}
	lab := &Lab{setup: s, compose: compose}
	for _, build := range []struct{ dir, tags string }{{"bin-plain", ""}, {"bin-otelsdk", "otelsdk"}} {
		if err := native.BuildShop(s.Root, filepath.Join(s.Dir, build.dir), build.tags); err != nil {
			return nil, err
		}
	}
	if err := lab.startLane(ctx, "plain", "plain", "bin-plain", nil); err != nil {
		return nil, errors.Join(err, lab.Close())
	}
	return lab, nil
}

// StartOthers starts the Collector, the otel-auto lane with one agent per service, the beyla lane with
// Beyla where Setup has a binary, and the manual lane, each sending as its compose service does. With alsoHTTP it starts a copy of each, otel-auto-http and
// manual-http, whose senders speak OTLP/HTTP instead, so that the report shows what the protocol costs.
// It returns once every agent has logged its loaded line and a moment more, as its probes catch
// requests shortly after that line.
func (lab *Lab) StartOthers(ctx context.Context, attachTimeout time.Duration, alsoHTTP bool) error {
	if err := lab.startCollector(ctx); err != nil {
		return err
	}
	senders := []struct{ suffix, protocol string }{{"", ""}} // "": the protocol compose sets
	if alsoHTTP {
		senders = append(senders, struct{ suffix, protocol string }{"-http", "http/protobuf"})
	}
	for _, s := range senders {
		if err := lab.startAgentLane(ctx, "otel-auto"+s.suffix, s.protocol, attachTimeout); err != nil {
			return err
		}
	}
	if lab.setup.Beyla != "" {
		if err := lab.startBeylaLane(ctx, attachTimeout); err != nil {
			return err
		}
	}
	sleep(ctx, 3*time.Second)
	for _, s := range senders {
		sender, err := lab.collector.Sender(lab.compose, "manual-gateway", s.protocol)
		if err != nil {
			return err
		}
		if err := lab.startLane(ctx, "manual"+s.suffix, "manual", "bin-otelsdk", sender); err != nil {
			return err
		}
	}
	return nil
}

// startAgentLane starts lane name, the otel-auto lane's services with one Go auto agent each, their
// senders speaking protocol ("" for compose's).
func (lab *Lab) startAgentLane(ctx context.Context, name, protocol string, attachTimeout time.Duration) error {
	if err := lab.startLane(ctx, name, "otel-auto", "bin-plain", nil); err != nil {
		return err
	}
	auto := &lab.Subjects[len(lab.Subjects)-1]
	for _, svc := range native.Services {
		agent := "otel-auto-" + svc + "-agent"
		env, err := native.Environment(lab.compose, agent, "OTEL_GO_AUTO_TARGET_PID", "OTEL_RESOURCE_ATTRIBUTES", native.ExporterVars)
		if err != nil {
			return err
		}
		sender, err := lab.collector.Sender(lab.compose, agent, protocol)
		if err != nil {
			return err
		}
		a, err := native.StartAgent(ctx, native.AgentSpec{
			Bin: lab.setup.Agent, Service: svc, Pid: auto.Lane.Procs[svc].Pid(), Lane: name, Env: append(env, sender...),
		}, attachTimeout)
		if err != nil {
			return err
		}
		auto.Agents = append(auto.Agents, a)
		lab.stops = append(lab.stops, a.Kill)
	}
	return nil
}

// startBeylaLane starts the beyla lane's services and Beyla over them, with compose's beyla-config.yml
// and environment (its exporter's batch timeout included).
func (lab *Lab) startBeylaLane(ctx context.Context, attachTimeout time.Duration) error {
	if err := lab.startLane(ctx, "beyla", "beyla", "bin-plain", nil); err != nil {
		return err
	}
	subject := &lab.Subjects[len(lab.Subjects)-1]
	metrics, err := native.FreeAddrs(1) // Beyla serves its RED metrics as in compose; nothing scrapes them here
	if err != nil {
		return err
	}
	b, err := native.StartBeyla(ctx, native.BeylaSpec{
		Bin: lab.setup.Beyla, Root: lab.setup.Root, Compose: lab.compose, Lane: subject.Lane,
		LaneDir: filepath.Join(lab.setup.Dir, "beyla"), Traces: "http://" + lab.collector.Endpoints.OTLPHTTP,
		Metrics: metrics[0], Dir: filepath.Join(lab.setup.Dir, "beyla-config"),
	}, attachTimeout)
	if err != nil {
		return err
	}
	subject.Beyla = b
	lab.stops = append(lab.stops, func() error { return b.Stop(10 * time.Second) })
	return nil
}

// startLane starts lane name from the binaries in bins, with the environment of compose's lane of that
// name (or of lane), the addresses replaced by the native ones and extra added.
func (lab *Lab) startLane(ctx context.Context, name, lane, bins string, extra []string) error {
	envs := map[string][]string{}
	for _, svc := range native.Services {
		// StartLane sets the addresses, and service.namespace from name; a sender's settings come in extra.
		env, err := native.Environment(lab.compose, lane+"-"+svc, "ADDR", "DATA_DIR", "CATALOG_URL", "INVENTORY_URL", "ORDERS_URL",
			"LANE", "OTEL_RESOURCE_ATTRIBUTES", native.ExporterVars)
		if err != nil {
			return err
		}
		envs[svc] = append(env, extra...)
	}
	l, err := native.StartLane(ctx, native.LaneSpec{
		Name: name, Bins: filepath.Join(lab.setup.Dir, bins), Dir: filepath.Join(lab.setup.Dir, name),
		Env: func(svc string) []string { return envs[svc] },
	})
	if err != nil {
		return err
	}
	lab.stops = append(lab.stops, l.Kill)
	lab.Subjects = append(lab.Subjects, Subject{Lane: l})
	return nil
}

func (lab *Lab) startCollector(ctx context.Context) error {
	ends, err := pipeline.NewEndpoints(filepath.Join(lab.setup.Dir, "collector"))
	if err != nil {
		return err
	}
	spans, stopSpans, err := ListenSpanCounter(ends.Tempo)
	if err != nil {
		return err
	}
	lab.Spans = spans
	lab.stops = append(lab.stops, func() error { stopSpans(); return nil })
	for _, backend := range []string{ends.Loki, ends.PromWrite} {
		u, err := url.Parse(backend)
		if err != nil {
			return err
		}
		stop, err := discard(u.Host)
		if err != nil {
			return err
		}
		lab.stops = append(lab.stops, stop)
	}
	lab.collector = pipeline.Collector{Bin: lab.setup.Otelcol, Config: filepath.Join(lab.setup.Root, "collector", "config.yaml"), Endpoints: ends}
	p, err := lab.collector.Start(ctx)
	if err != nil {
		return fmt.Errorf("start the Collector: %w", err)
	}
	lab.Collector = p
	lab.stops = append(lab.stops, p.Kill)
	return nil
}

// Close stops everything the lab started, the last started first.
func (lab *Lab) Close() error {
	var errs []error
	for i := len(lab.stops) - 1; i >= 0; i-- {
		errs = append(errs, lab.stops[i]())
	}
	lab.stops = nil
	return errors.Join(errs...)
}
