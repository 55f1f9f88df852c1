package shoptest

import (
	"bytes"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric returns the value of the counter or gauge name whose labels include labels, summed over the
// series that match, as the service's /metrics shows it now.
func (s *Shop) Metric(tb testing.TB, service, name string, labels map[string]string) float64 {
	tb.Helper()
	var sum float64
	for _, m := range s.Families(tb, service)[name].GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// Families returns the metric families the service's /metrics shows now, by name.
func (s *Shop) Families(tb testing.TB, service string) map[string]*dto.MetricFamily {
	tb.Helper()
	status, body := Get(tb, s.URL[service]+"/metrics")
	if status != 200 {
		tb.Fatalf("%s /metrics answered %d", service, status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("%s /metrics: %v", service, err)
	}
	return families
}
