package compare

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/zerocodelab/lab/e2e/query"
	"github.com/zerocodelab/lab/e2e/spans"
)

// Tempo reads traces from Tempo's HTTP API (the compose stack's pinned 2.9.0).
type Tempo struct {
	Client *http.Client
	URL    string // Tempo's base URL, e.g. http://127.0.0.1:3200
}

// Trace reads GET /api/v2/traces/<id>. Tempo answers a trace it does not have with 404, or with 200
// and an empty trace; a trace it could read only in part (status PARTIAL) is an error, not a smaller
// tree.
func (t Tempo) Trace(ctx context.Context, traceID string) ([]spans.Span, error) {
	data, status, err := t.get(ctx, "/api/v2/traces/"+url.PathEscape(traceID), nil)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		return nil, nil
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("Tempo answered %d: %s", status, clip(strings.TrimSpace(string(data)), 200))
	}
	var answer struct {
		Trace   json.RawMessage `json:"trace"`
		Status  string          `json:"status"`
		Message string          `json:"message"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, fmt.Errorf("Tempo's answer: %w", err)
	}
	if answer.Status == "PARTIAL" {
		return nil, fmt.Errorf("Tempo could read trace %s only in part: %s", traceID, answer.Message)
	}
	if len(answer.Trace) == 0 {
		return nil, nil
	}
	return decodeTempoTrace(answer.Trace)
}

// Around finds the lane's traces with a SERVER span that started between from and to through Tempo's
// TraceQL search, then reads each. Tempo files a trace under when it took it in, so the window given
// to the search reaches to now.
func (t Tempo) Around(ctx context.Context, lane string, from, to time.Time) ([]spans.Span, error) {
	end := to
	if now := time.Now(); now.After(end) {
		end = now
	}
	q := url.Values{
		"q":     {fmt.Sprintf(`{ resource.service.namespace = %q && kind = server }`, lane)},
		"start": {fmt.Sprint(from.Unix())},
		"end":   {fmt.Sprint(end.Unix() + 1)},
		"limit": {"200"},
	}
	data, status, err := t.get(ctx, "/api/search", q)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("Tempo's search answered %d: %s", status, clip(strings.TrimSpace(string(data)), 200))
	}
	var found struct {
		Traces []struct {
			TraceID           string `json:"traceID"`
			StartTimeUnixNano string `json:"startTimeUnixNano"`
		} `json:"traces"`
	}
	if err := json.Unmarshal(data, &found); err != nil {
		return nil, fmt.Errorf("Tempo's search answer: %w", err)
	}
	var out []spans.Span
	for _, tr := range found.Traces {
		// Tempo writes trace ids without their leading zeros.
		id := strings.Repeat("0", max(0, 32-len(tr.TraceID))) + tr.TraceID
		trace, err := t.Trace(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, sp := range trace {
			if start := sp.StartTimestamp().AsTime(); !start.Before(from) && !start.After(to) {
				out = append(out, trace...)
				break
			}
		}
	}
	return out, nil
}

func (t Tempo) get(ctx context.Context, path string, q url.Values) ([]byte, int, error) {
	u := t.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	return query.Get(ctx, t.Client, "Tempo", u)
}

// decodeTempoTrace reads a trace as Tempo writes it: OTLP JSON whose ids are base64, where the OTLP
// JSON encoding (and pdata) wants hex.
func decodeTempoTrace(raw json.RawMessage) ([]spans.Span, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("Tempo's trace: %w", err)
	}
	if err := idsToHex(doc); err != nil {
		return nil, fmt.Errorf("Tempo's trace: %w", err)
	}
	fixed, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var u ptrace.JSONUnmarshaler
	td, err := u.UnmarshalTraces(fixed)
	if err != nil {
		return nil, fmt.Errorf("Tempo's trace: %w", err)
	}
	return spans.FromTraces(td), nil
}

// idsToHex rewrites, wherever they are, the id fields of spans and links from base64 to hex.
func idsToHex(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for key, val := range v {
			if s, ok := val.(string); ok && (key == "traceId" || key == "spanId" || key == "parentSpanId") {
				h, err := base64ToHex(s)
				if err != nil {
					return fmt.Errorf("%s %q: %w", key, s, err)
				}
				v[key] = h
				continue
			}
			if err := idsToHex(val); err != nil {
				return err
			}
		}
	case []any:
		for _, item := range v {
			if err := idsToHex(item); err != nil {
				return err
			}
		}
	}
	return nil
}

// base64ToHex decodes an id Tempo wrote in base64; one already in hex (16 or 32 hex digits) is kept.
func base64ToHex(s string) (string, error) {
	if _, err := hex.DecodeString(s); err == nil && (len(s) == 16 || len(s) == 32) {
		return s, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
