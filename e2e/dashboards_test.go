package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

const dashboardsDir = "observability/grafana/dashboards"

type target struct {
	Expr       string         `json:"expr"`
	Datasource map[string]any `json:"datasource"`
}

type panel struct {
	Title       string         `json:"title"`
	Type        string         `json:"type"`
	Datasource  map[string]any `json:"datasource"`
	Targets     []target       `json:"targets"`
	Panels      []panel        `json:"panels"`
	Description string         `json:"description"`
}

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, dashboardsDir, "*.json"))
	if err != nil || len(files) != 4 {
		t.Fatalf("want the 4 dashboards in %s, found %v (%v)", dashboardsDir, files, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s is not valid JSON: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// allPanels walks rows and their panels.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func provisionedUIDs(t *testing.T) map[string]string {
	t.Helper()
	var prov struct {
		Datasources []struct{ UID, Type string } `yaml:"datasources"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "observability/grafana/provisioning/datasources/datasources.yaml")), &prov); err != nil {
		t.Fatal(err)
	}
	uids := map[string]string{}
	for _, ds := range prov.Datasources {
		uids[ds.UID] = ds.Type
	}
	return uids
}

func TestDashboardsUseProvisionedDatasources(t *testing.T) {
	uids := provisionedUIDs(t)
	for _, want := range []string{"prometheus", "tempo", "loki"} {
		if _, ok := uids[want]; !ok {
			t.Errorf("datasource uid %q is not provisioned (the shop's trace links and the dashboards use it)", want)
		}
	}
	for file, d := range loadDashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s has no uid or title", file)
		}
		for _, p := range allPanels(d.Panels) {
			if p.Type == "row" {
				continue
			}
			if strings.TrimSpace(p.Description) == "" {
				t.Errorf("%s: panel %q says nothing about its source", file, p.Title)
			}
			for _, ds := range append([]map[string]any{p.Datasource}, targetsDS(p)...) {
				uid, _ := ds["uid"].(string)
				typ, _ := ds["type"].(string)
				if uid == "" || uids[uid] != typ {
					t.Errorf("%s: panel %q uses datasource %v, which is not provisioned", file, p.Title, ds)
				}
			}
		}
	}
	home := value(mustLoad(t).Services["grafana"].Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
	if filepath.Base(home) != "red.json" {
		t.Errorf("Grafana opens on %q; want the RED dashboard", home)
	}
}

func targetsDS(p panel) []map[string]any {
	var out []map[string]any
	for _, t := range p.Targets {
		out = append(out, t.Datasource)
	}
	return out
}

// grafanaVars are replaced by values of the right type so the Prometheus parser can read the query.
var grafanaVars = regexp.MustCompile(`\$(__rate_interval|__interval|__range|\{?[a-z_]+\}?)`)

func parseQuery(expr string) (parser.Expr, error) {
	expr = grafanaVars.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.HasPrefix(v, "$__") {
			return "5m"
		}
		return "x"
	})
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

// queries returns every PromQL expression of every dashboard, by dashboard file and panel.
func queries(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for file, d := range loadDashboards(t) {
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					out[file+": "+p.Title] = append(out[file+": "+p.Title], tg.Expr)
				}
			}
		}
	}
	return out
}

func TestDashboardQueriesParse(t *testing.T) {
	n := 0
	for where, exprs := range queries(t) {
		for _, e := range exprs {
			n++
			if _, err := parseQuery(e); err != nil {
				t.Errorf("%s: %q does not parse: %v", where, e, err)
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d PromQL queries found in the dashboards", n)
	}
}

// metricsOf returns the metric names an expression selects.
func metricsOf(e parser.Expr) []string {
	var names []string
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					names = append(names, m.Value)
				}
			}
		}
		return nil
	})
	return names
}

// Names the Collector's connectors write to Prometheus (remote write adds _total and the unit), as seen
// on a live run of this configuration; `make e2e` checks them against a real Prometheus.
var connectorMetrics = []string{
	"traces_span_metrics_calls_total",
	"traces_span_metrics_duration_milliseconds_bucket", "traces_span_metrics_duration_milliseconds_sum", "traces_span_metrics_duration_milliseconds_count",
	"traces_service_graph_request_total", "traces_service_graph_request_failed_total",
	"traces_service_graph_request_server_seconds_bucket", "traces_service_graph_request_server_seconds_sum", "traces_service_graph_request_server_seconds_count",
	"traces_service_graph_request_client_seconds_bucket", "traces_service_graph_request_client_seconds_sum", "traces_service_graph_request_client_seconds_count",
}

// Beyla's documented Prometheus names (Beyla cannot be built or run here).
var beylaMetrics = []string{
	"http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_sum", "http_server_request_duration_seconds_count",
	"http_client_request_duration_seconds_bucket", "http_client_request_duration_seconds_sum", "http_client_request_duration_seconds_count",
	"http_server_request_body_size_bytes_bucket", "http_server_request_body_size_bytes_sum", "http_server_request_body_size_bytes_count",
	"target_info",
}

// collectorMetrics reads the names of the Collector's own metrics from the documentation of the exact
// receiver, processor and exporter helpers the natively built Collector links.
func collectorMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, mod := range []string{
		"go.opentelemetry.io/collector/receiver/receiverhelper",
		"go.opentelemetry.io/collector/processor/processorhelper",
		"go.opentelemetry.io/collector/exporter/exporterhelper",
	} {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
		cmd.Dir = filepath.Join(root, "build", "otelcol")
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOSUMDB=off")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("find %s of the built Collector (run make collector first): %v", mod, err)
		}
		doc, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "documentation.md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^### (otelcol_\S+)$`).FindAllStringSubmatch(string(doc), -1) {
			names[m[1]] = true
		}
	}
	if !names["otelcol_exporter_sent_spans"] || !names["otelcol_receiver_accepted_spans"] {
		t.Fatalf("the Collector's documentation lists no pipeline metrics: %v", names)
	}
	return names
}

