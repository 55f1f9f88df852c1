package native

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/zerocodelab/lab/e2e/proc"
	"github.com/zerocodelab/lab/e2e/wait"
)

// BeylaBin is where a run looks for a Beyla binary when BEYLA_BIN does not name one. The project does
// not build Beyla (its source is not reachable from the module proxy): a user who has a binary, from the
// official image or built from Beyla's source, puts it there or points BEYLA_BIN at it.
const BeylaBin = "build/beyla"

// FindBeyla returns the Beyla binary a run uses, from BEYLA_BIN or root/build/beyla, or "" and why there
// is none. A BEYLA_BIN that names no executable file is an error: the user asked for that binary.
func FindBeyla(root string) (path, why string, err error) {
	if bin := os.Getenv("BEYLA_BIN"); bin != "" {
		if info, err := os.Stat(bin); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return "", "", fmt.Errorf("BEYLA_BIN=%s: not an executable file", bin)
		}
		path, err = filepath.Abs(bin)
		return path, "", err
	}
	path = filepath.Join(root, BeylaBin)
	if _, err := os.Stat(path); err != nil {
		return "", "no Beyla binary: set BEYLA_BIN to one (the official image's /beyla, or a build of Beyla's source) or put it at " + BeylaBin, nil
	}
	path, err = filepath.Abs(path)
	return path, "", err
}

// BeylaSpec says how to run Beyla natively over one lane, as docker-compose.yml runs it over the beyla
// lane: its beyla-config.yml and its service's environment, with what only a container has (the lane's
// own PID namespace, host names) replaced by this machine's.
type BeylaSpec struct {
	Bin     string
	Root    string         // the repository: beyla/beyla-config.yml and docker-compose.yml's beyla service
	Compose *types.Project // the compose project, for the beyla service's environment
	Lane    *Lane
	LaneDir string // the lane's directory, which holds its copies of the binaries (LaneSpec.Dir)
	// Traces is the OTLP/HTTP endpoint Beyla sends spans to; Metrics the host:port of its Prometheus
	// endpoint, which the run scrapes as compose's Prometheus scrapes beyla:9400.
	Traces, Metrics string
	BatchTimeout    time.Duration // how long Beyla holds spans before sending them; 0 keeps the file's
	Dir             string        // scratch: the derived configuration
}

// Beyla is one Beyla process instrumenting a lane.
type Beyla struct {
	*proc.Process
	Version string // what the binary says it is, from its first log line
	// Attach is how long Beyla took from its start to instrumenting the lane's last process.
	Attach time.Duration
	Config string // the derived configuration it runs with
}

// instrumentingLine is what Beyla logs for each process it attaches to: "instrumenting process" with
// the process's path in cmd=.
var instrumentingLine = regexp.MustCompile(`msg="instrumenting process".* cmd=(\S+)`)

// WaitInstrumented waits until the log of a Beyla run elsewhere (a container, a pod), read anew by
// logs, says it instruments every service of the shop under dir; it returns the last log read.
func WaitInstrumented(ctx context.Context, timeout time.Duration, dir string, logs func() (string, error)) (string, error) {
	var log string
	err := wait.Eventually(ctx, "Beyla instrumenting the lane's four services", timeout, 2*time.Second, func() error {
		var err error
		if log, err = logs(); err != nil {
			return err
		}
		if missing := NotInstrumented(log, dir); len(missing) > 0 {
			return fmt.Errorf("not yet: %s", strings.Join(missing, ", "))
		}
		return nil
	})
	return log, err
}

// NotInstrumented lists the shop's services whose binary, dir/<service>, Beyla's log does not yet say
// it instruments.
func NotInstrumented(log, dir string) []string {
	seen := map[string]bool{}
	for _, m := range instrumentingLine.FindAllStringSubmatch(log, -1) {
		seen[m[1]] = true
	}
	var missing []string
	for _, svc := range Services {
		if !seen[filepath.Join(dir, svc)] {
			missing = append(missing, svc)
		}
	}
	return missing
}

// versionLine is Beyla's first log line, with Version= and Revision=.
var versionLine = regexp.MustCompile(`msg="Grafana Beyla" Version=(\S+) Revision=(\S+)`)

