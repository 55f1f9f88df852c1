package compare

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Backends looks a lane's checkout up in Loki and Prometheus.
type Backends struct {
	Client     *http.Client
	Loki       string     // Loki's base URL
	Prometheus promv1.API // Prometheus' HTTP API
}

// Logs counts the lane's log lines of the last 15 minutes whose trace_id (structured metadata, lifted
// from the shop's JSON lines by the Collector) is traceID, by service.
func (b Backends) Logs(ctx context.Context, lane, traceID string) (Signal, error) {
	q := url.Values{
		"query": {fmt.Sprintf(`{lane=%q} | trace_id=%q`, lane, traceID)},
		"limit": {"1000"},
		"start": {fmt.Sprint(time.Now().Add(-15 * time.Minute).UnixNano())},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.Loki+"/loki/api/v1/query_range?"+q.Encode(), nil)
	if err != nil {
		return Signal{}, err
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		return Signal{}, fmt.Errorf("Loki: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Signal{}, fmt.Errorf("Loki: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Signal{}, fmt.Errorf("Loki answered %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
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
		return Signal{}, fmt.Errorf("Loki's answer: %w", err)
	}
	byService := map[string]int{}
	s := Signal{}
	for _, r := range body.Data.Result {
		byService[r.Stream["service_name"]] += len(r.Values)
		s.Count += len(r.Values)
	}
	s.Detail = counts(byService)
	return s, nil
}

// redSources are the request counters a lane can have, by metric name.
var redSources = map[string]string{
	"shop_http_requests_total":                   "the shop's own",
	"http_server_request_duration_seconds_count": "Beyla's",
	"traces_span_metrics_calls_total":            "from spans",
}

// RED counts the lane's request-count series: the services' own HTTP metrics (every lane), Beyla's, and
// the span metrics the Collector derives from the lane's spans.
func (b Backends) RED(ctx context.Context, lane string) (Signal, error) {
	names := slices.Sorted(maps.Keys(redSources))
	q := fmt.Sprintf(`count by (__name__) ({__name__=~%q, lane=%q})`, strings.Join(names, "|"), lane)
	v, _, err := b.Prometheus.Query(ctx, q, time.Now())
	if err != nil {
		return Signal{}, fmt.Errorf("Prometheus: %w", err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return Signal{}, fmt.Errorf("Prometheus answered a %s, not a vector", v.Type())
	}
	byName := map[string]int{}
	s := Signal{}
	for _, sample := range vec {
		n := int(sample.Value)
		name := string(sample.Metric[model.MetricNameLabel])
		byName[name+" ("+redSources[name]+")"] += n
		s.Count += n
	}
	s.Detail = counts(byName)
	return s, nil
}

// counts writes {a: 2, b: 1} as "a 2, b 1".
func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
