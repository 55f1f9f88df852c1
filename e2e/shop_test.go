package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var services = []string{"gateway", "catalog", "inventory", "orders"}

// buildServices compiles the shop's binaries, with the given build tags, into a temporary directory.
func buildServices(t *testing.T, tags string) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range services {
		cmd := exec.Command("go", "build", "-tags", tags, "-o", filepath.Join(dir, s), "./cmd/"+s)
		cmd.Dir = filepath.Join(root, "services")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", s, err, out)
		}
	}
	return dir
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// process is a program this test started; it is killed when the test ends.
type process struct {
	cmd *exec.Cmd
	out *bytes.Buffer
	mu  sync.Mutex
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func start(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{out: &bytes.Buffer{}}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	return p
}

func waitHTTP(t *testing.T, url string, p *process) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never answered; output:\n%s", url, p.Output())
}

// shop is the four services running as processes, with their base URLs.
type shop map[string]string

// runShop starts the binaries in dir on free loopback ports; extra is added to every environment.
func runShop(t *testing.T, dir string, extra ...string) shop {
	t.Helper()
	urls := shop{}
	for _, s := range services {
		urls[s] = "http://127.0.0.1:" + freePort(t)
	}
	data := t.TempDir()
	for _, s := range []string{"catalog", "inventory", "orders", "gateway"} {
		env := append([]string{
			"ADDR=" + strings.TrimPrefix(urls[s], "http://"), "DATA_DIR=" + data, "OTEL_SERVICE_NAME=" + s,
			"CATALOG_URL=" + urls["catalog"], "INVENTORY_URL=" + urls["inventory"], "ORDERS_URL=" + urls["orders"],
		}, extra...)
		p := start(t, env, filepath.Join(dir, s))
		waitHTTP(t, urls[s]+"/healthz", p)
	}
	return urls
}

var scenarios = []string{"normal", "slow", "error", "out_of_stock", "not_found", "fanout"}

// drive sends one checkout of every scenario and one product listing, each with its own traceparent.
func (s shop) drive(t *testing.T) {
	t.Helper()
	for i, sc := range scenarios {
		req, _ := http.NewRequest(http.MethodPost, s["gateway"]+"/api/checkout",
			strings.NewReader(fmt.Sprintf(`{"sku":"ceramic-mug","quantity":1,"scenario":%q}`, sc)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", fmt.Sprintf("00-%032x-%016x-01", i+1, i+1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(s["gateway"] + "/api/products")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// metricNames scrapes url and returns the sample names it exposes (histograms as _bucket, _sum, _count).
func metricNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	names := map[string]bool{}
	for name, f := range families {
		names[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		}
	}
	return names
}

func environ(extra ...string) []string { return append(os.Environ(), extra...) }
