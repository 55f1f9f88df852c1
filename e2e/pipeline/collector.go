// Package pipeline runs the lab's real Collector (the natively built binary with collector/config.yaml) as
// a process on 127.0.0.1 and treats it the way a bad day would: load over OTLP, kill -9, a poison message,
// a restart on the same queue directory. It counts what the Collector acknowledged and what reached the
// trace backend, so a test can say whether anything acknowledged was lost.
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/wait"
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
	addrs, err := FreeAddrs(8)
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

// FreeAddrs returns n distinct loopback host:ports nothing listens on right now: all are held open until
// the last is picked, so none is handed out twice.
func FreeAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// Collector is how to run one Collector. Every Start uses the same binary, config and endpoints, so a
// restarted Collector finds the queues its predecessor left, as compose's restart policy would have it.
type Collector struct {
	Bin, Config string
	Endpoints
}

// Process is one run of the Collector.
type Process struct {
	cmd    *exec.Cmd
	out    report.Log
	exited chan struct{} // closed once the process has exited and state is set
	state  *os.ProcessState
}

// Start runs the Collector and returns once its health_check extension answers 200, which it does only
// when every pipeline runs. A Collector that exits or never becomes ready is an error carrying its output.
func (c Collector) Start(ctx context.Context) (*Process, error) {
	env, err := c.Environ()
	if err != nil {
		return nil, err
	}
	p := &Process{cmd: exec.Command(c.Bin, "--config", c.Config), exited: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Bin, err)
	}
	go func() {
		p.cmd.Wait() // the exit status is read from ProcessState
		p.state = p.cmd.ProcessState
		close(p.exited)
	}()

	// Stop waiting as soon as the process is gone: its output says why.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	err = wait.Eventually(ctx, "the Collector's health check", 30*time.Second, 50*time.Millisecond, func() error {
		return healthy("http://" + c.Health + "/")
	})
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("%w (exit: %v); output:\n%s", err, p.state, p.Output())
	}
	return p, nil
}

func healthy(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// Kill sends SIGKILL, as a crash or the OOM killer would: no shutdown, nothing flushed. It returns once
// the process is gone. Killing a process that has already exited is not an error.
func (p *Process) Kill() error {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill the Collector: %w", err)
	}
	<-p.exited
	return nil
}

// Exited is closed once the process has exited; State then says how.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// State is how the process exited, nil while it runs.
func (p *Process) State() *os.ProcessState {
	select {
	case <-p.exited:
		return p.state
	default:
		return nil
	}
}

// Output is what the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// CPUTime is the processor time (user and system) the Collector has used so far, from the kernel's
// accounting of the process (/proc/<pid>/stat, in USER_HZ ticks, 100 a second on Linux).
func (p *Process) CPUTime() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields that follow are counted after it.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", data)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", data)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15 of the line
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat field %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
