package shoptest

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/zerocodelab/lab/services/internal/catalog"
	"github.com/zerocodelab/lab/services/internal/gateway"
	"github.com/zerocodelab/lab/services/internal/inventory"
	"github.com/zerocodelab/lab/services/internal/orders"
	"github.com/zerocodelab/lab/services/internal/server"
)

// beylaPatterns reads routes.patterns from Beyla's configuration.
func beylaPatterns(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../../beyla/beyla-config.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Routes struct {
			Patterns []string `yaml:"patterns"`
		} `yaml:"routes"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("beyla/beyla-config.yml: %v", err)
	}
	return cfg.Routes.Patterns
}

// Beyla's route patterns are exactly the routes the services declare, so its spans and metrics carry
// the same http.route as the shop's own metrics and the SDK's spans.
func TestBeylaRoutePatternsEqualTheServicesRoutes(t *testing.T) {
	gw, err := gateway.New(gateway.Upstreams{}, nil, prometheus.NewRegistry(), nil, "test", "http://grafana")
	if err != nil {
		t.Fatal(err)
	}
	all := [][]server.Route{
		gw.Routes(),
		catalog.New(nil, nil, prometheus.NewRegistry()).Routes(),
		inventory.New(nil, nil, prometheus.NewRegistry(), nil, time.Minute).Routes(),
		orders.New(nil, nil, prometheus.NewRegistry()).Routes(),
	}
	declared := []string{server.HealthPath, server.MetricsPath}
	for _, routes := range all {
		for _, r := range routes {
			if !slices.Contains(declared, r.Path) {
				declared = append(declared, r.Path)
			}
		}
	}
	patterns := beylaPatterns(t)
	slices.Sort(declared)
	slices.Sort(patterns)
	if !slices.Equal(declared, patterns) {
		t.Errorf("beyla/beyla-config.yml routes.patterns = %v\nthe services declare          %v", patterns, declared)
	}
}
