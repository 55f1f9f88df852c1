// Command lab serves the lab page: the same checkout sent to every lane of the running stack, each
// lane's trace (from Tempo), logs (Loki) and metrics (Prometheus) compared side by side. Its settings
// come from the environment (see lab.ConfigFromEnv); a bad one stops it at start, named.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/lab"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", "lab")
	cfg, err := lab.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Error("bad configuration", "err", err)
		os.Exit(2)
	}
	if err := run(cfg, log); err != nil {
		log.Error("lab stopped", "err", err)
		os.Exit(1)
	}
}

func run(cfg lab.Config, log *slog.Logger) error {
	client := &http.Client{Timeout: 10 * time.Second}
	prom, err := promapi.NewClient(promapi.Config{Address: cfg.Prometheus})
	if err != nil {
		return err
	}
	comparer := &compare.Lab{
		Lanes:   cfg.Lanes,
		Client:  client,
		Source:  compare.Tempo{Client: client, URL: cfg.Tempo},
		Signals: compare.Backends{Client: client, Loki: cfg.Loki, Prometheus: promv1.NewAPI(prom)},
		// The lab runs in a container without the agents' privileges: it cannot see what the kernel lets
		// them do, so the matrix says so and points at make doctor rather than guess.
		Verdicts:  nil,
		Settle:    5 * time.Second, // Tempo serves a trace once its ingester has it, a few seconds after the spans
		Timeout:   cfg.Timeout,
		SpanDelay: cfg.SpanDelay,
	}
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           lab.NewServer(comparer, cfg.Grafana, log).Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("listening", "addr", cfg.Addr, "lanes", len(cfg.Lanes))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
