//go:build otelsdk

package shoptest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/zerocodelab/lab/services/internal/telemetry"
	"github.com/zerocodelab/lab/services/internal/traceparent"
)

// recordedShop starts the shop with every service's spans going to one in-memory recorder.
func recordedShop(t *testing.T) (*Shop, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	shop := Start(t, Options{Env: map[string]string{"LANE": "manual"}, Telemetry: func(service string) *telemetry.Telemetry {
		res := resource.NewSchemaless(semconv.ServiceName(service), semconv.ServiceNamespace("manual"))
		return telemetry.New(service, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res)))
	}})
	return shop, rec
}

// span is a recorded span with what the assertions need.
type span struct {
	sdktrace.ReadOnlySpan
	service string
}

func (s span) attr(key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func (s span) String() string {
	return fmt.Sprintf("%s %s %q", s.service, s.SpanKind(), s.Name())
}

// traceSpans waits until the trace has at least min ended spans (server spans end just after the
// answer is sent) and returns them.
func traceSpans(t *testing.T, rec *tracetest.SpanRecorder, traceID string, min int) []span {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var spans []span
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID().String() != traceID {
				continue
			}
			service, _ := s.Resource().Set().Value(semconv.ServiceNameKey)
			spans = append(spans, span{s, service.AsString()})
		}
		if len(spans) >= min || time.Now().After(deadline) {
			return spans
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tree indexes spans by their parent.
type tree struct {
	children map[trace.SpanID][]span
}

func newTree(spans []span) tree {
	t := tree{children: map[trace.SpanID][]span{}}
	for _, s := range spans {
		t.children[s.Parent().SpanID()] = append(t.children[s.Parent().SpanID()], s)
	}
	return t
}

// child returns the one child of parent that matches, or fails.
func (tr tree) child(t *testing.T, parent span, match func(span) bool, what string) span {
	t.Helper()
	var found []span
	for _, c := range tr.children[parent.SpanContext().SpanID()] {
		if match(c) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: want one %s under it, found %v (children: %v)", parent, what, found, tr.children[parent.SpanContext().SpanID()])
	}
	return found[0]
}

func kindName(service string, kind trace.SpanKind, name string) func(span) bool {
	return func(s span) bool { return s.service == service && s.SpanKind() == kind && s.Name() == name }
}

func clientTo(path string) func(span) bool {
	return func(s span) bool {
		return s.service == "gateway" && s.SpanKind() == trace.SpanKindClient && strings.HasSuffix(s.attr("url.full"), path)
	}
}

func TestCheckoutIsOneConnectedTraceAcrossFourServices(t *testing.T) {
	shop, rec := recordedShop(t)
	header, traceID := traceparent.New()
	status, a := checkout(t, shop, `{"sku":"ceramic-mug","quantity":2}`, http.Header{"Traceparent": {header}})
	if status != 201 || a.TraceID != traceID {
		t.Fatalf("checkout = %d %+v; want 201 with trace_id %s", status, a, traceID)
	}
	spans := traceSpans(t, rec, traceID, 25)
	services := map[string]bool{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		services[s.service] = true
		ids[s.SpanContext().SpanID()] = true
	}
	if len(services) != 4 {
		t.Fatalf("the trace spans %v; want all four services", services)
	}
	browserSpan := strings.Split(header, "-")[2]
	for _, s := range spans {
		if parent := s.Parent().SpanID(); !ids[parent] && parent.String() != browserSpan {
			t.Errorf("%s has parent %s, which is neither in the trace nor the browser's span: the trace is broken", s, parent)
		}
	}

	tr := newTree(spans)
	var root span
	for _, s := range spans {
		if s.Parent().SpanID().String() == browserSpan {
			root = s
		}
	}
	if root.ReadOnlySpan == nil || root.service != "gateway" || root.SpanKind() != trace.SpanKindServer || root.Name() != "POST /api/checkout" {
		t.Fatalf("the root span is %v; want the gateway's SERVER span POST /api/checkout", root)
	}
	if root.attr("http.route") != "/api/checkout" {
		t.Errorf("root span http.route = %q", root.attr("http.route"))
	}
	checkoutSpan := tr.child(t, root, kindName("gateway", trace.SpanKindInternal, "checkout"), "checkout business span")
	if checkoutSpan.attr("shop.sku") != "ceramic-mug" || checkoutSpan.attr("shop.quantity") != "2" || checkoutSpan.attr("shop.order_id") != fmt.Sprint(a.OrderID) {
		t.Errorf("checkout span attributes = %v", checkoutSpan.Attributes())
	}
	if len(checkoutSpan.Events()) < 2 {
		t.Errorf("checkout span events = %v; want priced and stock reserved", checkoutSpan.Events())
	}
	price := tr.child(t, checkoutSpan, kindName("gateway", trace.SpanKindInternal, "price lookup"), "price lookup span")
	confirm := tr.child(t, checkoutSpan, kindName("gateway", trace.SpanKindInternal, "confirm reservation"), "confirm reservation span")

	// gateway CLIENT -> service SERVER -> business span -> SQL spans
	hops := []struct {
		parent             span
		path, service, srv string
		business           string
		queries            []string
	}{
		{price, "/products/ceramic-mug", "catalog", "GET /products/:sku", "", []string{"SELECT products"}},
		{checkoutSpan, "/reservations", "inventory", "POST /reservations", "reserve stock", []string{"SELECT reservations", "UPDATE stock", "INSERT reservations", "SELECT stock"}},
		{checkoutSpan, "/orders", "orders", "POST /orders", "store order", []string{"SELECT orders", "SELECT voided_holds", "INSERT orders"}},
		{confirm, "/confirm", "inventory", "POST /reservations/:id/confirm", "confirm reservation", []string{"SELECT reservations", "UPDATE reservations", "SELECT stock"}},
	}
	for _, h := range hops {
		client := tr.child(t, h.parent, clientTo(h.path), "CLIENT span to "+h.path)
		server := tr.child(t, client, kindName(h.service, trace.SpanKindServer, h.srv), h.service+" SERVER span")
		dbParent := server
		if h.business != "" {
			dbParent = tr.child(t, server, kindName(h.service, trace.SpanKindInternal, h.business), h.business+" span")
		}
		for _, q := range h.queries {
			db := tr.child(t, dbParent, kindName(h.service, trace.SpanKindClient, q), "SQL span "+q)
			if db.attr("db.system.name") != "sqlite" || !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(db.attr("db.query.text"))), strings.Fields(q)[0]) {
				t.Errorf("%s attributes = %v", db, db.Attributes())
			}
		}
	}
	for _, s := range spans {
		if s.Status().Code == codes.Error {
			t.Errorf("%s has status Error in a normal checkout", s)
		}
	}

	// The SDK build's log lines carry the trace: here the access line and the SQL-level work of inventory.
	found := false
	for _, line := range shop.Log("inventory").Lines() {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["trace_id"] == traceID && l["span_id"] != nil && l["route"] == "/reservations" {
			found = true
		}
	}
	if !found {
		t.Errorf("no inventory log line carries trace_id %s and a span_id", traceID)
	}
}

