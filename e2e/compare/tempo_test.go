package compare_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/spans"
)

// tempoAnswers serves what a real Tempo 2.9.0 answered (testdata/tempo, captured from a native build of
// that version, after sending it two known traces), by request path, and keeps the search queries asked.
func tempoAnswers(t *testing.T) (*httptest.Server, *[]string) {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", "tempo", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	var mu sync.Mutex
	var searches []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" {
			http.Error(w, "want Accept: application/json", http.StatusNotAcceptable) // Tempo would answer protobuf
			return
		}
		status, file := http.StatusOK, ""
		switch r.URL.Path {
		case "/api/v2/traces/0af7651916cd43dd8448eb211c80319c":
			file = "trace-v2.json"
		case "/api/v2/traces/4bf92f3577b34da6a3ce929d0e0e4736":
			file = "trace-v2-catalog.json"
		case "/api/v2/traces/11111111111111111111111111111111":
			file = "trace-v2-unknown.json"
		case "/api/v2/traces/0af7651916cd43dd8448eb211c803100": // answered, at capture, by a Tempo limited to 300 bytes a trace
			file = "trace-v2-partial.json"
		case "/api/v2/traces/not-hex":
			status, file = http.StatusBadRequest, "trace-v2-badid.json"
		case "/api/search":
			mu.Lock()
			searches = append(searches, r.URL.RawQuery)
			mu.Unlock()
			file = "search.json"
			if strings.Contains(r.URL.Query().Get("q"), "broken") {
				status, file = http.StatusBadRequest, "search-bad.json"
			}
		default:
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write(read(file))
	}))
	t.Cleanup(srv.Close)
	return srv, &searches
}

func TestTempoTraceReadsTheRealAnswer(t *testing.T) {
	srv, _ := tempoAnswers(t)
	tempo := compare.Tempo{Client: srv.Client(), URL: srv.URL}
	trace, err := tempo.Trace(context.Background(), "0af7651916cd43dd8448eb211c80319c")
	if err != nil {
		t.Fatal(err)
	}
	if len(trace) != 4 {
		t.Fatalf("%d spans; want the 4 sent", len(trace))
	}
	byID := map[string]int{}
	for i, sp := range trace {
		if sp.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || sp.Lane != "manual" {
			t.Errorf("span %s: trace %s lane %q", sp.SpanID(), sp.TraceID(), sp.Lane)
		}
		byID[sp.SpanID().String()] = i
	}
	root, ok := byID["b7ad6b7169203331"]
	if !ok {
		t.Fatalf("span ids not read as hex: %v", byID)
	}
	gw := trace[root]
	if gw.Service != "gateway" || !gw.IsError() || gw.Status().Message() != "upstream failed" || gw.Events().Len() != 1 || gw.Route() != "/api/checkout" {
		t.Errorf("the gateway's SERVER span read as %s %q error=%v %q events=%d", gw.Service, gw.Name(), gw.IsError(), gw.Status().Message(), gw.Events().Len())
	}
	sql := trace[byID["1e2f3a4b5c6d7e8f"]]
	if sql.ParentSpanID().String() != "53995c3f42cd8ad8" || sql.Service != "inventory" {
		t.Errorf("the SQL span's parent %s service %s", sql.ParentSpanID(), sql.Service)
	}
	// Attributes keep their types: an int 0 stays an int, a bool a bool.
	for key, want := range map[string]pcommon.ValueType{
		"db.response.returned_rows": pcommon.ValueTypeInt, "shop.flag": pcommon.ValueTypeBool,
		"shop.ratio": pcommon.ValueTypeDouble, "db.query.text": pcommon.ValueTypeStr,
	} {
		if v, ok := sql.Attributes().Get(key); !ok || v.Type() != want {
			t.Errorf("%s: %v (%v); want a %v", key, v.AsString(), v.Type(), want)
		}
	}
}

func TestTempoTraceItDoesNotHaveIsEmpty(t *testing.T) {
	srv, _ := tempoAnswers(t)
	tempo := compare.Tempo{Client: srv.Client(), URL: srv.URL}
	for _, id := range []string{"11111111111111111111111111111111", "22222222222222222222222222222222"} { // 200 {"trace":{}}, and 404
		trace, err := tempo.Trace(context.Background(), id)
		if err != nil || len(trace) != 0 {
			t.Errorf("%s: %d spans, %v; want none and no error", id, len(trace), err)
		}
	}
	_, err := tempo.Trace(context.Background(), "0af7651916cd43dd8448eb211c803100")
	if err == nil || !strings.Contains(err.Error(), "only in part") || !strings.Contains(err.Error(), "maximum size") {
		t.Errorf("a PARTIAL trace: %v; want an error with Tempo's message, not a smaller tree", err)
	}
	_, err = tempo.Trace(context.Background(), "not-hex")
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "hex characters") {
		t.Errorf("a bad id: %v; want Tempo's 400 and its message", err)
	}
}

// Around searches the lane's SERVER spans by TraceQL, pads the trace ids Tempo shortens, and keeps the
// traces that started inside the window.
func TestTempoAroundSearchesTheLaneAndReadsEachTrace(t *testing.T) {
	srv, searches := tempoAnswers(t)
	tempo := compare.Tempo{Client: srv.Client(), URL: srv.URL}
	start := time.Unix(0, 1796155435079348050) // the recorded root span's start
	got, err := tempo.Around(context.Background(), "manual", start.Add(-time.Second), start.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("%d spans of %v; want the 4 of trace 0af7651916cd43dd8448eb211c80319c", len(got), traceIDs(got))
	}
	if len(*searches) != 1 || !strings.Contains((*searches)[0], "resource.service.namespace+%3D+%22manual%22") {
		t.Errorf("searches %v; want one for the lane's SERVER spans", *searches)
	}
	// A window the trace did not start in keeps nothing.
	got, err = tempo.Around(context.Background(), "manual", start.Add(time.Minute), start.Add(2*time.Minute))
	if err != nil || len(got) != 0 {
		t.Errorf("a later window: %d spans, %v; want none", len(got), err)
	}
	if _, err := tempo.Around(context.Background(), "broken", start, start); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("a refused search: %v; want Tempo's 400", err)
	}
}

func traceIDs(list []spans.Span) []string {
	var out []string
	for _, sp := range list {
		out = append(out, sp.TraceID().String())
	}
	return out
}
