package native

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/proc"
	"github.com/zerocodelab/lab/e2e/wait"
)

// LoadedLine is what the Go auto agent logs once its probes are in place. Its probes catch requests a
// moment after it (the compose run measured up to about 3 s here).
const LoadedLine = "instrumentation loaded successfully"

// Agent is one Go auto agent attached to one process.
type Agent struct {
	*proc.Process
	Service string
	// Attach is how long the agent took from its start to its loaded line: finding the process,
	// reading its binary, loading and attaching its eBPF programs.
	Attach time.Duration
}

// AgentSpec says how to start one Go auto agent.
type AgentSpec struct {
	Bin     string   // the agent's binary (make agent)
	Service string   // the shop service it instruments
	Pid     int      // the process it attaches to
	Lane    string   // service.namespace of its spans
	Env     []string // besides this process's environment and what StartAgent sets: the exporter's settings
}

// StartAgent starts the agent and returns once it has logged its loaded line. An agent that exits first
// or takes longer than timeout is an error carrying its output, and is killed.
func StartAgent(ctx context.Context, spec AgentSpec, timeout time.Duration) (*Agent, error) {
	env := append(append(os.Environ(), spec.Env...),
		fmt.Sprintf("OTEL_GO_AUTO_TARGET_PID=%d", spec.Pid), // a path would be ambiguous: lanes run the same build
		"OTEL_SERVICE_NAME="+spec.Service,
		"OTEL_RESOURCE_ATTRIBUTES=service.namespace="+spec.Lane,
	)
	started := time.Now()
	p, err := proc.Start(proc.Command{Path: spec.Bin, Env: env})
	if err != nil {
		return nil, err
	}
	err = wait.Eventually(ctx, "the "+spec.Service+" agent's loaded line", timeout, 50*time.Millisecond, func() error {
		switch {
		case strings.Contains(p.Output(), LoadedLine):
			return nil
		case p.State() != nil:
			return wait.Stop(fmt.Errorf("it exited: %v", p.State()))
		}
		return errors.New("not logged yet")
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s agent of lane %s: %w; its output:\n%s", spec.Service, spec.Lane, err, p.Output()), p.Kill())
	}
	return &Agent{Process: p, Service: spec.Service, Attach: time.Since(started)}, nil
}
