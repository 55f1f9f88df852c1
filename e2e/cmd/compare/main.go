// Command compare sends one checkout of each scenario to every lane of a running Zero-code Lab and
// compares what each lane's instrumentation made of it: a matrix of capabilities by lane and each lane's
// span tree, printed and written as Markdown. By default it asks the compose stack on 127.0.0.1.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/native"
)

// settle is how long a trace must keep its spans to count as complete: Tempo serves a trace once its
// ingester has it, a few seconds after the spans.
const settle = 5 * time.Second

// config is what the flags say, checked before anything is sent.
type config struct {
	lanes      []compare.Lane
	scenarios  []compare.Scenario
	tempo      string
	loki       string
	prometheus string
	markdown   string
	timeout    time.Duration
	delay      time.Duration // compare.Lab's SpanDelay
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := parse(os.Args[1:])
	if err != nil {
		log.Error("bad configuration", "err", err)
		os.Exit(2)
	}
	if err := run(context.Background(), cfg, log); err != nil {
		log.Error("compare failed", "err", err)
		os.Exit(1)
	}
}

func parse(args []string) (config, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	lanes := fs.String("lanes", "plain=http://127.0.0.1:8080,beyla=http://127.0.0.1:8081,otel-auto=http://127.0.0.1:8082,manual=http://127.0.0.1:8083",
		"the lanes' gateways, name=URL separated by commas; names: plain, beyla, otel-auto, otel-auto-nohint, manual")
	scenarios := fs.String("scenarios", "", "the scenarios to compare, separated by commas (default: all)")
	tempo := fs.String("tempo", "http://127.0.0.1:3200", "Tempo's HTTP API (or any server of its /api/v2/traces and /api/search)")
	loki := fs.String("loki", "http://127.0.0.1:3100", "Loki's HTTP API")
	prometheus := fs.String("prometheus", "http://127.0.0.1:9090", "Prometheus' HTTP API")
	markdown := fs.String("markdown", "build/compare.md", "where to write the comparison as Markdown (empty: nowhere)")
	timeout := fs.Duration("timeout", 45*time.Second, "how long to wait for a lane's trace, logs and metrics")
	repo := fs.String("repo", ".", "the repository's root, where the compose files are")
	compose := fs.String("compose", "docker-compose.yml", "the compose files of the running stack, separated by commas, "+
		"from which the wait for a checkout's spans is read: the senders' batch delay, the Collectors', Tempo's search (add docker-compose.sampling.yml for the two-tier form)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	cfg := config{tempo: *tempo, loki: *loki, prometheus: *prometheus, markdown: *markdown, timeout: *timeout}
	lanesParsed, err := compare.ParseLanes(*lanes)
	if err != nil {
		return cfg, fmt.Errorf("-lanes: %w", err)
	}
	cfg.lanes = lanesParsed
	if *scenarios == "" {
		cfg.scenarios = compare.Scenarios
	} else {
		for _, name := range strings.Split(*scenarios, ",") {
			sc, ok := compare.ScenarioNamed(strings.TrimSpace(name))
			if !ok {
				return cfg, fmt.Errorf("-scenarios: %q is not a scenario of the shop", name)
			}
			cfg.scenarios = append(cfg.scenarios, sc)
		}
	}
	for flagName, u := range map[string]string{"-tempo": cfg.tempo, "-loki": cfg.loki, "-prometheus": cfg.prometheus} {
		if err := compare.CheckURL(u); err != nil {
			return cfg, fmt.Errorf("%s: %w", flagName, err)
		}
	}
	project, err := native.Load(context.Background(), *repo, strings.Split(*compose, ","), native.Lanes, nil)
	if err != nil {
		return cfg, fmt.Errorf("-compose: %w", err)
	}
	if cfg.delay, err = native.SpanDelay(project); err != nil {
		return cfg, fmt.Errorf("-compose: %w", err)
	}
	if cfg.timeout < cfg.delay+settle {
		return cfg, fmt.Errorf("-timeout: must be at least the %s a span can take to be found in Tempo, by the compose files, and the %s a trace must then stay the same", cfg.delay, settle)
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	client := &http.Client{Timeout: 10 * time.Second}
	prom, err := promapi.NewClient(promapi.Config{Address: cfg.prometheus})
	if err != nil {
		return fmt.Errorf("-prometheus: %w", err)
	}
	lab := compare.Lab{
		Lanes:     cfg.lanes,
		Client:    client,
		Source:    compare.Tempo{Client: client, URL: cfg.tempo},
		Signals:   compare.Backends{Client: client, Loki: cfg.loki, Prometheus: promv1.NewAPI(prom)},
		Verdicts:  verdicts(cfg.lanes, log),
		Settle:    settle,
		Timeout:   cfg.timeout,
		SpanDelay: cfg.delay,
	}
	log.Info("waiting for each checkout's spans", "span_delay", cfg.delay, "from", "the compose files' senders, Collectors and Tempo")
	var md bytes.Buffer
	md.WriteString("# The lanes compared, one checkout of each scenario (make compare)\n\n")
	for _, sc := range cfg.scenarios {
		log.Info("comparing", "scenario", sc.Name, "lanes", len(cfg.lanes))
		m := lab.Compare(ctx, sc)
		fmt.Printf("\n")
		if err := compare.WriteText(os.Stdout, m); err != nil {
			return err
		}
		fmt.Printf("\n")
		if err := compare.WriteTrees(os.Stdout, m); err != nil {
			return err
		}
		if err := compare.WriteMarkdown(&md, m); err != nil {
			return err
		}
	}
	if cfg.markdown == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.markdown), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.markdown, md.Bytes(), 0o644); err != nil {
		return err
	}
	log.Info("written", "markdown", cfg.markdown)
	return nil
}

// verdicts are the doctor's, when they describe the kernel the lanes run on: this machine's, with the
// lanes on loopback, read as root on Linux. Otherwise the matrix says the doctor could not tell.
func verdicts(lanes []compare.Lane, log *slog.Logger) []doctor.Verdict {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		log.Info("no doctor verdicts: they need root on Linux (sudo build/compare)")
		return nil
	}
	for _, l := range lanes {
		u, _ := url.Parse(l.Gateway)
		if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
			log.Info("no doctor verdicts: a lane runs on another machine", "lane", l.Name, "gateway", l.Gateway)
			return nil
		}
	}
	return doctor.Verdicts(doctor.Inspect())
}
