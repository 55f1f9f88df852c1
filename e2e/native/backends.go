package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/zerocodelab/lab/e2e/proc"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/wait"
)

// Backend is a backend running natively: Loki or Prometheus.
type Backend struct {
	URL string
	*proc.Process
}

// WaitHTTP waits until url answers below 500 (a component's own readiness endpoint), or p exits.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration, p *proc.Process) error {
	err := wait.Eventually(ctx, url+" answers", timeout, 100*time.Millisecond, func() error {
		if p.State() != nil {
			return wait.Stop(fmt.Errorf("it exited: %v", p.State()))
		}
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w; output:\n%s", err, report.Tail(p.Output(), 3000))
	}
	return nil
}

// answersAs checks that url's body contains want.
func answersAs(url, want string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	if !strings.Contains(string(body), want) {
		return fmt.Errorf("%s answered %d %q, not %q", url, resp.StatusCode, body, want)
	}
	return nil
}

// StartLoki runs Loki with root's observability/loki/loki.yaml, its addresses and directory set by the
// environment (the file is read with -config.expand-env), and returns once it is ready.
func StartLoki(ctx context.Context, bin, root, dir string) (*Backend, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addrs, err := FreeAddrs(3)
	if err != nil {
		return nil, err
	}
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	p, err := proc.Start(proc.Command{
		Path: bin,
		Args: []string{"-config.file=" + filepath.Join(root, "observability/loki/loki.yaml"), "-config.expand-env=true"},
		Env: append(os.Environ(), "LOKI_ADDRESS=127.0.0.1", "LOKI_HTTP_PORT="+port(addrs[0]), "LOKI_GRPC_PORT="+port(addrs[1]),
			"LOKI_MEMBERLIST_PORT="+port(addrs[2]), "LOKI_DATA="+dir),
	})
	if err != nil {
		return nil, err
	}
	b := &Backend{URL: "http://" + addrs[0], Process: p}
	if err := WaitHTTP(ctx, b.URL+"/ready", 90*time.Second, p); err != nil { // 503 until its ring is ready
		return nil, errors.Join(fmt.Errorf("loki: %w", err), p.Kill())
	}
	return b, nil
}

// ScrapeTarget is one process Prometheus scrapes in the shop job, with the service label relabelling
// derives from the compose host names (the lane label comes from the service itself).
type ScrapeTarget struct {
	Addr, Service string
}

// StartPrometheus runs Prometheus on addr with root's observability/prometheus/prometheus.yml adapted to
// this machine: the shop job scrapes targets, the Collector's job scrapes collector, and Beyla's job
// scrapes beyla, or is left out where it is "" (no Beyla runs). The rest of the file is kept as it is.
// It returns once Prometheus is ready.
func StartPrometheus(ctx context.Context, bin, root, dir, addr string, targets []ScrapeTarget, collector, beyla string) (*Backend, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, "observability/prometheus/prometheus.yml"))
	if err != nil {
		return nil, err
	}
	var cfg promConfig
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("prometheus.yml: %w", err)
	}
	var jobs []scrapeConfig
	for _, job := range cfg.ScrapeConfigs {
		switch job.JobName {
		case "shop":
			job.StaticConfigs = nil
			for _, t := range targets {
				job.StaticConfigs = append(job.StaticConfigs, staticConfig{
					Targets: []string{t.Addr}, Labels: map[string]string{"service": t.Service},
				})
			}
			job.RelabelConfigs = nil // the label above is what relabelling derives from compose host names
		case "otel-collector":
			job.StaticConfigs = []staticConfig{{Targets: []string{collector}}}
		case "prometheus":
			job.StaticConfigs = []staticConfig{{Targets: []string{addr}}}
		case "beyla":
			if beyla == "" {
				continue
			}
			for i := range job.StaticConfigs {
				job.StaticConfigs[i].Targets = []string{beyla} // the lane label stays
			}
		}
		jobs = append(jobs, job)
	}
	cfg.ScrapeConfigs = jobs
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return nil, err
	}
	p, err := proc.Start(proc.Command{Path: bin, Args: []string{
		"--config.file=" + path, "--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr,
		"--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage",
	}})
	if err != nil {
		return nil, err
	}
	b := &Backend{URL: "http://" + addr, Process: p}
	if err := WaitHTTP(ctx, b.URL+"/-/ready", 20*time.Second, p); err != nil {
		return nil, errors.Join(fmt.Errorf("prometheus: %w", err), p.Kill())
	}
	// Whatever answered must be this Prometheus, not another program that took the port first.
	if err := answersAs(b.URL+"/-/ready", "Prometheus Server is Ready"); err != nil {
		return nil, errors.Join(fmt.Errorf("prometheus on %s: %w; output:\n%s", addr, err, report.Tail(p.Output(), 3000)), p.Kill())
	}
	return b, nil
}

// promConfig is what a native run changes in prometheus.yml: where each job scrapes.
type promConfig struct {
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	Rest          map[string]any `yaml:",inline"`
}

type scrapeConfig struct {
	JobName        string         `yaml:"job_name"`
	StaticConfigs  []staticConfig `yaml:"static_configs"`
	RelabelConfigs []any          `yaml:"relabel_configs,omitempty"`
	Rest           map[string]any `yaml:",inline"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}
