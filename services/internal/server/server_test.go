package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/telemetry"
)

func TestMain(m *testing.M) {
	os.Setenv("OTEL_TRACES_EXPORTER", "none") // the SDK build exports nowhere here
	os.Exit(m.Run())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve runs New on a real listener, behind a handler that keeps the very *http.Request the
// net/http server created, and returns the base URL, that request's slot and the log.
func serve(t *testing.T, hint bool) (string, *func() *http.Request, *syncBuffer) {
	t.Helper()
	tel, err := telemetry.Setup(context.Background(), telemetry.Resource{Service: "test", Lane: "test"})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(tel.LogHandler(slog.NewJSONHandler(logs, nil)))
	reg := prometheus.NewRegistry()
	e := New(Options{Logger: logger, Registry: reg, Metrics: reg, Telemetry: tel, RoutePatternHint: hint}, []Route{
		{Method: http.MethodGet, Path: "/items/:id", Handler: func(c echo.Context) error { return c.String(200, c.Param("id")) }},
		{Method: http.MethodGet, Path: "/boom", Handler: func(c echo.Context) error { return io.ErrUnexpectedEOF }},
		{Method: http.MethodGet, Path: "/refused", Handler: func(c echo.Context) error {
			return apierror.New(http.StatusConflict, "out_of_stock", "not enough")
		}},
	})
	var mu sync.Mutex
	var last *http.Request
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = r
		mu.Unlock()
		e.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); tel.Shutdown(context.Background()) })
	get := func() *http.Request { mu.Lock(); defer mu.Unlock(); return last }
	return "http://" + ln.Addr().String(), &get, logs
}

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestRoutePatternHintLandsOnTheServersRequest(t *testing.T) {
	// In the SDK build the SDK middleware replaces the request with a WithContext copy: the hint must
	// still land on the original, which is what an agent reading the server's request sees.
	for _, hint := range []bool{true, false} {
		url, last, _ := serve(t, hint)
		if status, body := get(t, url+"/items/42", nil); status != 200 || body != "42" {
			t.Fatalf("GET /items/42 = %d %q", status, body)
		}
		want := ""
		if hint {
			want = "/items/:id"
		}
		if got := (*last)().Pattern; got != want {
			t.Errorf("hint %v: the server's request has Pattern %q; want %q", hint, got, want)
		}
	}
}

func TestErrorsGetTheOneErrorBody(t *testing.T) {
	url, _, logs := serve(t, true)
	tests := []struct {
		path   string
		status int
		code   string
	}{
		{"/boom", 500, "internal"},
		{"/refused", 409, "out_of_stock"},
		{"/nowhere", 404, "route_not_found"},
	}
	for _, tt := range tests {
		status, body := get(t, url+tt.path, nil)
		var b apierror.Body
		if err := json.Unmarshal([]byte(body), &b); err != nil || status != tt.status || b.Code != tt.code || b.Message == "" {
			t.Errorf("GET %s = %d %s; want %d with error %q", tt.path, status, body, tt.status, tt.code)
		}
		if strings.Contains(body, io.ErrUnexpectedEOF.Error()) {
			t.Errorf("GET %s leaked the internal error to the client: %s", tt.path, body)
		}
	}
	if !strings.Contains(logs.String(), io.ErrUnexpectedEOF.Error()) {
		t.Error("the internal error of a 500 was not logged")
	}
}

func TestAccessLineAndMetricsUseTheRoutePattern(t *testing.T) {
	url, _, logs := serve(t, true)
	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	get(t, url+"/items/1", http.Header{"Traceparent": {valid}})
	get(t, url+"/items/2", http.Header{"Traceparent": {"00-zz-00f067aa0ba902b7-01"}})
	get(t, url+"/no/such/path", nil)
	get(t, url+"/healthz", nil)

	var lines []map[string]any
	deadline := time.Now().Add(2 * time.Second)
	for len(lines) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the access line is written just after the answer
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
				lines = append(lines, m)
			}
		}
	}
	if len(lines) != 3 {
		t.Fatalf("want 3 access lines (none for /healthz), got %d:\n%s", len(lines), logs.String())
	}
	for i, want := range []struct{ route, path string }{{"/items/:id", "/items/1"}, {"/items/:id", "/items/2"}, {"unmatched", "/no/such/path"}} {
		l := lines[i]
		if l["route"] != want.route || l["path"] != want.path || l["method"] != "GET" || l["status"] == nil || l["duration_ms"] == nil {
			t.Errorf("access line %d = %v; want route %s path %s with method, status, duration", i, l, want.route, want.path)
		}
	}
	if lines[0]["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the valid traceparent's trace id is missing: %v", lines[0])
	}
	if id, ok := lines[1]["trace_id"]; ok && !telemetry.Enabled {
		t.Errorf("a malformed traceparent was trusted: trace_id %v", id)
	}

	_, metrics := get(t, url+"/metrics", nil)
	for _, want := range []string{
		`shop_http_requests_total{method="GET",route="/items/:id",status="200"} 2`,
		`shop_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`shop_http_request_duration_seconds_count{method="GET",route="/items/:id"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `route="/items/1"`) {
		t.Error("/metrics has a raw path as a route label")
	}
}