// StartBeyla writes the derived configuration, starts Beyla, and returns once it has logged
// "instrumenting process" for every service of the lane. It exits, or times out, with its output.
func StartBeyla(ctx context.Context, spec BeylaSpec, timeout time.Duration) (*Beyla, error) {
	config, err := beylaConfig(spec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(spec.Dir, "beyla-config.yml")
	if err := os.WriteFile(path, config, 0o644); err != nil {
		return nil, err
	}
	env, err := beylaEnv(spec.Compose)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	p, err := proc.Start(proc.Command{Path: spec.Bin, Env: append(append(os.Environ(), env...), "BEYLA_CONFIG_PATH="+path)})
	if err != nil {
		return nil, err
	}
	b := &Beyla{Process: p, Config: string(config)}
	err = wait.Eventually(ctx, "Beyla instrumenting every service of lane "+spec.Lane.Name, timeout, 100*time.Millisecond, func() error {
		if p.State() != nil {
			return wait.Stop(fmt.Errorf("it exited: %v", p.State()))
		}
		if missing := NotInstrumented(p.Output(), spec.LaneDir); len(missing) > 0 {
			return fmt.Errorf("not yet: %s", strings.Join(missing, ", "))
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("beyla: %w; its output:\n%s", err, p.Output()), p.Stop(10*time.Second))
	}
	b.Attach = time.Since(started)
	b.Version = BeylaVersion(p.Output())
	if err := PinnedBeyla(spec.Root, b.Version); err != nil {
		return nil, errors.Join(err, p.Stop(10*time.Second))
	}
	return b, nil
}

// PinnedBeyla checks that a Beyla's version (BeylaVersion) is the one .env pins, which the compose file
// runs: figures of another version would be labelled with the pinned one.
func PinnedBeyla(root, version string) error {
	env, err := DotEnv(root)
	if err != nil {
		return err
	}
	pinned := env["BEYLA_VERSION"]
	if v := strings.TrimPrefix(version, "v"); pinned == "" || !(v == pinned || strings.HasPrefix(v, pinned+"-") || strings.HasPrefix(v, pinned+" ")) {
		return fmt.Errorf("the Beyla binary is %q; .env pins BEYLA_VERSION=%s, which compose runs: give a binary of that version", version, pinned)
	}
	return nil
}

// BeylaVersion is what Beyla's log says it is, from its first line: version and revision, or "" when
// the log has no such line.
func BeylaVersion(log string) string {
	if m := versionLine.FindStringSubmatch(log); m != nil {
		return m[1] + " (revision " + m[2] + ")"
	}
	return ""
}

// beylaConfig is root's beyla/beyla-config.yml with what differs on this machine: the lane's binaries
// where compose has /app/<service>, the Collector's and Prometheus's addresses, and the batch timeout.
// Everything else (routes, attributes) is kept as it is.
func beylaConfig(spec BeylaSpec) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(spec.Root, "beyla", "beyla-config.yml"))
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("beyla-config.yml: %w", err)
	}
	discovery, _ := cfg["discovery"].(map[string]any)
	instrument, _ := discovery["instrument"].([]any)
	if len(instrument) == 0 {
		return nil, errors.New("beyla-config.yml: no discovery.instrument selectors to point at the lane's binaries")
	}
	for _, sel := range instrument {
		m, ok := sel.(map[string]any)
		path, _ := m["exe_path"].(string)
		svc, found := strings.CutPrefix(path, "/app/")
		if !ok || !found {
			return nil, fmt.Errorf("beyla-config.yml: discovery.instrument has %v; want exe_path: /app/<service>", sel)
		}
		m["exe_path"] = filepath.Join(spec.LaneDir, svc)
	}
	traces, _ := cfg["otel_traces_export"].(map[string]any)
	prom, _ := cfg["prometheus_export"].(map[string]any)
	if traces == nil || prom == nil {
		return nil, errors.New("beyla-config.yml: want otel_traces_export and prometheus_export sections")
	}
	port, err := strconv.Atoi(spec.Metrics[strings.LastIndexByte(spec.Metrics, ':')+1:])
	if err != nil {
		return nil, fmt.Errorf("Beyla's metrics address %q: %w", spec.Metrics, err)
	}
	traces["endpoint"] = spec.Traces
	if spec.BatchTimeout > 0 {
		traces["batch_timeout"] = spec.BatchTimeout.String()
	}
	prom["port"] = port
	return yaml.Marshal(cfg)
}

// beylaEnv is the beyla service's environment in docker-compose.yml, but for BEYLA_CONFIG_PATH, which
// StartBeyla sets to the derived configuration.
func beylaEnv(compose *types.Project) ([]string, error) {
	svc, ok := compose.Services["beyla"]
	if !ok {
		return nil, errors.New("docker-compose.yml has no service beyla")
	}
	var env []string
	for name, value := range svc.Environment {
		if value != nil && name != "BEYLA_CONFIG_PATH" {
			env = append(env, name+"="+*value)
		}
	}
	return env, nil
}

// Label names the build for every figure it produces: its version and, on a kernel without kprobes, that
// it is patched, since it instrumented processes where the official build's discovery stops.
func (b *Beyla) Label(kprobes bool) string {
	label := "Beyla " + b.Version
	if !kprobes {
		label += ", patched: no kprobes here, its discovery polls /proc"
	}
	return label
}
