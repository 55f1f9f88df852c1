// Package dashboards reads the provisioned Grafana dashboards the way the checks need them: panels and
// the datasources they use, every PromQL query with the metrics it selects, and where those come from.
package dashboards

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// Dir holds the dashboards, relative to the repository's root.
const Dir = "observability/grafana/dashboards"

// Datasources is the provisioning file of the datasources, relative to the repository's root.
const Datasources = "observability/grafana/provisioning/datasources/datasources.yaml"

// Dashboard is the part of a dashboard's JSON model the checks read.
type Dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []Panel `json:"panels"`
}

// Panel is one panel, or a row with its panels.
type Panel struct {
	Title       string         `json:"title"`
	Type        string         `json:"type"`
	Description string         `json:"description"`
	Datasource  map[string]any `json:"datasource"`
	Targets     []Target       `json:"targets"`
	Panels      []Panel        `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	Expr       string         `json:"expr"`
	Datasource map[string]any `json:"datasource"`
}

// Load reads every dashboard of root's Dir, by file name.
func Load(root string) (map[string]Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(root, Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboard in %s", Dir)
	}
	out := map[string]Dashboard{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("%s is not a dashboard's JSON: %w", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out, nil
}

// AllPanels lists the dashboard's panels, rows and the panels inside them included.
func (d Dashboard) AllPanels() []Panel { return flatten(d.Panels) }

func flatten(ps []Panel) []Panel {
	var out []Panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// Datasources lists the datasource of the panel and of each of its queries.
func (p Panel) Datasources() []map[string]any {
	out := []map[string]any{p.Datasource}
	for _, t := range p.Targets {
		out = append(out, t.Datasource)
	}
	return out
}

// ProvisionedUIDs reads root's provisioned datasources: their type by uid.
func ProvisionedUIDs(root string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(root, Datasources))
	if err != nil {
		return nil, err
	}
	var prov struct {
		Datasources []struct{ UID, Type string } `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &prov); err != nil {
		return nil, fmt.Errorf("%s: %w", Datasources, err)
	}
	uids := map[string]string{}
	for _, ds := range prov.Datasources {
		uids[ds.UID] = ds.Type
	}
	return uids, nil
}

// Query is one PromQL expression of a dashboard, with where it is.
type Query struct {
	Where string // "file: panel title"
	Expr  string
}

// Queries lists every PromQL expression of the dashboards, in the order of their files and panels.
func Queries(dashboards map[string]Dashboard) []Query {
	var out []Query
	for _, file := range slices.Sorted(maps.Keys(dashboards)) {
		for _, p := range dashboards[file].AllPanels() {
			for _, t := range p.Targets {
				if t.Expr != "" {
					out = append(out, Query{Where: file + ": " + p.Title, Expr: t.Expr})
				}
			}
		}
	}
	return out
}

// grafanaVars are replaced by values of the right type so that the Prometheus parser can read a query.
var grafanaVars = regexp.MustCompile(`\$(__rate_interval|__interval|__range|\{?[a-z_]+\}?)`)

// Parse parses a dashboard's query with Prometheus' own parser, Grafana's variables given placeholder values.
func Parse(expr string) (parser.Expr, error) {
	expr = grafanaVars.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.HasPrefix(v, "$__") {
			return "5m"
		}
		return "x"
	})
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

// Metrics returns the metric names an expression selects.
func Metrics(e parser.Expr) []string {
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

// Source is what produces a query's metrics.
type Source string

const (
	Shop      Source = "shop"      // the services' own registry, every lane
	Beyla     Source = "beyla"     // Beyla's HTTP metrics
	Spans     Source = "spans"     // the Collector's span metrics, from any lane's spans
	Graph     Source = "graph"     // the Collector's service graph, from traces that cross services
	Collector Source = "collector" // the Collector's own telemetry
	Sampler   Source = "sampler"   // the samplers of the two-tier form: kept-span metrics, decisions, routing
)

// SourceOf names where the metrics of a query come from.
func SourceOf(names []string) Source {
	// A query with any metric of the samplers has data only in the two-tier form, whatever else it reads.
	for _, n := range names {
		if strings.HasPrefix(n, "traces_kept") || strings.HasPrefix(n, "otelcol_processor_tail_sampling") || strings.HasPrefix(n, "otelcol_loadbalancer") {
			return Sampler
		}
	}
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "http_server_") || strings.HasPrefix(n, "http_client_"):
			return Beyla
		case strings.HasPrefix(n, "traces_service_graph"):
			return Graph
		case strings.HasPrefix(n, "traces_span_metrics"):
			return Spans
		case strings.HasPrefix(n, "otelcol_"):
			return Collector
		}
	}
	return Shop
}

// FailureOnly reports whether every metric of a query counts failures or refusals, which a healthy run
// does not produce.
func FailureOnly(names []string) bool {
	for _, n := range names {
		if !strings.Contains(n, "failed") && !strings.Contains(n, "refused") {
			return false
		}
	}
	return len(names) > 0
}
