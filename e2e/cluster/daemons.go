package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zerocodelab/lab/e2e/wait"
)

// A daemon is one long-running program of the cluster.
type daemon struct {
	name string
	path string
	args []string
	// ready is the URL that answers 200 once the daemon serves; check, where there is no such URL,
	// says whether it serves.
	ready string
	check func(context.Context) error
}

// daemonNames lists the cluster's programs in the order Up starts them; Down stops them in reverse.
var daemonNames = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "containerd", "kubelet", "kube-proxy"}

func (c *Cluster) pidFile(name string) string { return c.path("run", name+".pid") }

// start starts d detached from this process (its own session, so that it outlives make k8s-up), with
// its output appended to logs/<name>.log and its process id in run/<name>.pid, then waits until it
// serves.
func (c *Cluster) start(ctx context.Context, d daemon) error {
	if err := os.MkdirAll(c.Logs, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(c.path("run"), 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(c.Logs, d.name+".log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(d.path, d.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", d.name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(c.pidFile(d.name), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	c.Log.Info("started", "daemon", d.name, "pid", pid, "log", logPath)
	client, err := c.httpClient()
	if err != nil {
		return err
	}
	return wait.Eventually(ctx, d.name+" ready", 2*time.Minute, 500*time.Millisecond, func() error {
		select {
		case <-exited:
			return wait.Stop(fmt.Errorf("%s exited: %s; see %s", d.name, cmd.ProcessState, logPath))
		default:
		}
		if d.check != nil {
			return d.check(ctx)
		}
		resp, err := client.Get(d.ready)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answers %s", d.ready, resp.Status)
		}
		return nil
	})
}

// httpClient trusts the cluster's CA and presents the administrator's certificate, for the readiness
// endpoints of the control plane.
func (c *Cluster) httpClient() (*http.Client, error) {
	ca, err := os.ReadFile(c.path("pki", "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(c.path("pki", "admin.crt"), c.path("pki", "admin.key"))
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}, nil
}

// running is the process id of the daemon name if it runs, 0 if not: its pid file names a live process
// running the daemon's program.
func (c *Cluster) running(name string) int {
	b, err := os.ReadFile(c.pidFile(name))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || filepath.Base(strings.TrimSuffix(exe, " (deleted)")) != name {
		return 0 // gone, or the id now belongs to another program
	}
	return pid
}

// stop sends SIGTERM to the daemon name, then SIGKILL if it has not exited after grace.
func (c *Cluster) stop(name string, grace time.Duration) error {
	pid := c.running(name)
	if pid == 0 {
		return nil
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	p.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for c.running(name) != 0 {
		if time.Now().After(deadline) {
			c.Log.Warn("did not stop on SIGTERM; killing", "daemon", name, "pid", pid, "grace", grace)
			p.Signal(syscall.SIGKILL)
			deadline = time.Now().Add(10 * time.Second)
			for c.running(name) != 0 {
				if time.Now().After(deadline) {
					return fmt.Errorf("%s (pid %d) survives SIGKILL", name, pid)
				}
				time.Sleep(100 * time.Millisecond)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Log.Info("stopped", "daemon", name, "pid", pid)
	return os.Remove(c.pidFile(name))
}

// Running lists the cluster's daemons that run.
func (c *Cluster) Running() []string {
	var up []string
	for _, name := range daemonNames {
		if c.running(name) != 0 {
			up = append(up, name)
		}
	}
	return up
}

// errNotUp is returned where the cluster must be up and is not.
var errNotUp = errors.New("the cluster is not up: make k8s-up")
