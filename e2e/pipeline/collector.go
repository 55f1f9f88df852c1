// Package pipeline runs the lab's real Collector (the natively built binary with collector/config.yaml) as
// a process on 127.0.0.1 and treats it the way a bad day would: load over OTLP, kill -9, a poison message,
// a restart on the same queue directory. It counts what the Collector acknowledged and what reached the
// trace backend, so a test can say whether anything acknowledged was lost.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/proc"
)

// Endpoints are where one Collector listens and sends, all on this machine, and where it keeps its queues.
// They fill the config's ${env:NAME:-default}: nothing else of the config is changed.
type Endpoints struct {
	OTLPGRPC, OTLPHTTP, Fluent, Health, Telemetry string // host:port it listens on
	Tempo                                         string // host:port of the OTLP/gRPC trace backend
	Loki, PromWrite                               string // URLs of the log and metric backends
	QueueDir, WALDir                              string
}

// NewEndpoints picks free loopback ports for everything and puts the queues under dir. The backends'
// ports are picked too, and nothing listens there until a test starts something.
func NewEndpoints(dir string) (Endpoints, error) {
	addrs, err := native.FreeAddrs(8)
	if err != nil {
		return Endpoints{}, err
	}
	return Endpoints{
		OTLPGRPC: addrs[0], OTLPHTTP: addrs[1], Fluent: addrs[2], Health: addrs[3], Telemetry: addrs[4],
		Tempo: addrs[5], Loki: "http://" + addrs[6] + "/otlp", PromWrite: "http://" + addrs[7] + "/api/v1/write",
		QueueDir: filepath.Join(dir, "queue"), WALDir: filepath.Join(dir, "prw-wal"),
	}, nil
}

// Environ is the environment that points collector/config.yaml at e.
func (e Endpoints) Environ() ([]string, error) {
	host, port, err := net.SplitHostPort(e.Telemetry)
	if err != nil {
		return nil, fmt.Errorf("telemetry address: %w", err)
	}
	return append(os.Environ(),
		"OTLP_GRPC_ENDPOINT="+e.OTLPGRPC, "OTLP_HTTP_ENDPOINT="+e.OTLPHTTP, "FLUENT_ENDPOINT="+e.Fluent,
		"HEALTH_ENDPOINT="+e.Health, "TELEMETRY_HOST="+host, "TELEMETRY_PORT="+port,
		"TEMPO_ENDPOINT="+e.Tempo, "LOKI_OTLP_ENDPOINT="+e.Loki, "PROMETHEUS_WRITE_ENDPOINT="+e.PromWrite,
		"QUEUE_DIR="+e.QueueDir, "PRW_WAL_DIR="+e.WALDir,
	), nil
}

// Sender is the OTLP exporter settings (OTEL_EXPORTER_OTLP_*) that compose gives service, as NAME=value
// lines, the endpoint pointed at this Collector's receiver for the protocol the service speaks: a native
// process started with them sends as the service's container does. protocol, when not "", replaces the
// one compose sets, to measure what another would do.
func (e Endpoints) Sender(compose *types.Project, service, protocol string) ([]string, error) {
	svc, ok := compose.Services[service]
	if !ok {
		return nil, fmt.Errorf("docker-compose.yml has no service %q", service)
	}
	if protocol == "" {
		if p := svc.Environment["OTEL_EXPORTER_OTLP_PROTOCOL"]; p != nil {
			protocol = *p
		}
	}
	var endpoint string
	switch protocol {
	case "grpc":
		endpoint = "http://" + e.OTLPGRPC
	case "http/protobuf":
		endpoint = "http://" + e.OTLPHTTP
	default:
		return nil, fmt.Errorf("%s: OTEL_EXPORTER_OTLP_PROTOCOL=%q: want grpc or http/protobuf", service, protocol)
	}
	var env []string
	for name, value := range svc.Environment {
		switch {
		case value == nil, !strings.HasPrefix(name, "OTEL_EXPORTER_OTLP_"):
		case name == "OTEL_EXPORTER_OTLP_ENDPOINT", name == "OTEL_EXPORTER_OTLP_PROTOCOL":
		case strings.HasPrefix(name, "OTEL_EXPORTER_OTLP_TRACES_"):
			// It would beat the general settings this function points at the native Collector.
			return nil, fmt.Errorf("%s: %s: a native run sets only the general OTEL_EXPORTER_OTLP_* settings", service, name)
		default:
			env = append(env, name+"="+*value)
		}
	}
	slices.Sort(env)
	return append(env, "OTEL_EXPORTER_OTLP_PROTOCOL="+protocol, "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint), nil
}

// Collector is how to run one Collector. Every Start uses the same binary, config and endpoints, so a
// restarted Collector finds the queues its predecessor left, as compose's restart policy would have it.
type Collector struct {
	Bin, Config string
	Overlays    []string // more config files, laid over Config in order (the Collector merges them)
	Env         []string // more NAME=value settings, besides the endpoints'
	Endpoints
}

// Start runs the Collector and returns once its health_check extension answers 200, which it does only
// when every pipeline runs. A Collector that exits or never becomes ready is an error carrying its output.
func (c Collector) Start(ctx context.Context) (*proc.Process, error) {
	env, err := c.Environ()
	if err != nil {
		return nil, err
	}
	args := []string{"--config", c.Config}
	for _, o := range c.Overlays {
		args = append(args, "--config", o)
	}
	p, err := proc.Start(proc.Command{Path: c.Bin, Args: args, Env: append(env, c.Env...)})
	if err != nil {
		return nil, err
	}

	// The health check answers 503 until every pipeline runs; a Collector that exits ends the wait.
	if err := native.WaitHTTP(ctx, "http://"+c.Health+"/", 30*time.Second, p); err != nil {
		return nil, errors.Join(fmt.Errorf("the Collector's health check: %w", err), p.Kill())
	}
	return p, nil
}

// OwnMetrics reads the names of the Collector's own metrics from the documentation of the exact
// receiver, processor and exporter helpers the Collector built in dir (by the builder, with its go.mod)
// links, and of the two components of tail sampling that add metrics of their own.
func OwnMetrics(dir string) (map[string]bool, error) {
	names := map[string]bool{}
	for _, mod := range []string{
		"go.opentelemetry.io/collector/receiver/receiverhelper",
		"go.opentelemetry.io/collector/processor/processorhelper",
		"go.opentelemetry.io/collector/exporter/exporterhelper",
		"github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor",
		"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter",
	} {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOSUMDB=off")
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("find %s of the Collector built in %s (make collector): %w", mod, dir, err)
		}
		doc, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "documentation.md"))
		if err != nil {
			return nil, err
		}
		for _, m := range ownMetricHeading.FindAllStringSubmatch(string(doc), -1) {
			names[m[1]] = true
		}
	}
	if !names["otelcol_exporter_sent_spans"] || !names["otelcol_receiver_accepted_spans"] {
		return nil, fmt.Errorf("the Collector's documentation lists no pipeline metrics: %v", names)
	}
	return names, nil
}

// ownMetricHeading is how the helpers' documentation.md names each metric.
var ownMetricHeading = regexp.MustCompile(`(?m)^### (otelcol_\S+)$`)