func TestErrorScenarioRecordsTheErrorWhereItHappened(t *testing.T) {
	shop, rec := recordedShop(t)
	header, traceID := traceparent.New()
	if status, _ := checkout(t, shop, `{"sku":"ceramic-mug","quantity":1,"scenario":"error"}`, http.Header{"Traceparent": {header}}); status != 502 {
		t.Fatalf("error checkout = %d; want 502", status)
	}
	spans := traceSpans(t, rec, traceID, 9)
	byName := map[string]span{}
	for _, s := range spans {
		byName[s.service+" "+s.Name()] = s
		if s.service == "orders" {
			t.Errorf("orders was called in a checkout that failed at inventory: %s", s)
		}
	}
	reserve, ok := byName["inventory reserve stock"]
	if !ok {
		t.Fatalf("no reserve stock span in %v", spans)
	}
	if reserve.Status().Code != codes.Error || !strings.Contains(reserve.Status().Description, "simulated_failure") {
		t.Errorf("reserve stock status = %v; want Error with the cause", reserve.Status())
	}
	exception := false
	for _, e := range reserve.Events() {
		exception = exception || e.Name == "exception"
	}
	if !exception {
		t.Errorf("reserve stock recorded no exception event: %v", reserve.Events())
	}
	for _, name := range []string{"inventory POST /reservations", "gateway checkout", "gateway POST /api/checkout"} {
		if s, ok := byName[name]; !ok || s.Status().Code != codes.Error {
			t.Errorf("%s: status %v; want Error", name, s.Status())
		}
	}
	if s := byName["catalog GET /products/:sku"]; s.ReadOnlySpan == nil || s.Status().Code == codes.Error {
		t.Errorf("catalog's span should exist and be fine: %v", s)
	}
}

