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
	if err := lab.startLane(ctx, "plain", "bin-plain", nil); err != nil {
		return nil, errors.Join(err, lab.Close())
	}
	return lab, nil
}

// StartOthers starts the Collector, the otel-auto lane with one agent per service, and the manual lane.
// It returns once every agent has logged its loaded line and a moment more, as its probes catch requests
// shortly after that line.
func (lab *Lab) StartOthers(ctx context.Context, attachTimeout time.Duration) error {
	if err := lab.startCollector(ctx); err != nil {
		return err
	}
	otlp := "http://" + lab.collector.OTLPHTTP
	if err := lab.startLane(ctx, "otel-auto", "bin-plain", nil); err != nil {
		return err
	}
	auto := &lab.Subjects[len(lab.Subjects)-1]
	for _, svc := range native.Services {
		env, err := native.Environment(lab.compose, "otel-auto-"+svc+"-agent", "OTEL_GO_AUTO_TARGET_EXE")
		if err != nil {
			return err
		}
		a, err := native.StartAgent(ctx, native.AgentSpec{
			Bin: lab.setup.Agent, Service: svc, Pid: auto.Lane.Procs[svc].Pid(), Lane: "otel-auto", OTLP: otlp, Env: env,
		}, attachTimeout)
		if err != nil {
			return err
		}
		auto.Agents = append(auto.Agents, a)
		lab.stops = append(lab.stops, a.Kill)
	}
	sleep(ctx, 3*time.Second)
	return lab.startLane(ctx, "manual", "bin-otelsdk", []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp})
}

// startLane starts lane name from the binaries in bins, with its compose service's environment, the
// addresses replaced by the native ones.
func (lab *Lab) startLane(ctx context.Context, name, bins string, extra []string) error {
	envs := map[string][]string{}
	for _, svc := range native.Services {
		env, err := native.Environment(lab.compose, name+"-"+svc,
			"ADDR", "DATA_DIR", "CATALOG_URL", "INVENTORY_URL", "ORDERS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT")
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
