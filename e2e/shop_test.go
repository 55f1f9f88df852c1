package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/wait"
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
	out report.Log // what it printed
}

func (p *process) Output() string { return p.out.String() }

func start(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...)}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	return p
}

// waitHTTP waits until url answers below 500 (a component's own readiness endpoint).
func waitHTTP(t *testing.T, url string, timeout time.Duration, p *process) {
	t.Helper()
	err := wait.Eventually(context.Background(), url+" answers", timeout, 100*time.Millisecond, func() error {
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
		t.Fatalf("%v; output:\n%s", err, tail(p.Output(), 3000))
	}
}

// lane is one copy of the shop, running as processes.
type lane struct {
	name string
	url  map[string]string // base URL by service
	pid  map[string]int
	logs map[string]*process
}

// startLane starts the four binaries in bins, each copied into a directory of the lane's own (uprobes
// attach to a file: lanes sharing one would share every agent's probes), on free loopback ports, with
// the lane's name and extra in their environment. ship, when not nil, reads each service's stdout (copying it to the process's
// output) the way a container's logging driver would; otherwise stdout only goes to that output.
func startLane(t *testing.T, name, bins string, ship func(name string, r io.Reader, copyTo io.Writer), extra []string) *lane {
	t.Helper()
	l := &lane{name: name, url: map[string]string{}, pid: map[string]int{}, logs: map[string]*process{}}
	ports := map[string]string{}
	for _, svc := range services {
		ports[svc] = freePort(t)
		l.url[svc] = "http://127.0.0.1:" + ports[svc]
	}
	if ship == nil {
		ship = func(_ string, r io.Reader, copyTo io.Writer) { io.Copy(copyTo, r) }
	}
	data, own := t.TempDir(), t.TempDir()
	for _, svc := range []string{"catalog", "inventory", "orders", "gateway"} {
		bin := filepath.Join(own, svc)
		if err := copyFile(filepath.Join(bins, svc), bin); err != nil {
			t.Fatal(err)
		}
		p := &process{cmd: exec.Command(bin)}
		p.cmd.Env = environ(append([]string{
			"ADDR=127.0.0.1:" + ports[svc], "DATA_DIR=" + data, "LANE=" + name,
			"OTEL_SERVICE_NAME=" + svc, "OTEL_RESOURCE_ATTRIBUTES=service.namespace=" + name,
			"CATALOG_URL=" + l.url["catalog"], "INVENTORY_URL=" + l.url["inventory"], "ORDERS_URL=" + l.url["orders"],
		}, extra...)...)
		p.cmd.Stderr = &p.out
		stdout, err := p.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go ship(name+"-"+svc, stdout, &p.out) // as Docker's fluentd driver would, when ship is the log shipper
		t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
		waitHTTP(t, l.url[svc]+"/healthz", 20*time.Second, p)
		l.pid[svc] = p.cmd.Process.Pid
		l.logs[svc] = p
	}
	return l
}

var scenarios = []string{"normal", "slow", "error", "out_of_stock", "not_found", "fanout"}

// drive sends one checkout of every scenario and one product listing, each with its own traceparent.
func (l *lane) drive(t *testing.T) {
	t.Helper()
	for i, sc := range scenarios {
		req, _ := http.NewRequest(http.MethodPost, l.url["gateway"]+"/api/checkout",
			strings.NewReader(fmt.Sprintf(`{"sku":"ceramic-mug","quantity":1,"scenario":%q}`, sc)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", fmt.Sprintf("00-%032x-%016x-01", i+1, i+1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(l.url["gateway"] + "/api/products")
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

// copyFile copies an executable to a new file, a new inode.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// checkoutsByScenario reads a gateway's shop_checkouts_total, summed by scenario.
func checkoutsByScenario(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	served := map[string]float64{}
	for _, m := range families["shop_checkouts_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "scenario" {
				served[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	return served, nil
}
