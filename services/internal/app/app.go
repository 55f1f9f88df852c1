// Package app starts one service: configuration, logging, metrics registry, telemetry, database,
// routes and a graceful HTTP server, in the same order for all four.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/zerocodelab/lab/services/internal/config"
	"github.com/zerocodelab/lab/services/internal/server"
	"github.com/zerocodelab/lab/services/internal/store"
	"github.com/zerocodelab/lab/services/internal/telemetry"
)

// Deps are what a service is built from.
type Deps struct {
	Config    config.Config
	Logger    *slog.Logger
	Telemetry *telemetry.Telemetry
	Registry  prometheus.Registerer // labels every metric with the service's lane
	DB        *store.DB             // the service's own database, open with its schema; nil for a service without one
}

// Service is what a service gives the bootstrap.
type Service struct {
	Routes []server.Route
	Ready  func(context.Context) error // answers /healthz; nil means always ready
	Close  func() error                // called after the server has stopped; may be nil
}

// Spec names a service and says how to build it.
type Spec struct {
	Service string // gateway, catalog, inventory or orders
	Schema  string // the schema of its SQLite database in DATA_DIR; empty for a service that keeps none
	Build   func(Deps) (*Service, error)
}

// shutdownTimeout is how long in-flight requests get after SIGTERM.
const shutdownTimeout = 10 * time.Second

// Run runs the service until ctx is done. With the argument "healthcheck" it only asks a running
// instance's /healthz (the images have no shell and no curl for a container healthcheck).
func Run(ctx context.Context, spec Spec, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 && args[1] == "healthcheck" {
		return Healthcheck(ctx, spec.Service, getenv)
	}
	inst, err := Start(ctx, spec, getenv, stdout, nil)
	if err != nil {
		return err
	}
	return inst.Wait()
}

// Instance is a started service.
type Instance struct {
	Addr string // the address it listens on, with the port the kernel chose for ":0"
	done chan error
}

// Wait blocks until the service has stopped and released everything it held.
func (i *Instance) Wait() error { return <-i.done }

// Start starts the service and returns once it listens. tel, when not nil, replaces the telemetry
// that would be set up from the environment (tests pass one that records spans in memory).
func Start(ctx context.Context, spec Spec, getenv func(string) string, stdout io.Writer, tel *telemetry.Telemetry) (*Instance, error) {
	cfg, err := config.Load(spec.Service, getenv)
	if err != nil {
		return nil, err
	}
	if tel == nil {
		tel, err = telemetry.Setup(ctx, telemetry.Resource{Service: cfg.Service, Lane: cfg.Lane})
		if err != nil {
			return nil, err
		}
	}
	logger := slog.New(tel.LogHandler(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))).
		With("service", cfg.Service, "lane", cfg.Lane)

	// Every metric carries the lane, from the service itself: the lane has one source (LANE, or the lane
	// stamped into the binary), whoever scrapes it.
	metrics := prometheus.NewRegistry()
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"lane": cfg.Lane}, metrics)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	deps := Deps{Config: cfg, Logger: logger, Telemetry: tel, Registry: reg}
	if spec.Schema != "" {
		deps.DB, err = store.Open(ctx, cfg.DataDir, cfg.Service, tel, spec.Schema)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Service, errors.Join(err, tel.Shutdown(context.Background())))
		}
	}
	svc, err := spec.Build(deps)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Service, errors.Join(err, closeAll(&Service{}, deps.DB, tel)))
	}
	if svc.Ready == nil && deps.DB != nil {
		svc.Ready = deps.DB.Ping // ready when its database answers
	}
	e := server.New(server.Options{
		Logger:           logger,
		Registry:         reg,
		Metrics:          metrics,
		Telemetry:        tel,
		RoutePatternHint: cfg.RoutePatternHint,
		Ready:            svc.Ready,
	}, svc.Routes)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on ADDR=%q: %w", cfg.Service, cfg.Addr, errors.Join(err, closeAll(svc, deps.DB, tel)))
	}
	logger.Info("listening", "addr", ln.Addr().String(), "otel_sdk", telemetry.Enabled, "route_pattern_hint", cfg.RoutePatternHint)

	inst := &Instance{Addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() {
		err := server.Serve(ctx, e, ln, cfg.HTTP, shutdownTimeout)
		err = errors.Join(err, closeAll(svc, deps.DB, tel))
		if err != nil {
			logger.Error("stopped with an error", "error", err.Error())
		} else {
			logger.Info("stopped")
		}
		inst.done <- err
	}()
	return inst, nil
}

// closeAll releases what the service holds, then its database, then flushes the telemetry.
func closeAll(svc *Service, db *store.DB, tel *telemetry.Telemetry) error {
	var err error
	if svc.Close != nil {
		err = svc.Close()
	}
	if db != nil {
		err = errors.Join(err, db.Close())
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(err, tel.Shutdown(flushCtx))
}
