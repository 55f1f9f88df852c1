//go:build k8s

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/compare/comparetest"
	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/lab"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/stack"
	"github.com/zerocodelab/lab/e2e/wait"
)

// make k8s-e2e: a real single-node cluster started on this host, k8s/ deployed on it as make k8s-up
// deploys it, the showcase checked as the compose run checks it where that applies, then the cluster
// taken down and the host checked for anything left. K8S_KEEP=1 leaves the cluster up afterwards.
func TestK8s(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the cluster's kubelet, containerd and kube-proxy run as root: sudo make k8s-e2e")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep := &report.Report{}
	// Registered first, so it runs last: after the cluster's removal, which it reports too.
	t.Cleanup(func() {
		path := filepath.Join(root, "build/k8s-e2e-report.txt")
		if err := rep.Save(path); err != nil {
			t.Error(err)
		}
		rep.WriteTo(os.Stdout)
		fmt.Println("report:", path)
	})
	c := New(root, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	env, err := native.DotEnv(root)
	if err != nil {
		t.Fatal(err)
	}
	show, err := ShowcaseFor(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	rep.Section("the cluster")
	rep.Printf("Kubernetes %s, etcd %s, CoreDNS %s, containerd (Debian's), CNI plugins %s: built here from the module proxy\n",
		env["KUBERNETES_VERSION"], env["ETCD_VERSION"], env["COREDNS_VERSION"], env["CNI_PLUGINS_VERSION"])
	rep.Printf("Tempo: %s; Grafana: %s; Beyla: %s\n", which(show.Tempo, "its own image", "the stand-in (no image here)"),
		which(show.Grafana, "its own image", "left out (no image here)"), which(show.Beyla, "runs", "validated by the API server only (no image here)"))

	start := time.Now()
	if err := c.Up(ctx, Versions{Pause: env["PAUSE_VERSION"], CoreDNS: env["COREDNS_VERSION"]}); err != nil {
		if !errors.Is(err, ErrCannotStart) { // otherwise it started nothing: a cluster already up stays
			c.Down(ctx)
		}
		t.Fatal(err)
	}
	rep.Printf("up in %s\n", time.Since(start).Round(time.Second))
	t.Cleanup(func() {
		if os.Getenv("K8S_KEEP") != "" {
			t.Logf("K8S_KEEP: the cluster stays up (make k8s-down removes it)")
			return
		}
		start := time.Now()
		err := c.Down(context.Background())
		rep.Section("make k8s-down")
		rep.Printf("down in %s; left on the host: %v\n", time.Since(start).Round(time.Second), c.Leftovers())
		if err != nil {
			t.Errorf("k8s-down: %v", err)
		}
	})
	start = time.Now()
	if err := c.Deploy(ctx, show); err != nil {
		t.Fatal(err)
	}
	rep.Printf("k8s/ deployed and Available in %s\n", time.Since(start).Round(time.Second))
	client := &http.Client{Timeout: 30 * time.Second}
	facts := doctor.Inspect()
	facts.BeylaPollsProc = show.Beyla && !facts.Kprobes // the official Beyla discovers nothing without kprobes
	verdicts := doctor.Verdicts(facts)

	t.Run("every pod of the showcase runs, every container ready", func(t *testing.T) {
		pods, err := c.pods(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rep.Section("pods")
		for _, p := range pods {
			rep.Printf("%-26s %-40s %s\n", p.Namespace, p.Name, strings.Join(p.Containers, " "))
			if !p.Ready {
				t.Errorf("%s/%s is not ready: %v", p.Namespace, p.Name, p.Containers)
			}
		}
		for _, ns := range show.Namespaces() {
			if !slices.ContainsFunc(pods, func(p pod) bool { return p.Namespace == ns }) {
				t.Errorf("no pod in namespace %s", ns)
			}
		}
	})

	gateways := map[string]string{}
	first := map[string]stack.Sent{}
	t.Run("a checkout answers 201 in each lane, at its gateway's Service", func(t *testing.T) {
		rep.Section("one checkout per lane")
		for _, lane := range show.Lanes() {
			addr, err := c.ServiceAddr(ctx, StackNamespace+"-"+lane, "gateway")
			if err != nil {
				t.Fatal(err)
			}
			gateways[lane] = "http://" + addr
			s := stack.Checkout(ctx, client, lane, gateways[lane])
			first[lane] = s
			rep.Printf("%-10s %s  %d  trace %s\n", lane, gateways[lane], s.Status, s.TraceID)
			if s.Status != http.StatusCreated {
				t.Errorf("%s: checkout answered %d; want 201", lane, s.Status)
			}
		}
	})

	// The Tempo stand-in's file has every span the Collector sent; with Tempo's own image the lab page's
	// subtest below reads them through Tempo's API instead.
	received := func() ([]spans.Span, error) {
		if show.Tempo {
			return nil, fmt.Errorf("Tempo's own image runs: no stand-in file to read")
		}
		return spans.ReadFile(filepath.Join(TempoStandInDir, "traces.jsonl"))
	}

	t.Run("every Go auto agent attaches to its own service; its spans carry the lane, the route and the pod", func(t *testing.T) {
		if show.Tempo {
			t.Skip("read through Tempo's API by the lab page's subtest")
		}
		// The Operator's resource attributes name the pod; k8s_attributes adds its Deployment.
		checkServerSpans(ctx, t, rep, received, "otel-auto")
	})

	t.Run("Beyla, a DaemonSet, instruments the beyla lane's pods: routes, Kubernetes metadata, one trace where the kernel lets it link", func(t *testing.T) {
		if !show.Beyla {
			t.Skip("no Beyla image on the engine (it cannot be pulled here; make images builds it from a Beyla binary you give, BEYLA_BIN): k8s/beyla was validated by the API server")
		}
		logs, err := native.WaitInstrumented(ctx, 3*time.Minute, "/app", func() (string, error) {
			return c.Kubectl(ctx, "", "-n", StackNamespace, "logs", "daemonset/beyla")
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, report.Tail(logs, 3000))
		}
		version := native.BeylaVersion(logs)
		if err := native.PinnedBeyla(root, version); err != nil {
			t.Error(err)
		}
		rep.Section("Beyla (a DaemonSet: the node's PID namespace, the beyla lane found by its namespace)")
		rep.Printf("%s: instrumented /app/gateway, /app/catalog, /app/inventory, /app/orders\n", (&native.Beyla{Version: version}).Label(facts.Kprobes))
		if show.Tempo {
			t.Skip("its spans are read through Tempo's API by the lab page's subtest")
		}
		checkServerSpans(ctx, t, rep, received, "beyla")

		links, why := doctor.CanLink(verdicts, doctor.Beyla)
		s := stack.Checkout(ctx, client, "beyla", gateways["beyla"])
		if s.Status != http.StatusCreated {
			t.Fatalf("the beyla checkout answered %d", s.Status)
		}
		inTrace := map[string]bool{}
		err = wait.Eventually(ctx, "the beyla checkout's spans", time.Minute, 2*time.Second, func() error {
			all, err := received()
			if err != nil {
				return err
			}
			for _, sp := range all {
				if sp.TraceID().String() == s.TraceID {
					inTrace[sp.Service] = true
				}
			}
			if want := map[bool]int{true: len(native.Services), false: 1}[links]; len(inTrace) < want {
				return fmt.Errorf("services so far: %v", inTrace)
			}
			return nil
		})
		rep.Printf("checkout trace %s: services %v; the doctor, for this build: %s\n", s.TraceID, inTrace, why)
		switch {
		case err != nil:
			t.Errorf("%v (links expected: %v, %s)", err, links, why)
		case !links && len(inTrace) > 1:
			t.Errorf("the checkout's trace crosses services %v although the doctor says Beyla cannot link them here: %s", inTrace, why)
		}
	})

	t.Run("the manual lane's checkout is one trace across the four services", func(t *testing.T) {
		if show.Tempo {
			t.Skip("read through Tempo's API by the lab page's subtest")
		}
		s := first["manual"]
		var tree []spans.Span
		err := wait.Eventually(ctx, "the manual checkout's spans from all four services", 90*time.Second, 2*time.Second, func() error {
			all, err := received()
			if err != nil {
				return err
			}
			tree = tree[:0]
			services := map[string]bool{}
			for _, sp := range all {
				if sp.TraceID().String() == s.TraceID {
					tree = append(tree, sp)
					services[sp.Service] = true
				}
			}
			if len(services) < len(native.Services) {
				return fmt.Errorf("services so far: %v", services)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		roots := spans.Roots(tree)
		rep.Section("manual lane")
		rep.Printf("checkout trace %s: %d spans, roots %v\n", s.TraceID, len(tree), roots)
		if len(roots) != 1 {
			t.Errorf("the manual checkout's trace has %d roots %v; want 1", len(roots), roots)
		}
	})

	t.Run("the plain lane sends no span", func(t *testing.T) {
		if show.Tempo {
			t.Skip("read through Tempo's API by the lab page's subtest")
		}
		all, err := received()
		if err != nil {
			t.Fatal(err)
		}
		perLane := map[string]int{}
		for _, sp := range all {
			perLane[sp.Lane]++
		}
		rep.Section("spans received, per lane")
		rep.Printf("%v\n", perLane)
		if perLane["plain"] != 0 {
			t.Errorf("the plain lane sent %d spans", perLane["plain"])
		}
		for _, lane := range show.Lanes() {
			if lane != "plain" && perLane[lane] == 0 {
				t.Errorf("the %s lane sent no span", lane)
			}
		}
	})

	prometheus, err := c.ServiceAddr(ctx, StackNamespace, "prometheus")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Prometheus scrapes every shop target of the running lanes, and Beyla where it runs, through their compose names", func(t *testing.T) {
		var up map[string]string
		err := wait.Eventually(ctx, "every shop target of the running lanes up", 2*time.Minute, 3*time.Second, func() error {
			up = map[string]string{}
			var res struct {
				Data struct {
					Result []struct {
						Metric map[string]string
						Value  []any
					}
				}
			}
			if err := getJSON(ctx, client, "http://"+prometheus+"/api/v1/query?query="+url.QueryEscape(`up{job=~"shop|beyla"}`), &res); err != nil {
				return err
			}
			for _, r := range res.Data.Result {
				up[r.Metric["instance"]] = fmt.Sprint(r.Value[1])
			}
			for _, lane := range show.Lanes() {
				for _, svc := range native.Services {
					if target := fmt.Sprintf("%s-%s:%d", lane, svc, shopPorts[svc]); up[target] != "1" {
						return fmt.Errorf("%s: up=%q", target, up[target])
					}
				}
			}
			if show.Beyla && up["beyla:9400"] != "1" {
				return fmt.Errorf("Beyla's metrics (beyla:9400, its Service): up=%q", up["beyla:9400"])
			}
			return nil
		})
		rep.Section("Prometheus: up{job=~\"shop|beyla\"}")
		rep.Printf("%v\n", up)
		if err != nil {
			t.Error(err)
		}
	})

	loki, err := c.ServiceAddr(ctx, StackNamespace, "loki")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Loki holds every shop pod's lines by service and lane, read from the node's pod logs", func(t *testing.T) {
		count := func(logql string) (int, error) {
			var res struct {
				Data struct{ Result []struct{ Values [][]string } }
			}
			q := url.Values{"query": {logql}, "limit": {"5000"}, "since": {"1h"}}
			if err := getJSON(ctx, client, "http://"+loki+"/loki/api/v1/query_range?"+q.Encode(), &res); err != nil {
				return 0, err
			}
			n := 0
			for _, r := range res.Data.Result {
				n += len(r.Values)
			}
			return n, nil
		}
		rep.Section("Loki: lines by lane and service (pod logs -> the Collector's file_log -> Loki)")
		err := wait.Eventually(ctx, "log lines of every shop pod in Loki", 2*time.Minute, 5*time.Second, func() error {
			for _, lane := range show.Lanes() {
				for _, svc := range native.Services {
					q := fmt.Sprintf(`{lane=%q, service_name=%q, k8s_namespace_name="zero-code-lab-%s"}`, lane, svc, lane)
					if n, err := count(q); err != nil || n == 0 {
						return fmt.Errorf("%s: %d lines (%v)", q, n, err)
					}
				}
			}
			return nil
		})
		for _, lane := range show.Lanes() {
			rep.Printf("%-10s", lane)
			for _, svc := range native.Services {
				n, _ := count(fmt.Sprintf(`{lane=%q, service_name=%q}`, lane, svc))
				rep.Printf(" %s=%d", svc, n)
			}
			rep.Printf("\n")
		}
		if err != nil {
			t.Error(err)
		}
		q := fmt.Sprintf(`{lane="manual"} | trace_id=%q`, first["manual"].TraceID)
		var n int
		err = wait.Eventually(ctx, "the manual checkout's lines by their trace_id", time.Minute, 5*time.Second, func() error {
			var err error
			if n, err = count(q); err == nil && n < len(native.Services) {
				err = fmt.Errorf("%d lines", n)
			}
			return err
		})
		rep.Printf("%s: %d lines\n", q, n)
		if err != nil {
			t.Errorf("%v; want the access line of each of the four services", err)
		}
	})

	t.Run("the lab page compares the lanes: running lanes answer, a lane not deployed is shown off", func(t *testing.T) {
		labAddr, err := c.ServiceAddr(ctx, StackNamespace, "lab")
		if err != nil {
			t.Fatal(err)
		}
		// With the stand-in, which serves no query API, the normal scenario's log and RED rows; with
		// Tempo's own image, every row of every scenario, as the compose run against Tempo checks them.
		scenarios := compare.Scenarios
		if !show.Tempo {
			scenarios = slices.DeleteFunc(slices.Clone(scenarios), func(sc compare.Scenario) bool { return sc.Name != "normal" })
		}
		rep.Section("the lab page: one checkout of each scenario in every lane")
		for _, sc := range scenarios {
			got, err := lab.Ask(ctx, labAddr, sc.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range got.Lanes {
				rep.Printf("%-12s %-10s answer %d  off %q  trace %q\n", sc.Name, l.Name, l.Status, l.Off, l.Missing)
				running := slices.Contains(show.Lanes(), l.Name)
				switch {
				case running && l.Status == 0:
					t.Errorf("%s: lane %s runs but its checkout got no answer (off: %q)", sc.Name, l.Name, l.Off)
				case running && sc.Name == "normal" && l.Status != http.StatusCreated:
					t.Errorf("lane %s runs but its normal checkout answered %d", l.Name, l.Status)
				case !running && l.Off == "":
					t.Errorf("%s: lane %s is not deployed but not shown off", sc.Name, l.Name)
				}
			}
			for _, lane := range show.Lanes() {
				want := comparetest.Want(lane, sc, verdicts)
				for _, row := range got.Capabilities {
					cell := row.Cells[lane]
					rep.Printf("  %-40s %-10s %-7s %s\n", row.Name, lane, cell.Verdict, cell.Reason)
					name := compare.Capability(row.Name)
					if !show.Tempo && name != compare.Logs && name != compare.RED {
						continue
					}
					if w := want[name]; cell.Verdict != string(w) {
						t.Errorf("%s, lane %s, %s: %s (%s); want %s", sc.Name, lane, row.Name, cell.Verdict, cell.Reason, w)
					}
				}
			}
		}
	})
}

// checkServerSpans waits until every service of lane has sent SERVER spans through the Collector, and
// checks that each carries http.route and names the pod and Deployment it came from in the lane's
// namespace (the sender's resource, or what k8s_attributes added).
func checkServerSpans(ctx context.Context, t *testing.T, rep *report.Report, received func() ([]spans.Span, error), lane string) {
	t.Helper()
	seen := map[string]map[string]int{}
	pods := map[string]string{}
	err := wait.Eventually(ctx, "SERVER spans of every "+lane+" service", 3*time.Minute, 3*time.Second, func() error {
		all, err := received()
		if err != nil {
			return err
		}
		seen, pods = map[string]map[string]int{}, map[string]string{}
		for _, sp := range all {
			if sp.Lane != lane || sp.Kind() != ptrace.SpanKindServer {
				continue
			}
			if seen[sp.Service] == nil {
				seen[sp.Service] = map[string]int{}
			}
			seen[sp.Service][sp.Route()]++
			pods[sp.Service] = resource(sp, "k8s.pod.name") + " in " + resource(sp, "k8s.namespace.name") + ", deployment " + resource(sp, "k8s.deployment.name")
		}
		if len(seen) < len(native.Services) {
			return fmt.Errorf("services so far: %v", seen)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.Section(lane + ": SERVER spans by route, and the pod they name")
	for _, svc := range native.Services {
		rep.Printf("%-10s %v  (%s)\n", svc, seen[svc], pods[svc])
		for route := range seen[svc] {
			if route == "" {
				t.Errorf("%s: SERVER spans without http.route", svc)
			}
		}
		if !strings.HasPrefix(pods[svc], svc+"-") || !strings.Contains(pods[svc], " in "+StackNamespace+"-"+lane+", deployment "+svc) {
			t.Errorf("%s: spans name the pod %q; want a pod of Deployment %s in %s-%s", svc, pods[svc], svc, StackNamespace, lane)
		}
	}
}

// shopPorts are the ports the shop's services listen on, as compose names them in prometheus.yml.
var shopPorts = map[string]int{"gateway": 8080, "catalog": 8081, "inventory": 8082, "orders": 8083}

// resource is a resource attribute of the span's sender, "" when absent.
func resource(sp spans.Span, key string) string {
	if v, ok := sp.Resource.Attributes().Get(key); ok {
		return v.AsString()
	}
	return ""
}

func which(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
