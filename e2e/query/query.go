// Package query asks the lab's backends and services what they hold: log lines in Loki, series in
// Prometheus, samples on a service's /metrics. The end-to-end checks and the comparison share it.
package query

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Get asks url for JSON and returns the answer's body and status; what names the backend in errors.
func Get(ctx context.Context, client *http.Client, what, url string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	return data, resp.StatusCode, nil
}

// Stream is one Loki stream a query matched: its labels and how many lines it has.
type Stream struct {
	Labels map[string]string
	Lines  int
}

// Loki runs a LogQL query over the lines of the last window (up to 5000 per stream) and returns the
// streams it matched.
func Loki(ctx context.Context, client *http.Client, base, logql string, window time.Duration) ([]Stream, error) {
	q := url.Values{
		"query": {logql},
		"limit": {"5000"},
		"start": {fmt.Sprint(time.Now().Add(-window).UnixNano())},
	}
	data, status, err := Get(ctx, client, "Loki", base+"/loki/api/v1/query_range?"+q.Encode())
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("Loki answered %d: %s", status, strings.TrimSpace(string(data)))
	}
	var body struct {
		Data struct {
			Result []struct {
				Stream map[string]string `json:"stream"`
				Values [][]string        `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, fmt.Errorf("Loki's answer: %w", err)
	}
	streams := make([]Stream, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		streams = append(streams, Stream{Labels: r.Stream, Lines: len(r.Values)})
	}
	return streams, nil
}

// LokiLines is how many lines a LogQL query finds in the last window.
func LokiLines(ctx context.Context, client *http.Client, base, logql string, window time.Duration) (int, error) {
	streams, err := Loki(ctx, client, base, logql, window)
	n := 0
	for _, s := range streams {
		n += s.Lines
	}
	return n, err
}

// Vector runs an instant PromQL query that must answer an instant vector.
func Vector(ctx context.Context, prom promv1.API, expr string) (model.Vector, error) {
	v, _, _, err := prom.Query(ctx, expr, time.Now())
	if err != nil {
		return nil, fmt.Errorf("Prometheus: %w", err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("Prometheus answered %s with a %s, not an instant vector", expr, v.Type())
	}
	return vec, nil
}

// SeriesOf returns the labels of one series of metric, or why there is none: what a check prints when a
// query on that metric found nothing.
func SeriesOf(ctx context.Context, prom promv1.API, metric string) string {
	series, _, _, err := prom.Series(ctx, []string{metric}, time.Now().Add(-time.Hour), time.Now())
	switch {
	case err != nil:
		return err.Error()
	case len(series) == 0:
		return "none"
	}
	return series[0].String()
}

// Scrape reads the metric families a /metrics endpoint exposes now.
func Scrape(ctx context.Context, client *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	return families, nil
}

// SumBy sums a counter family's samples by the value of one label.
func SumBy(f *dto.MetricFamily, label string) map[string]float64 {
	sums := map[string]float64{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				sums[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	return sums
}
