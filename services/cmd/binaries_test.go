package cmd_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zerocodelab/lab/services/internal/shoptest"
)

// binDir holds the binaries once a test has asked for them.
var binDir string

// binaries compiles the four binaries once, the way `make build` does, for every test that runs them.
var binaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "shop-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	for _, service := range shoptest.Services() {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, service), "./"+service).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", service, err, out)
		}
	}
	return dir, nil
})

func build(t *testing.T) string {
	t.Helper()
	dir, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func waitHealthy(t *testing.T, addr string) {
	t.Helper()
	shoptest.Eventually(t, addr+" healthy", 15*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz answered %d", resp.StatusCode)
		}
		return nil
	})
}

// TestBinariesServeACheckoutAndStopOnSIGTERM runs the real binaries as processes, as `make run` does.
func TestBinariesServeACheckoutAndStopOnSIGTERM(t *testing.T) {
	bin, data := build(t), t.TempDir()
	addrs := map[string]string{}
	for _, s := range shoptest.Services() {
		addrs[s] = shoptest.FreeAddr(t)
	}
	type proc struct {
		cmd  *exec.Cmd
		logs *shoptest.Log
	}
	procs := map[string]proc{}
	for _, s := range shoptest.Services() {
		cmd := exec.Command(filepath.Join(bin, s))
		cmd.Env = []string{"ADDR=" + addrs[s], "DATA_DIR=" + data, "LANE=plain",
			"CATALOG_URL=http://" + addrs["catalog"], "INVENTORY_URL=http://" + addrs["inventory"], "ORDERS_URL=http://" + addrs["orders"]}
		logs := &shoptest.Log{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[s] = proc{cmd, logs}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitHealthy(t, addrs[s])
	}

	// The container healthcheck: the binary asks its own /healthz on the port of ADDR.
	hc := exec.Command(filepath.Join(bin, "orders"), "healthcheck")
	hc.Env = []string{"ADDR=:" + strings.Split(addrs["orders"], ":")[1]}
	if out, err := hc.CombinedOutput(); err != nil {
		t.Errorf("orders healthcheck against a running orders: %v %s", err, out)
	}
	hc = exec.Command(filepath.Join(bin, "orders"), "healthcheck")
	hc.Env = []string{"ADDR=" + shoptest.FreeAddr(t)}
	if out, err := hc.CombinedOutput(); err == nil {
		t.Errorf("orders healthcheck with nothing listening succeeded: %s", out)
	}

	resp, err := http.Post("http://"+addrs["gateway"]+"/api/checkout", "application/json",
		strings.NewReader(`{"sku":"ceramic-mug","quantity":1,"scenario":"slow"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("checkout = %d; want 201", resp.StatusCode)
	}

	for _, s := range slices.Backward(shoptest.Services()) { // the gateway first, as a deployment stops them
		p := procs[s]
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s exited with %v after SIGTERM:\n%s", s, err, p.logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s did not stop within 15 s of SIGTERM", s)
		}
		if !strings.Contains(p.logs.String(), `"msg":"stopped"`) {
			t.Errorf("%s did not log that it stopped:\n%s", s, p.logs.String())
		}
	}
}

// A SIGTERM in the middle of a slow request lets it finish before the process exits.
func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	bin, data := build(t), t.TempDir()
	addr := shoptest.FreeAddr(t)
	cmd := exec.Command(filepath.Join(bin, "inventory"))
	cmd.Env = []string{"ADDR=" + addr, "DATA_DIR=" + data}
	logs := &shoptest.Log{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitHealthy(t, addr)

	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://"+addr+"/reservations",
			strings.NewReader(`{"reservation_id":"drain-1","sku":"ceramic-mug","quantity":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Scenario", "slow") // inventory sleeps 300 ms
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // the request is now sleeping inside inventory
	cmd.Process.Signal(syscall.SIGTERM)
	if got := <-status; got != 201 {
		t.Fatalf("the in-flight reservation got %d; want 201 despite SIGTERM\n%s", got, logs.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("inventory exited with %v", err)
	}
}

func TestBadConfigurationStopsAtStartNamingTheVariable(t *testing.T) {
	bin := build(t)
	tests := []struct{ service, env, name string }{
		{"catalog", "ADDR=nonsense", "ADDR"},
		{"orders", "LOG_LEVEL=chatty", "LOG_LEVEL"},
		{"gateway", "ORDERS_URL=orders:8083", "ORDERS_URL"},
		{"inventory", "ROUTE_PATTERN_HINT=perhaps", "ROUTE_PATTERN_HINT"},
		{"inventory", "RESERVATION_TTL=forever", "RESERVATION_TTL"},
		{"gateway", "HTTP_READ_TIMEOUT=0", "HTTP_READ_TIMEOUT"},
	}
	for _, tt := range tests {
		cmd := exec.Command(filepath.Join(bin, tt.service))
		cmd.Env = []string{tt.env, "DATA_DIR=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() != 1 {
			t.Errorf("%s with %s: exit %v; want exit status 1", tt.service, tt.env, err)
		}
		if !strings.Contains(string(out), tt.name+"=") {
			t.Errorf("%s with %s printed %q; want a message naming %s", tt.service, tt.env, out, tt.name)
		}
	}
}

// Each lane's image stamps its lane into the binary (services/Dockerfile): the files must differ, since
// eBPF uprobes attach to a file and lanes sharing one would share every agent's probes.
func TestStampedLanesAreDistinctFiles(t *testing.T) {
	dir := t.TempDir()
	sums := map[string]string{}
	for _, lane := range []string{"plain", "otel-auto"} {
		out := filepath.Join(dir, lane)
		build := exec.Command("go", "build", "-trimpath",
			"-ldflags", "-X github.com/zerocodelab/lab/services/internal/config.BuildLane="+lane, "-o", out, "./catalog")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums[lane] = fmt.Sprintf("%x", sha256.Sum256(data))
	}
	if sums["plain"] == sums["otel-auto"] {
		t.Fatal("the binaries stamped plain and otel-auto are byte for byte the same file")
	}
	cmd := exec.Command(filepath.Join(dir, "otel-auto"))
	cmd.Env = []string{"LANE=plain", "DATA_DIR=" + t.TempDir(), "ADDR=" + shoptest.FreeAddr(t)}
	out, err := cmd.CombinedOutput()
	if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() != 1 || !strings.Contains(string(out), "LANE=") {
		t.Fatalf("the otel-auto binary run with LANE=plain: %v %s; want exit 1 naming LANE", err, out)
	}
}
