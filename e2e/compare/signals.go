package compare

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/zerocodelab/lab/e2e/query"
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
	streams, err := query.Loki(ctx, b.Client, b.Loki, fmt.Sprintf(`{lane=%q} | trace_id=%q`, lane, traceID), 15*time.Minute)
	if err != nil {
		return Signal{}, err
	}
	byService := map[string]int{}
	s := Signal{}
	for _, st := range streams {
		byService[st.Labels["service_name"]] += st.Lines
		s.Count += st.Lines
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
	vec, err := query.Vector(ctx, b.Prometheus, q)
	if err != nil {
		return Signal{}, err
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

// Kept is the share of the lane's requests (SERVER spans) that the samplers of the two-tier form
// (docker-compose.sampling.yml) kept over the last 5 minutes: their span metrics of what they keep
// beside the first tier's of everything. Detail is "" where no sampler runs.
func (b Backends) Kept(ctx context.Context, lane string) (Signal, error) {
	sum := func(metric string) (float64, bool, error) {
		vec, err := query.Vector(ctx, b.Prometheus, fmt.Sprintf(`sum(increase(%s{lane=%q, span_kind="SPAN_KIND_SERVER"}[5m]))`, metric, lane))
		if err != nil || len(vec) == 0 {
			return 0, false, err
		}
		return float64(vec[0].Value), true, nil
	}
	kept, sampled, err := sum("traces_kept_calls_total")
	if err != nil || !sampled {
		return Signal{}, err
	}
	all, _, err := sum("traces_span_metrics_calls_total")
	if err != nil {
		return Signal{}, err
	}
	s := Signal{Count: int(kept), Detail: fmt.Sprintf("%.0f of the lane's %.0f requests in the last 5 min", kept, all)}
	if all > 0 {
		s.Detail = fmt.Sprintf("%.0f %% of the lane's requests in the last 5 min (%.0f of %.0f)", 100*kept/all, kept, all)
	}
	return s, nil
}
