package stack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/report"
)

// Project is one compose project on the Docker engine, driven through the docker compose CLI exactly as
// a user drives it. It is named by the environment compose reads (COMPOSE_PROJECT_NAME, COMPOSE_FILE,
// COMPOSE_PROFILES), so that the Makefile's lane commands, run with the same environment, act on it too.
type Project struct {
	Root string    // the repository root, where docker-compose.yml is
	Env  []string  // the COMPOSE_* variables, added to this process's environment
	Log  io.Writer // every command run, with its output
}

// Compose runs "docker compose args..." and returns its standard output.
func (p *Project) Compose(ctx context.Context, args ...string) (string, error) {
	return p.run(ctx, "docker", append([]string{"compose"}, args...)...)
}

// Make runs a target of the project's Makefile with the project's environment.
func (p *Project) Make(ctx context.Context, args ...string) (string, error) {
	return p.run(ctx, "make", append([]string{"--no-print-directory"}, args...)...)
}

// Docker runs "docker args..." (for what compose does not offer, such as inspect).
func (p *Project) Docker(ctx context.Context, args ...string) (string, error) {
	return p.run(ctx, "docker", args...)
}

func (p *Project) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = p.Root
	cmd.Env = append(os.Environ(), p.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	fmt.Fprintf(p.Log, "$ %s %s\n", name, strings.Join(args, " "))
	err := cmd.Run()
	if stderr.Len() > 0 {
		fmt.Fprintf(p.Log, "%s", report.Tail(stderr.String(), 4000))
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, report.Tail(stderr.String(), 2000))
	}
	return stdout.String(), nil
}

// Container is one container of the project as "docker compose ps" reports it.
type Container struct {
	Name     string `json:"Name"`
	Service  string `json:"Service"`
	State    string `json:"State"`  // running, exited, restarting...
	Health   string `json:"Health"` // healthy, unhealthy, starting, or "" without a healthcheck
	ExitCode int    `json:"ExitCode"`
}

// Containers lists every container of the project, stopped ones included.
func (p *Project) Containers(ctx context.Context) (map[string]Container, error) {
	out, err := p.Compose(ctx, "ps", "--all", "--format", "json")
	if err != nil {
		return nil, err
	}
	cs := map[string]Container{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var c Container
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, fmt.Errorf("docker compose ps: %w: %q", err, line)
		}
		cs[c.Service] = c
	}
	return cs, sc.Err()
}

// Ready reports whether a container runs and, if it has a healthcheck, is healthy.
func (c Container) Ready() bool {
	return c.State == "running" && (c.Health == "" || c.Health == "healthy")
}

// HostAddr is the 127.0.0.1:port address on which a service publishes its container port.
func (p *Project) HostAddr(ctx context.Context, service string, port int) (string, error) {
	out, err := p.Compose(ctx, "port", service, strconv.Itoa(port))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// PID is the host PID of the main process of a service's container.
func (p *Project) PID(ctx context.Context, service string) (int, error) {
	out, err := p.inspect(ctx, service, "{{.State.Pid}}")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

// RestartCount is how many times the engine has restarted a service's container after it exited.
func (p *Project) RestartCount(ctx context.Context, service string) (int, error) {
	out, err := p.inspect(ctx, service, "{{.RestartCount}}")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

// StartedAt is when the engine last started a service's container, running or not.
func (p *Project) StartedAt(ctx context.Context, service string) (time.Time, error) {
	out, err := p.inspect(ctx, service, "{{.State.StartedAt}}")
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, out)
}

// inspect is one field of a service's container as docker inspect's format gives it, running or not.
func (p *Project) inspect(ctx context.Context, service, format string) (string, error) {
	id, err := p.Compose(ctx, "ps", "--all", "-q", service)
	if err != nil {
		return "", err
	}
	out, err := p.Docker(ctx, "inspect", "-f", format, strings.TrimSpace(id))
	return strings.TrimSpace(out), err
}

// Logs is what a service's containers wrote, as "docker compose logs" shows it.
func (p *Project) Logs(ctx context.Context, service string) (string, error) {
	return p.Compose(ctx, "logs", "--no-color", "--no-log-prefix", service)
}
