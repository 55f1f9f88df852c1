package lab

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/native"
)

// startLab serves the lab on 127.0.0.1 with a real comparer whose lanes and backends are all down.
func startLab(t *testing.T) (*httptest.Server, []compare.Lane) {
	t.Helper()
	// Loopback addresses nothing listens on: lanes and backends that are down.
	down, err := native.FreeAddrs(5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range down {
		down[i] = "http://" + down[i]
	}
	lanes := []compare.Lane{
		{Name: "plain", Observer: compare.None, Gateway: down[0]},
		{Name: "manual", Observer: compare.SDK, Gateway: down[1]},
	}
	client := &http.Client{Timeout: 2 * time.Second}
	prom, err := promapi.NewClient(promapi.Config{Address: down[2]})
	if err != nil {
		t.Fatal(err)
	}
	comparer := &compare.Lab{
		Lanes: lanes, Client: client,
		Source:  compare.Tempo{Client: client, URL: down[3]},
		Signals: compare.Backends{Client: client, Loki: down[4], Prometheus: promv1.NewAPI(prom)},
		Settle:  100 * time.Millisecond, Timeout: time.Second,
	}
	srv := httptest.NewServer(NewServer(comparer, "http://grafana.example:3000", slog.New(slog.DiscardHandler)).Handler())
	t.Cleanup(srv.Close)
	return srv, lanes
}

func TestBadRequestsGetAJSONError(t *testing.T) {
	srv, _ := startLab(t)
	for _, c := range []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  string
	}{
		{"not JSON", "POST", "/api/compare", "application/json", `{"scenario":`, 400, "malformed_json"},
		{"no scenario", "POST", "/api/compare", "application/json", `{}`, 400, "missing_field"},
		{"unknown scenario", "POST", "/api/compare", "application/json", `{"scenario":"teleport"}`, 400, "unknown_scenario"},
		{"unknown field", "POST", "/api/compare", "application/json", `{"scenario":"normal","lanes":["x"]}`, 400, "malformed_json"},
		{"two values", "POST", "/api/compare", "application/json", `{"scenario":"normal"}{"scenario":"slow"}`, 400, "malformed_json"},
		{"wrong type", "POST", "/api/compare", "application/json", `{"scenario":7}`, 400, "malformed_json"},
		{"form", "POST", "/api/compare", "application/x-www-form-urlencoded", `scenario=normal`, 415, "unsupported_media_type"},
		{"too large", "POST", "/api/compare", "application/json", `{"scenario":"` + strings.Repeat("a", 2000) + `"}`, 413, "body_too_large"},
		{"GET compare", "GET", "/api/compare", "", "", 405, "method_not_allowed"},
		{"POST scenarios", "POST", "/api/scenarios", "application/json", `{}`, 405, "method_not_allowed"},
		{"unknown path", "GET", "/api/nothing", "", "", 404, "not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error, Message string }
			data, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(data, &body); err != nil {
				t.Fatalf("%d %q is not a JSON error body: %v", resp.StatusCode, data, err)
			}
			if resp.StatusCode != c.status || body.Error != c.code || body.Message == "" {
				t.Errorf("%d %+v; want %d %s with a message", resp.StatusCode, body, c.status, c.code)
			}
		})
	}
}

// Every lane down: the comparison still answers 200, each lane shown as off with the reason.
func TestLanesThatAreDownAreShownOff(t *testing.T) {
	srv, lanes := startLab(t)
	resp, err := http.Post(srv.URL+"/api/compare", "application/json", strings.NewReader(`{"scenario":"error"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c comparison
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || c.Scenario != "error" || len(c.Lanes) != len(lanes) || len(c.Capabilities) != len(compare.Capabilities) {
		t.Fatalf("%d %+v", resp.StatusCode, c)
	}
	for _, l := range c.Lanes {
		if !strings.Contains(l.Off, "does not answer") || l.Grafana != "" {
			t.Errorf("lane %s: off %q, grafana %q; want off with the reason and no link", l.Name, l.Off, l.Grafana)
		}
		for _, row := range c.Capabilities {
			if cell := row.Cells[l.Name]; cell.Verdict != compare.Off || cell.Reason != l.Off {
				t.Errorf("lane %s, %s: %+v; want off", l.Name, row.Name, cell)
			}
		}
	}
}

func TestConfigNamesTheBadSetting(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	if _, err := ConfigFromEnv(env()); err != nil {
		t.Errorf("the defaults: %v", err)
	}
	for _, kv := range [][]string{
		{"LAB_LANES", "plain=http://x:1,plain=http://y:1"},
		{"LAB_LANES", "shop=http://x:1"},
		{"TEMPO_URL", "tempo:3200"},
		{"LOKI_URL", "ftp://loki"},
		{"PROMETHEUS_URL", "http://"},
		{"GRAFANA_URL", "/explore"},
		{"LAB_TIMEOUT", "forever"},
		{"LAB_TIMEOUT", "10ms"},
		{"LAB_ADDR", "8090"},
		{"LAB_SPAN_DELAY", "soon"},
		{"LAB_SPAN_DELAY", "-1s"},
		{"LAB_SPAN_DELAY", "30s"}, // as long as LAB_TIMEOUT's default
	} {
		_, err := ConfigFromEnv(env(kv...))
		if err == nil || !strings.Contains(err.Error(), kv[0]+":") {
			t.Errorf("%s=%s: %v; want an error naming %s", kv[0], kv[1], err, kv[0])
		}
	}
}
