package lab

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/compare"
)

//go:embed web
var web embed.FS

// Comparer compares one checkout of a scenario across the lanes.
type Comparer interface {
	Compare(ctx context.Context, sc compare.Scenario) compare.Matrix
}

// Server serves the lab page and its API.
type Server struct {
	comparer Comparer
	grafana  string
	log      *slog.Logger
	// One comparison at a time: two at once would interleave their checkouts, and the spans each lane
	// has around a checkout would no longer be its own.
	busy chan struct{}
}

// NewServer returns the lab's server; grafana is the Grafana URL the page links each lane's trace to.
func NewServer(c Comparer, grafana string, log *slog.Logger) *Server {
	return &Server{comparer: c, grafana: strings.TrimRight(grafana, "/"), log: log, busy: make(chan struct{}, 1)}
}

// errorBody is every error answer of the API: {"error": "<machine code>", "message": "<sentence>"},
// as the shop answers.
type errorBody struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone; nothing to do about it
}

func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, errorBody{Code: code, Message: fmt.Sprintf(format, args...)})
}

// scenarios answers the shop's scenarios and what each does.
func (s *Server) scenarios(w http.ResponseWriter, _ *http.Request) {
	type scenario struct {
		Name   string   `json:"name"`
		Calls  []string `json:"calls"`
		Status int      `json:"status"`
	}
	var out []scenario
	for _, sc := range compare.Scenarios {
		out = append(out, scenario{sc.Name, sc.Calls, sc.Status})
	}
	writeJSON(w, http.StatusOK, out)
}

// compareRequest is the body of POST /api/compare.
type compareRequest struct {
	Scenario string `json:"scenario"`
}

// maxBody bounds a request body: the only field is a scenario name.
const maxBody = 1 << 10

func (s *Server) compare(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var req compareRequest
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "the body may be at most %d bytes", maxBody)
			return
		}
		writeError(w, http.StatusBadRequest, "malformed_json", "the body is not a JSON object with a scenario: %v", err)
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "malformed_json", "the body holds more than one JSON value")
		return
	}
	if req.Scenario == "" {
		writeError(w, http.StatusBadRequest, "missing_field", "scenario is required")
		return
	}
	sc, ok := compare.ScenarioNamed(req.Scenario)
	if !ok {
		writeError(w, http.StatusBadRequest, "unknown_scenario", "unknown scenario %q", req.Scenario)
		return
	}
	select {
	case s.busy <- struct{}{}:
		defer func() { <-s.busy }()
	default:
		writeError(w, http.StatusConflict, "busy", "a comparison is running; try again when it ends")
		return
	}
	start := time.Now()
	m := s.comparer.Compare(r.Context(), sc)
	s.log.Info("compared", "scenario", sc.Name, "lanes", len(m.Lanes), "took", time.Since(start).Round(time.Millisecond))
	writeJSON(w, http.StatusOK, s.view(m))
}

// exploreLink opens Grafana Explore on the Tempo datasource (uid "tempo") for one trace id, as the
// shop's page does.
func (s *Server) exploreLink(traceID string) string {
	panes := map[string]any{"a": map[string]any{
		"datasource": "tempo",
		"queries": []any{map[string]any{
			"refId": "A", "datasource": map[string]string{"type": "tempo", "uid": "tempo"},
			"queryType": "traceql", "query": traceID,
		}},
		"range": map[string]string{"from": "now-1h", "to": "now"},
	}}
	data, _ := json.Marshal(panes) // plain maps of strings always marshal
	return s.grafana + "/explore?schemaVersion=1&orgId=1&panes=" + url.QueryEscape(string(data))
}
