package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/wait"
)

// Options say which stack to bring up and where.
type Options struct {
	Root    string    // the repository root
	Name    string    // the compose project name: never the showcase's own, so a user's stack is left alone
	Lanes   []string  // the lanes (compose profiles) to run
	Files   []string  // compose files laid over docker-compose.yml (before the stand-ins), e.g. docker-compose.sampling.yml
	Scratch string    // a directory for what the run writes on the host
	Log     io.Writer // commands and their output
	// Tempo and Grafana run their own images, which the engine must have (see Components); otherwise
	// TempoStandIn stands in for Tempo, and NoGrafana leaves Grafana out.
	Tempo, Grafana bool
}

// Run is the stack as the run brought it up.
type Run struct {
	*Project
	Lanes      []string
	TracesFile string   // where the Tempo stand-in writes every span it receives; "" with the real Tempo
	mounted    []string // what the run mounted on the host, to unmount at the end
}

// The compose files laid over the others where the engine lacks an image (see their comments).
const (
	TempoStandIn = "e2e/stack/compose.tempo-standin.yml"
	NoGrafana    = "e2e/stack/compose.no-grafana.yml"
)

// HostPorts are the 127.0.0.1 ports docker-compose.yml publishes: the run needs them free.
var HostPorts = []int{8080, 8081, 8082, 8083, 9090, 24224}

// Up brings the stack up with the compose file, the override and the lanes of o, builds the shop's images
// through compose, and waits with the engine's own health states until every container runs and every
// healthcheck passes.
func Up(ctx context.Context, o Options) (*Run, error) {
	for _, port := range HostPorts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return nil, fmt.Errorf("127.0.0.1:%d is taken (%v): the compose file publishes it; stop what holds it (a running showcase: docker compose down)", port, err)
		}
		ln.Close()
	}
	r := &Run{Lanes: o.Lanes}
	// The agents read the kernel's lockdown mode from securityfs, bind-mounted from the host: without
	// it they assume none, load a probe the kernel refuses and exit.
	if err := r.mountIfMissing("securityfs", "/sys/kernel/security"); err != nil {
		return nil, err
	}
	files := slices.Concat([]string{"docker-compose.yml"}, o.Files)
	env := []string{"COMPOSE_PROJECT_NAME=" + o.Name, "COMPOSE_PROFILES=" + strings.Join(o.Lanes, ",")}
	if !o.Tempo {
		// The Tempo stand-in runs as Tempo's user, 10001, and writes in a directory of that owner and
		// mode, as Tempo's image makes /var/tempo.
		tempoDir := filepath.Join(o.Scratch, "tempo")
		if err := os.MkdirAll(tempoDir, 0o700); err != nil {
			return r, err // r: Down unmounts what was mounted
		}
		if err := os.Chown(tempoDir, 10001, 10001); err != nil {
			return r, fmt.Errorf("give the Tempo stand-in its directory: %w", err)
		}
		r.TracesFile = filepath.Join(tempoDir, "traces.jsonl")
		files = append(files, TempoStandIn)
		env = append(env, "TEMPO_STANDIN_DIR="+tempoDir)
	}
	if !o.Grafana {
		files = append(files, NoGrafana)
	}
	env = append(env, "COMPOSE_FILE="+strings.Join(files, string(os.PathListSeparator)))
	r.Project = &Project{Root: o.Root, Log: o.Log, Env: env}
	// One image of each build alone first (the plain build, then the SDK build): the others then find the
	// packages it compiled in the build's cache mounts, instead of all compiling them at once.
	for _, svc := range []string{"plain-catalog", "manual-catalog"} {
		if _, err := r.Compose(ctx, "build", svc); err != nil {
			return r, err
		}
	}
	_, err := r.Compose(ctx, "up", "--detach", "--build", "--wait", "--wait-timeout", "900")
	if err != nil {
		return r, fmt.Errorf("the stack did not come up healthy: %w", err)
	}
	return r, nil
}

// Down removes every container, network and volume of the project (the images stay) and unmounts what
// Up mounted, then checks that no container of the project is left.
func (r *Run) Down(ctx context.Context) error {
	var errs []error
	if r.Project != nil {
		if _, err := r.Compose(ctx, "down", "--volumes", "--remove-orphans", "--timeout", "20"); err != nil {
			errs = append(errs, err)
		}
		name := strings.TrimPrefix(r.Env[0], "COMPOSE_PROJECT_NAME=")
		left, err := r.Docker(ctx, "ps", "--all", "--quiet", "--filter", "label=com.docker.compose.project="+name)
		if err != nil {
			errs = append(errs, err)
		} else if strings.TrimSpace(left) != "" {
			errs = append(errs, fmt.Errorf("containers of %s left behind: %s", name, strings.Fields(left)))
		}
	}
	for i := len(r.mounted) - 1; i >= 0; i-- {
		if err := syscall.Unmount(r.mounted[i], 0); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", r.mounted[i], err))
		}
	}
	r.mounted = nil
	return errors.Join(errs...)
}

func (r *Run) mountIfMissing(fstype, target string) error {
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[1] == target && f[2] == fstype {
			return nil
		}
	}
	if err := syscall.Mount(fstype, target, fstype, syscall.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, target, err)
	}
	r.mounted = append(r.mounted, target)
	return nil
}

// Mounted lists what the run mounted on the host (and unmounts at Down).
func (r *Run) Mounted() []string { return r.mounted }

// Spans reads every span the Tempo stand-in has received so far.
func (r *Run) Spans() ([]spans.Span, error) {
	if r.TracesFile == "" {
		return nil, errors.New("this run has the real Tempo, not the stand-in: its spans are read through Tempo's API")
	}
	return spans.ReadFile(r.TracesFile)
}

// WaitReady waits until each service runs and, where it has a healthcheck, is healthy.
func (r *Run) WaitReady(ctx context.Context, timeout time.Duration, services ...string) error {
	return wait.Eventually(ctx, "every service ready", timeout, time.Second, func() error {
		cs, err := r.Containers(ctx)
		if err != nil {
			return wait.Stop(err)
		}
		var waiting []string
		for _, s := range services {
			if c, ok := cs[s]; !ok || !c.Ready() {
				waiting = append(waiting, fmt.Sprintf("%s (%s %s)", s, c.State, c.Health))
			}
		}
		if len(waiting) > 0 {
			return errors.New("waiting for " + strings.Join(waiting, ", "))
		}
		return nil
	})
}

// Prometheus is a client of the stack's Prometheus, on the port the compose file publishes.
func (r *Run) Prometheus(ctx context.Context) (promv1.API, error) {
	addr, err := r.HostAddr(ctx, "prometheus", 9090)
	if err != nil {
		return nil, err
	}
	c, err := promapi.NewClient(promapi.Config{Address: "http://" + addr})
	if err != nil {
		return nil, err
	}
	return promv1.NewAPI(c), nil
}
