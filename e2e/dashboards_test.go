package e2e

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zerocodelab/lab/e2e/dashboards"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/pipeline"
)

// loadDashboards reads the five dashboards.
func loadDashboards(t *testing.T) map[string]dashboards.Dashboard {
	t.Helper()
	all, err := dashboards.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Fatalf("want the 5 dashboards in %s, found %d", dashboards.Dir, len(all))
	}
	return all
}

func TestDashboardsUseProvisionedDatasources(t *testing.T) {
	uids, err := dashboards.ProvisionedUIDs(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"prometheus", "tempo", "loki"} {
		if _, ok := uids[want]; !ok {
			t.Errorf("datasource uid %q is not provisioned (the shop's trace links and the dashboards use it)", want)
		}
	}
	for file, d := range loadDashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s has no uid or title", file)
		}
		for _, p := range d.AllPanels() {
			if p.Type == "row" {
				continue
			}
			if strings.TrimSpace(p.Description) == "" {
				t.Errorf("%s: panel %q says nothing about its source", file, p.Title)
			}
			for _, ds := range p.Datasources() {
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

func TestDashboardQueriesParse(t *testing.T) {
	queries := dashboards.Queries(loadDashboards(t))
	for _, q := range queries {
		if _, err := dashboards.Parse(q.Expr); err != nil {
			t.Errorf("%s: %q does not parse: %v", q.Where, q.Expr, err)
		}
	}
	if len(queries) < 30 {
		t.Errorf("only %d PromQL queries found in the dashboards", len(queries))
	}
}

// Names the Collector's connectors write to Prometheus (remote write adds _total and the unit), as seen
// on a live run of this configuration; `make e2e` checks them against a real Prometheus.
var connectorMetrics = []string{
	"traces_span_metrics_calls_total",
	"traces_span_metrics_duration_milliseconds_bucket", "traces_span_metrics_duration_milliseconds_sum", "traces_span_metrics_duration_milliseconds_count",
	"traces_service_graph_request_total", "traces_service_graph_request_failed_total",
	"traces_service_graph_request_server_seconds_bucket", "traces_service_graph_request_server_seconds_sum", "traces_service_graph_request_server_seconds_count",
	"traces_service_graph_request_client_seconds_bucket", "traces_service_graph_request_client_seconds_sum", "traces_service_graph_request_client_seconds_count",
	// The samplers' span metrics of what they keep (collector/sampler.yaml); the compose sampling run
	// checks them against a real Prometheus.
	"traces_kept_calls_total",
}

// Beyla's documented Prometheus names (Beyla cannot be built or run here).
var beylaMetrics = []string{
	"http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_sum", "http_server_request_duration_seconds_count",
	"http_client_request_duration_seconds_bucket", "http_client_request_duration_seconds_sum", "http_client_request_duration_seconds_count",
	"http_server_request_body_size_bytes_bucket", "http_server_request_body_size_bytes_sum", "http_server_request_body_size_bytes_count",
	"target_info",
}

func TestDashboardMetricsAreOnesThisProjectProduces(t *testing.T) {
	// The services' metrics as services/metrics.txt lists them (a test of the services keeps it equal to
	// their real /metrics), the Collector's own from its documentation at the built version, the
	// connectors' and Beyla's names.
	known, err := native.ShopMetrics(root)
	if err != nil {
		t.Fatal(err)
	}
	collector, err := pipeline.OwnMetrics(filepath.Join(root, "build", "otelcol"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range collector {
		known[name] = true
	}
	for _, name := range append(connectorMetrics, beylaMetrics...) {
		known[name] = true
	}

	used := map[string]bool{}
	for _, q := range dashboards.Queries(loadDashboards(t)) {
		parsed, err := dashboards.Parse(q.Expr)
		if err != nil {
			continue // reported by TestDashboardQueriesParse
		}
		names := dashboards.Metrics(parsed)
		if len(names) == 0 {
			t.Errorf("%s: %q selects no metric by name", q.Where, q.Expr)
		}
		for _, name := range names {
			used[name] = true
			if !known[name] {
				t.Errorf("%s: metric %s is produced by nothing in this project", q.Where, name)
			}
		}
	}
	list := slices.Sorted(maps.Keys(used))
	t.Logf("the dashboards use %d metrics: %s", len(list), strings.Join(list, " "))
	for _, want := range []string{"shop_http_requests_total", "http_server_request_duration_seconds_bucket", "traces_span_metrics_calls_total", "traces_service_graph_request_total", "otelcol_exporter_queue_size", "traces_kept_calls_total"} {
		if !used[want] {
			t.Errorf("no dashboard uses %s", want)
		}
	}
}
