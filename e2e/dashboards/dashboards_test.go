package dashboards_test

import (
	"slices"
	"testing"

	"github.com/zerocodelab/lab/e2e/dashboards"
)

func TestQueriesParseWithGrafanasVariablesAndNameTheirMetrics(t *testing.T) {
	for _, c := range []struct {
		expr    string
		metrics []string
		source  dashboards.Source
		failure bool
	}{
		{`sum by (route) (rate(shop_http_requests_total{lane="$lane", service="$service"}[$__rate_interval]))`,
			[]string{"shop_http_requests_total"}, dashboards.Shop, false},
		{`histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{lane=~"${lane}"}[$__range])))`,
			[]string{"http_server_request_duration_seconds_bucket"}, dashboards.Beyla, false},
		{`sum(rate(traces_span_metrics_calls_total[5m])) / sum(rate(shop_http_requests_total[5m]))`,
			[]string{"traces_span_metrics_calls_total", "shop_http_requests_total"}, dashboards.Spans, false},
		{`sum(rate(traces_service_graph_request_failed_total{client_lane="$lane"}[$__interval]))`,
			[]string{"traces_service_graph_request_failed_total"}, dashboards.Graph, true},
		{`sum(rate(otelcol_receiver_refused_spans_total[1m]))`,
			[]string{"otelcol_receiver_refused_spans_total"}, dashboards.Collector, true},
		{`sum by (lane) (rate(traces_span_metrics_calls_total[1m])) - sum by (lane) (rate(traces_kept_calls_total[1m]))`,
			[]string{"traces_span_metrics_calls_total", "traces_kept_calls_total"}, dashboards.Sampler, false},
		{`up`, []string{"up"}, dashboards.Shop, false},
	} {
		e, err := dashboards.Parse(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got := dashboards.Metrics(e); !slices.Equal(got, c.metrics) {
			t.Errorf("%s selects %v; want %v", c.expr, got, c.metrics)
		}
		if got := dashboards.SourceOf(c.metrics); got != c.source {
			t.Errorf("%s comes from %s; want %s", c.expr, got, c.source)
		}
		if got := dashboards.FailureOnly(c.metrics); got != c.failure {
			t.Errorf("%s counts only failures: %v; want %v", c.expr, got, c.failure)
		}
	}
	if _, err := dashboards.Parse(`sum(rate(shop_http_requests_total[$__rate_interval])`); err == nil {
		t.Error("an unbalanced query parsed")
	}
}

func TestTheProjectsDashboardsLoadWithTheirPanelsAndQueries(t *testing.T) {
	all, err := dashboards.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	red, ok := all["red.json"]
	if !ok {
		t.Fatalf("no red.json among %d dashboards", len(all))
	}
	if len(red.AllPanels()) < 10 {
		t.Errorf("red.json: %d panels", len(red.AllPanels()))
	}
	// A collapsed row holds its panels: they are walked too.
	collapsed := dashboards.Dashboard{Panels: []dashboards.Panel{
		{Title: "row", Type: "row", Panels: []dashboards.Panel{{Title: "inside", Targets: []dashboards.Target{{Expr: "up"}}}}},
	}}
	if got := dashboards.Queries(map[string]dashboards.Dashboard{"d.json": collapsed}); len(got) != 1 || got[0].Where != "d.json: inside" {
		t.Errorf("the queries of a collapsed row: %v", got)
	}
	queries := dashboards.Queries(all)
	if len(queries) == 0 || queries[0].Where == "" || queries[0].Expr == "" {
		t.Errorf("queries: %v", queries)
	}
	if _, err := dashboards.Load(t.TempDir()); err == nil {
		t.Error("a directory without dashboards loaded without an error")
	}
}
