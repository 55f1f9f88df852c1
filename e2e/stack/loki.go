package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/zerocodelab/lab/e2e/report"
)

// LokiLines counts the log lines a LogQL query finds in the last hour. Loki publishes no port, so the
// query is asked from inside the stack, with the wget of the Prometheus image (busybox).
func (r *Run) LokiLines(ctx context.Context, query string) (int, error) {
	q := url.Values{"query": {query}, "limit": {"5000"}, "since": {"1h"}}
	body, err := r.Compose(ctx, "exec", "-T", "prometheus", "wget", "-q", "-O", "-",
		"http://loki:3100/loki/api/v1/query_range?"+q.Encode())
	if err != nil {
		return 0, err
	}
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Values [][]string `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Status != "success" {
		return 0, fmt.Errorf("loki %q: %v: %s", query, err, report.Tail(body, 300))
	}
	n := 0
	for _, res := range resp.Data.Result {
		n += len(res.Values)
	}
	return n, nil
}