// shopMetrics reads the names of the services' metrics from services/metrics.txt, which a test of the
// services keeps equal to what the real services expose (every metric labelled with its lane).
func shopMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, line := range strings.Split(readFile(t, "services/metrics.txt"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		service, name, ok := strings.Cut(line, " ")
		if !ok || service == "" || name == "" {
			t.Fatalf("services/metrics.txt: %q is not \"service name\"", line)
		}
		names[name] = true
	}
	if !names["shop_http_requests_total"] {
		t.Fatalf("services/metrics.txt lists no shop_http_requests_total: %v", names)
	}
	return names
}

func TestDashboardMetricsAreOnesThisProjectProduces(t *testing.T) {
	known := shopMetrics(t)
	for name := range collectorMetrics(t) {
		known[name] = true
	}
	for _, name := range append(connectorMetrics, beylaMetrics...) {
		known[name] = true
	}

	used := map[string]bool{}
	for where, exprs := range queries(t) {
		for _, e := range exprs {
			parsed, err := parseQuery(e)
			if err != nil {
				continue // reported by TestDashboardQueriesParse
			}
			names := metricsOf(parsed)
			if len(names) == 0 {
				t.Errorf("%s: %q selects no metric by name", where, e)
			}
			for _, name := range names {
				used[name] = true
				if !known[name] {
					t.Errorf("%s: metric %s is produced by nothing in this project", where, name)
				}
			}
		}
	}
	var list []string
	for n := range used {
		list = append(list, n)
	}
	sort.Strings(list)
	t.Logf("the dashboards use %d metrics: %s", len(list), strings.Join(list, " "))
	for _, want := range []string{"shop_http_requests_total", "http_server_request_duration_seconds_bucket", "traces_span_metrics_calls_total", "traces_service_graph_request_total", "otelcol_exporter_queue_size"} {
		if !used[want] {
			t.Errorf("no dashboard uses %s", want)
		}
	}
}
