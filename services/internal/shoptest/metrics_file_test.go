package shoptest

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/zerocodelab/lab/services/internal/scenario"
	"github.com/zerocodelab/lab/services/internal/shop"
)

// metricsFile lists the metrics the services expose, for the dashboards' checks in e2e to read without
// running a service.
const metricsFile = "../../metrics.txt"

var update = flag.Bool("update", false, "rewrite services/metrics.txt from the services' /metrics")

const metricsFileHeader = `# The metrics each service exposes on /metrics, once every scenario has run: "service name" per line,
# histograms as their _bucket, _sum and _count series. The dashboards may use only these and the
# Collector's and Beyla's (e2e/dashboards_test.go). A test keeps this file equal to the real services'
# /metrics, in both builds; after changing a metric:
#   cd services && go test ./internal/shoptest -run TestMetricsFile -update
`

// Every metric of every service carries the service's lane, and the services expose exactly what
// services/metrics.txt lists.
func TestMetricsFileListsWhatTheServicesExpose(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("the process metrics differ on %s; services/metrics.txt is what the services expose on Linux, where they run in containers", runtime.GOOS)
	}
	s := Start(t, Options{Env: map[string]string{"LANE": "lane-under-test"}})
	for _, sc := range scenario.All {
		checkout(t, s, fmt.Sprintf(`{"sku":"ceramic-mug","quantity":1,"scenario":%q}`, sc), nil)
	}
	if status, _ := Get(t, s.URL["gateway"]+"/api/products"); status != 200 {
		t.Fatalf("GET /api/products = %d", status)
	}

	var lines []string
	for _, spec := range shop.Services {
		names, unlabelled := exposed(t, s, spec.Service, "lane-under-test")
		if len(unlabelled) > 0 {
			t.Errorf("%s exposes metrics without its lane label: %v", spec.Service, unlabelled)
		}
		for _, name := range names {
			lines = append(lines, spec.Service+" "+name)
		}
	}
	slices.Sort(lines)
	got := metricsFileHeader + strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(metricsFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(metricsFile)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("services/metrics.txt differs from what the services expose; if the change is meant, rewrite it with -update:\n%s",
			lineDiff(string(want), got))
	}
}

// exposed returns the sample names the service's /metrics exposes now, and the families with a sample
// whose lane label is not lane.
func exposed(t *testing.T, s *Shop, service, lane string) (names, unlabelled []string) {
	t.Helper()
	families := s.Families(t, service)
	for name, f := range families {
		names = append(names, name)
		if f.GetType().String() == "HISTOGRAM" {
			names = append(names, name+"_bucket", name+"_sum", name+"_count")
		}
	samples:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "lane" && l.GetValue() == lane {
					continue samples
				}
			}
			unlabelled = append(unlabelled, name)
			break
		}
	}
	return names, unlabelled
}

// lineDiff lists the lines only one of a and b has.
func lineDiff(a, b string) string {
	as, bs := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range as {
		if !slices.Contains(bs, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bs {
		if !slices.Contains(as, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