func TestOutOfStockIsNotAnError(t *testing.T) {
	shop, rec := recordedShop(t)
	header, traceID := traceparent.New()
	if status, _ := checkout(t, shop, `{"sku":"ceramic-mug","quantity":1,"scenario":"out_of_stock"}`, http.Header{"Traceparent": {header}}); status != 409 {
		t.Fatalf("out_of_stock checkout = %d; want 409", status)
	}
	for _, s := range traceSpans(t, rec, traceID, 8) {
		if s.service != "gateway" && s.Status().Code == codes.Error {
			t.Errorf("%s has status Error: a 409 is a business outcome, not a server failure", s)
		}
		if s.Name() == "checkout" && s.attr("shop.outcome") != "out_of_stock" {
			t.Errorf("checkout span shop.outcome = %q; want out_of_stock", s.attr("shop.outcome"))
		}
	}
}

func TestFanoutCallsAreConcurrentSiblings(t *testing.T) {
	shop, rec := recordedShop(t)
	header, traceID := traceparent.New()
	if status, _ := checkout(t, shop, `{"sku":"hand-grinder","quantity":1,"scenario":"fanout"}`, http.Header{"Traceparent": {header}}); status != 201 {
		t.Fatalf("fanout checkout = %d", status)
	}
	spans := traceSpans(t, rec, traceID, 30)
	tr := newTree(spans)
	var price span
	for _, s := range spans {
		if s.Name() == "price lookup" {
			price = s
		}
	}
	if price.ReadOnlySpan == nil {
		t.Fatal("no price lookup span")
	}
	var lookups []span
	for _, c := range tr.children[price.SpanContext().SpanID()] {
		if c.SpanKind() == trace.SpanKindClient && strings.Contains(c.attr("url.full"), "/products/") {
			lookups = append(lookups, c)
		}
	}
	if len(lookups) != 5 {
		t.Fatalf("price lookup has %d product lookups under it; want 5", len(lookups))
	}
	overlap := false
	for i := range lookups {
		for j := range i {
			overlap = overlap || (lookups[i].StartTime().Before(lookups[j].EndTime()) && lookups[j].StartTime().Before(lookups[i].EndTime()))
		}
	}
	if !overlap {
		t.Error("no two fan-out lookups overlap in time: they did not run concurrently")
	}
}

// A client that leaves during inventory's slow wait leaves SERVER and business spans that say so, none
// marked as an error. The gateway's CLIENT span of the call it then cancels is marked by otelhttp,
// which records every cancelled round trip as an error; the RED dashboards count SERVER spans.
func TestClientGoneIsNotAnErrorInSpans(t *testing.T) {
	shop, rec := recordedShop(t)
	header, traceID := traceparent.New()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond) // inventory waits 300 ms
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, shop.URL["gateway"]+"/api/checkout",
		strings.NewReader(`{"sku":"ceramic-mug","quantity":1,"scenario":"slow"}`))
	req.Header.Set("Content-Type", jsonType)
	req.Header.Set("Traceparent", header)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the checkout answered %d before the client left", resp.StatusCode)
	}
	spans := traceSpans(t, rec, traceID, 6)
	var server span
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindClient && s.Status().Code == codes.Error {
			t.Errorf("%s has status Error %q: the client left, the server did not fail", s, s.Status().Description)
		}
		if s.service == "gateway" && s.SpanKind() == trace.SpanKindServer {
			server = s
		}
	}
	if server.ReadOnlySpan == nil || server.attr("http.status_code") != "499" {
		t.Errorf("the gateway's SERVER span = %v; want http.status_code 499", server)
	}
}
