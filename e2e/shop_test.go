package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/proc"
)

var services = []string{"gateway", "catalog", "inventory", "orders"}

// buildShop compiles the shop's binaries, with the given build tags, into a temporary directory.
func buildShop(t *testing.T, tags string) string {
	t.Helper()
	dir := t.TempDir()
	if err := native.BuildShop(root, dir, tags); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startProc starts a program that is killed when the test ends.
func startProc(t *testing.T, c proc.Command) *proc.Process {
	t.Helper()
	p, err := proc.Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}

var scenarios = []string{"normal", "slow", "error", "out_of_stock", "not_found", "fanout"}

// drive sends one checkout of every scenario and one product listing to l, each with its own traceparent.
func drive(t *testing.T, l *native.Lane) {
	t.Helper()
	for i, sc := range scenarios {
		req, _ := http.NewRequest(http.MethodPost, l.URL["gateway"]+"/api/checkout",
			strings.NewReader(fmt.Sprintf(`{"sku":"ceramic-mug","quantity":1,"scenario":%q}`, sc)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", fmt.Sprintf("00-%032x-%016x-01", i+1, i+1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(l.URL["gateway"] + "/api/products")
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

// withoutLabel scrapes url and returns the metric families with a sample whose label name is not value.
func withoutLabel(t *testing.T, url, name, value string) []string {
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
	var missing []string
	for family, f := range families {
		for _, m := range f.GetMetric() {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == name && l.GetValue() == value)
			}
			if !found {
				missing = append(missing, family)
				break
			}
		}
	}
	return missing
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
