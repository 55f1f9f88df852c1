// Command bench measures what each lane of Zero-code Lab costs on this machine: the shop run natively
// as plain binaries, under the Go auto agent (one per service, with the compose file's settings) and as
// the SDK build exporting to the real Collector, each lane with copies of its own binaries. It prints a
// Markdown report and writes it to -out. Root and Linux: the agents load eBPF programs.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zerocodelab/lab/e2e/bench"
	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/native"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("bench failed", "error", err.Error())
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	root := flag.String("root", "..", "the repository")
	out := flag.String("out", "../build/bench-lanes.md", "where the Markdown report is written")
	rounds := flag.Int("rounds", 3, "rounds of every lane and workload, in rotating order")
	duration := flag.Duration("duration", 5*time.Second, "length of each run (saturation, and each open-loop rate)")
	settle := flag.Duration("settle", 7*time.Second, "quiet time around each saturation run: longer than the exporters' 5 s batching delay")
	workers := flag.Int("workers", 8, "concurrent senders at saturation")
	// Low enough that the slowest lane keeps up (the beyla lane manages about an eighth of plain here, the
	// otel-auto lane a quarter): beyond its capacity an open-loop latency only grows with the run's length.
	rates := flag.String("rates", "0.05,0.1", "open-loop rates, as fractions of plain's throughput at saturation")
	workloads := flag.String("workloads", "read,checkout", "workloads to run: "+workloadNames())
	capacity := flag.String("capacity", "4000,8000,16000,32000,64000", "spans a second telemetrygen sends the Collector, rising until loss (\"\" skips it)")
	telemetrygen := flag.String("telemetrygen", "", "telemetrygen's binary (default: <root>/build/tools/telemetrygen, which make bench installs)")
	httpSenders := flag.Bool("http-senders", false, "also run otel-auto-http and manual-http, whose senders speak OTLP/HTTP instead of compose's gRPC")
	flag.Parse()

	plan := bench.Plan{Rounds: *rounds, AttachTimeout: 3 * time.Minute, HTTPSenders: *httpSenders, Progress: os.Stderr}
	switch {
	case plan.Rounds < 1:
		return fmt.Errorf("-rounds %d: want at least 1", *rounds)
	case *duration < 100*time.Millisecond:
		return fmt.Errorf("-duration %s: want at least 100ms", *duration)
	case *settle < 0:
		return fmt.Errorf("-settle %s: want 0 or more", *settle)
	case *workers < 1:
		return fmt.Errorf("-workers %d: want at least 1", *workers)
	}
	var ok bool
	if plan.Rates, ok = numbers(*rates, 1); !ok {
		return fmt.Errorf("-rates %q: each must be a fraction in (0, 1]", *rates)
	}
	if *capacity != "" {
		if plan.Capacity, ok = numbers(*capacity, math.Inf(1)); !ok {
			return fmt.Errorf("-capacity %q: each must be a positive rate in spans a second", *capacity)
		}
		plan.Telemetrygen = *telemetrygen
		if plan.Telemetrygen == "" {
			plan.Telemetrygen = filepath.Join(*root, "build/tools/telemetrygen")
		}
		if _, err := os.Stat(plan.Telemetrygen); err != nil {
			return fmt.Errorf("-telemetrygen %s is missing: make bench installs it (or -capacity \"\")", plan.Telemetrygen)
		}
	}
	for _, name := range strings.Split(*workloads, ",") {
		w, ok := bench.WorkloadByName(strings.TrimSpace(name))
		if !ok {
			return fmt.Errorf("-workloads %q: %q is not one of %s", *workloads, name, workloadNames())
		}
		plan.Workloads = append(plan.Workloads, w)
	}
	if runtime.GOOS != "linux" {
		return fmt.Errorf("the bench runs eBPF agents on a Linux kernel; this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return errors.New("the bench loads eBPF programs and needs root: sudo make bench")
	}
	setup := bench.Setup{
		Root:    *root,
		Otelcol: filepath.Join(*root, "build/otelcol/otelcol-zerocode"),
		Agent:   filepath.Join(*root, "build/otel-go-instrumentation"),
	}
	for _, f := range []struct{ path, how string }{{setup.Otelcol, "make collector"}, {setup.Agent, "make agent"}} {
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s is missing: %s builds it", f.path, f.how)
		}
	}
	// Beyla is measured where the user gives a binary: the project cannot build it.
	beyla, noBeyla, err := native.FindBeyla(*root)
	if err != nil {
		return err
	}
	setup.Beyla = beyla

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// What the kernel allows: the agents read the lockdown mode on securityfs and need tracefs and bpffs.
	if mounted, err := doctor.MountSecurityfs(); err != nil {
		return err
	} else if mounted {
		defer syscall.Unmount(doctor.SecurityfsPath, 0)
	}
	for _, fs := range [][2]string{{"tracefs", "/sys/kernel/tracing"}, {"bpf", "/sys/fs/bpf"}} {
		unmount, err := native.MountIfMissing(fs[0], fs[1])
		if err != nil {
			return err
		}
		if unmount != nil {
			defer unmount()
		}
	}
	facts := doctor.Inspect()
	verdicts := doctor.Verdicts(facts)
	if ok, why := doctor.Can(verdicts, doctor.AutoSpans); !ok {
		return fmt.Errorf("the Go auto agent cannot run on this kernel: %s", why)
	}
	report := bench.Context{
		Machine: fmt.Sprintf("%d CPUs, kernel %s, lockdown %s", runtime.NumCPU(), facts.Kernel, facts.Lockdown),
		NotRun:  map[string]string{},
		Builds:  map[string]string{},
	}
	if beyla == "" {
		report.NotRun["beyla"] = beylaReason(verdicts, noBeyla)
	}
	if cost, err := doctor.MeasureProbeCost(20000, 5); err != nil {
		report.NoProbe = err.Error()
	} else {
		report.ProbeCost = &cost
	}

	dir, err := os.MkdirTemp("", "zero-code-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	setup.Dir = dir
	logger.Info("building the shop and starting the plain lane")
	lab, err := bench.StartPlain(ctx, setup)
	if err != nil {
		return err
	}
	defer lab.Close()
	runner := &bench.Runner{
		Client:   &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 512}},
		Workers:  *workers,
		Duration: *duration,
		Settle:   *settle,
	}
	if probes, err := bench.CountProbes(); err != nil {
		logger.Warn("uprobe hits are not counted", "error", err.Error())
	} else {
		defer probes.Close()
		runner.Probes = probes
	}
	res, err := bench.Run(ctx, lab, runner, plan)
	if err != nil {
		return err
	}
	if res.Beyla != nil {
		report.Builds["beyla"] = res.Beyla.Label(facts.Kprobes)
	}
	var md bytes.Buffer
	if err := bench.WriteMarkdown(&md, res, report); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if _, err := io.Copy(os.Stdout, &md); err != nil {
		return err
	}
	logger.Info("report written", "file", *out)
	// The hits a request costs, for make doctor's prediction.
	hits := doctor.ProbeHits{Kernel: facts.Kernel, Counted: time.Now().UTC(), Lanes: map[string]doctor.LaneProbes{}}
	for _, lane := range []string{"otel-auto", "beyla"} {
		if probes := bench.ProbesOf(res, lane); probes.Hits[plan.Workloads[0].Name] > 0 {
			hits.Lanes[lane] = probes
		}
	}
	hitsFile := filepath.Join(filepath.Dir(*out), "probe-hits.json")
	if err := hits.Save(hitsFile); err != nil {
		return fmt.Errorf("write %s: %w", hitsFile, err)
	}
	return bench.Check(res)
}

// beylaReason says why the beyla lane is not measured: there is no binary, and what the doctor says of
// the official build on this kernel.
func beylaReason(verdicts []doctor.Verdict, noBinary string) string {
	for _, feature := range []doctor.Feature{doctor.BeylaDiscovery, doctor.BeylaSpans} {
		if ok, why := doctor.Can(verdicts, feature); !ok {
			return noBinary + "; and the official build here: " + why
		}
	}
	return noBinary
}

// numbers parses a comma-separated list of numbers, each above 0 and at most max.
func numbers(list string, max float64) ([]float64, bool) {
	var xs []float64
	for _, f := range strings.Split(list, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || x <= 0 || x > max {
			return nil, false
		}
		xs = append(xs, x)
	}
	return xs, true
}

func workloadNames() string {
	var names []string
	for _, w := range bench.Workloads {
		names = append(names, w.Name)
	}
	return strings.Join(names, ", ")
}
