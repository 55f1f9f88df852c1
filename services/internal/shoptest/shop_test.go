package shoptest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocodelab/lab/services/internal/inventory"
	"github.com/zerocodelab/lab/services/internal/telemetry"
	"github.com/zerocodelab/lab/services/internal/traceparent"
)

const jsonType = "application/json"

func TestMain(m *testing.M) {
	// In the SDK build, services started without a test recorder export nowhere rather than
	// retrying an OTLP endpoint that is not there.
	if os.Getenv("OTEL_TRACES_EXPORTER") == "" {
		os.Setenv("OTEL_TRACES_EXPORTER", "none")
	}
	os.Exit(m.Run())
}

type checkoutAnswer struct {
	OrderID    int64  `json:"order_id"`
	SKU        string `json:"sku"`
	Quantity   int64  `json:"quantity"`
	TotalCents int64  `json:"total_cents"`
	TraceID    string `json:"trace_id"`
	Error      string `json:"error"`
	Message    string `json:"message"`
}

func checkout(tb testing.TB, shop *Shop, body string, header http.Header) (int, checkoutAnswer) {
	tb.Helper()
	status, data := Post(tb, shop.URL["gateway"]+"/api/checkout", jsonType, body, header)
	var a checkoutAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		tb.Fatalf("checkout %s: answer %d is not JSON: %q", body, status, data)
	}
	return status, a
}

func stock(tb testing.TB, shop *Shop, sku string) int64 {
	tb.Helper()
	status, data := Get(tb, shop.URL["inventory"]+"/stock/"+sku)
	var st struct{ Available int64 }
	if status != 200 || json.Unmarshal(data, &st) != nil {
		tb.Fatalf("GET /stock/%s = %d %s", sku, status, data)
	}
	return st.Available
}

func countOrders(tb testing.TB, shop *Shop, key string) int {
	tb.Helper()
	return CountOrders(tb, shop.DataDir, key)
}

func TestCheckoutScenarios(t *testing.T) {
	shop := Start(t, Options{})
	tests := []struct {
		scenario string
		status   int
		code     string
	}{
		{"", 201, ""},
		{"normal", 201, ""},
		{"slow", 201, ""},
		{"fanout", 201, ""},
		{"error", 502, "upstream_error"},
		{"out_of_stock", 409, "out_of_stock"},
		{"not_found", 404, "product_not_found"},
	}
	for _, tt := range tests {
		t.Run("scenario="+tt.scenario, func(t *testing.T) {
			before := stock(t, shop, "ceramic-mug")
			start := time.Now()
			status, a := checkout(t, shop, fmt.Sprintf(`{"sku":"ceramic-mug","quantity":3,"scenario":%q}`, tt.scenario), nil)
			elapsed := time.Since(start)
			if status != tt.status || a.Error != tt.code {
				t.Fatalf("checkout = %d %q (%s); want %d %q", status, a.Error, a.Message, tt.status, tt.code)
			}
			after := stock(t, shop, "ceramic-mug")
			if tt.status == 201 {
				if a.OrderID < 1 || a.SKU != "ceramic-mug" || a.Quantity != 3 || a.TotalCents != 3*1200 {
					t.Fatalf("checkout answer = %+v", a)
				}
				if after != before-3 {
					t.Fatalf("stock went from %d to %d; want -3", before, after)
				}
			} else if after != before {
				t.Fatalf("a failed checkout changed the stock from %d to %d", before, after)
			}
			if tt.scenario == "slow" && elapsed < inventory.SlowDelay {
				t.Fatalf("slow checkout took %v; want at least %v", elapsed, inventory.SlowDelay)
			}
		})
	}
}

func TestNotFoundForUnknownProduct(t *testing.T) {
	shop := Start(t, Options{})
	status, a := checkout(t, shop, `{"sku":"tea-pot","quantity":1}`, nil)
	if status != 404 || a.Error != "product_not_found" || !strings.Contains(a.Message, "tea-pot") {
		t.Fatalf("checkout of an unknown product = %d %+v", status, a)
	}
}

func TestFanoutPricesEveryProductConcurrently(t *testing.T) {
	shop := Start(t, Options{})
	lookups := map[string]string{"method": "GET", "route": "/products/:sku"}
	lists := map[string]string{"method": "GET", "route": "/products"}
	beforeLookups, beforeLists := shop.Metric(t, "catalog", "shop_http_requests_total", lookups), shop.Metric(t, "catalog", "shop_http_requests_total", lists)

	if status, a := checkout(t, shop, `{"sku":"hand-grinder","quantity":1,"scenario":"fanout"}`, nil); status != 201 || a.TotalCents != 8900 {
		t.Fatalf("fan-out checkout = %d %+v", status, a)
	}
	if got := shop.Metric(t, "catalog", "shop_http_requests_total", lists) - beforeLists; got != 1 {
		t.Errorf("fan-out listed the catalog %v times; want 1", got)
	}
	if got := shop.Metric(t, "catalog", "shop_http_requests_total", lookups) - beforeLookups; got != 5 {
		t.Errorf("fan-out priced %v products; want all 5", got)
	}
}

func TestTraceIDComesFromTheIncomingTraceparent(t *testing.T) {
	shop := Start(t, Options{})
	header, traceID := traceparent.New()
	status, a := checkout(t, shop, `{"sku":"paper-filters","quantity":1}`, http.Header{"Traceparent": {header}})
	if status != 201 || a.TraceID != traceID {
		t.Fatalf("checkout = %d, trace_id %q; want 201 and %q", status, a.TraceID, traceID)
	}
	if !logged(shop, "gateway", `"route":"/api/checkout"`, `"trace_id":"`+traceID+`"`) {
		t.Fatalf("the gateway's access line has no trace_id %s:\n%s", traceID, strings.Join(shop.Log("gateway").Lines(), "\n"))
	}
	// The default build forwards no traceparent: linking the services is left to the agents.
	// The SDK build propagates it, so the downstream access lines carry the same trace id.
	if got := logged(shop, "orders", `"route":"/orders"`, `"trace_id":"`+traceID+`"`); got != telemetry.Enabled {
		t.Fatalf("orders logged the trace id: %v; want %v (SDK build: %v)", got, telemetry.Enabled, telemetry.Enabled)
	}

	const malformed = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
	status, a = checkout(t, shop, `{"sku":"paper-filters","quantity":1}`, http.Header{"Traceparent": {malformed}})
	if status != 201 || strings.EqualFold(a.TraceID, "4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Fatalf("a malformed traceparent was trusted: %d %+v", status, a)
	}
	if !telemetry.Enabled && a.TraceID != "" {
		t.Fatalf("without the SDK and without a valid traceparent, trace_id must be omitted; got %q", a.TraceID)
	}
}

// logged reports whether service logged a line containing every fragment.
func logged(shop *Shop, service string, fragments ...string) bool {
	for _, line := range shop.Log(service).Lines() {
		all := true
		for _, f := range fragments {
			all = all && strings.Contains(line, f)
		}
		if all {
			return true
		}
	}
	return false
}

func TestBadCheckoutsGetA4xxAndStoreNothing(t *testing.T) {
	shop := Start(t, Options{})
	before := stock(t, shop, "ceramic-mug")
	ordersBefore := shop.Metric(t, "orders", "shop_orders_total", nil)
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"malformed JSON", jsonType, `{"sku":"ceramic-mug",`, 400, "invalid_json"},
		{"not an object", jsonType, `[1,2]`, 400, "invalid_json"},
		{"two values", jsonType, `{"sku":"ceramic-mug","quantity":1}{}`, 400, "invalid_json"},
		{"empty body", jsonType, ``, 400, "invalid_json"},
		{"missing sku", jsonType, `{"quantity":1}`, 400, "missing_field"},
		{"missing quantity", jsonType, `{"sku":"ceramic-mug"}`, 400, "missing_field"},
		{"unknown field", jsonType, `{"sku":"ceramic-mug","quantity":1,"coupon":"FREE"}`, 400, "unknown_field"},
		{"quantity as string", jsonType, `{"sku":"ceramic-mug","quantity":"1"}`, 400, "invalid_field"},
		{"fractional quantity", jsonType, `{"sku":"ceramic-mug","quantity":1.5}`, 400, "invalid_field"},
		{"quantity 0", jsonType, `{"sku":"ceramic-mug","quantity":0}`, 400, "invalid_quantity"},
		{"quantity -1", jsonType, `{"sku":"ceramic-mug","quantity":-1}`, 400, "invalid_quantity"},
		{"quantity 1001", jsonType, `{"sku":"ceramic-mug","quantity":1001}`, 400, "invalid_quantity"},
		{"huge quantity", jsonType, `{"sku":"ceramic-mug","quantity":99999999999999999999}`, 400, "invalid_field"},
		{"bad sku", jsonType, `{"sku":"../etc/passwd","quantity":1}`, 400, "invalid_field"},
		{"bad idempotency key", jsonType, `{"sku":"ceramic-mug","quantity":1,"idempotency_key":"a b"}`, 400, "invalid_field"},
		{"unknown scenario", jsonType, `{"sku":"ceramic-mug","quantity":1,"scenario":"chaos"}`, 400, "unknown_scenario"},
		{"body over 64 KiB", jsonType, `{"sku":"ceramic-mug","quantity":1,"idempotency_key":"` + strings.Repeat("k", 64<<10) + `"}`, 413, "body_too_large"},
		{"form content type", "application/x-www-form-urlencoded", `sku=ceramic-mug&quantity=1`, 415, "unsupported_media_type"},
		{"no content type", "", `{"sku":"ceramic-mug","quantity":1}`, 415, "unsupported_media_type"},
		{"duplicate key", jsonType, `{"sku":"ceramic-mug","quantity":-1,"quantity":1}`, 400, "duplicate_field"},
		{"duplicate key, same value", jsonType, `{"sku":"ceramic-mug","quantity":1,"sku":"ceramic-mug"}`, 400, "duplicate_field"},
		{"key in another case", jsonType, `{"SKU":"ceramic-mug","QUANTITY":1}`, 400, "unknown_field"},
		{"one key in another case", jsonType, `{"sku":"ceramic-mug","Quantity":1}`, 400, "unknown_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, data := Post(t, shop.URL["gateway"]+"/api/checkout", tt.contentType, tt.body, nil)
			var body struct{ Error, Message string }
			if err := json.Unmarshal(data, &body); err != nil || body.Message == "" {
				t.Fatalf("answer %d is not the error body: %q", status, data)
			}
			if status != tt.status || body.Error != tt.code {
				t.Fatalf("= %d %s (%s); want %d %s", status, body.Error, body.Message, tt.status, tt.code)
			}
		})
	}
	if after := stock(t, shop, "ceramic-mug"); after != before {
		t.Errorf("bad checkouts changed the stock from %d to %d", before, after)
	}
	if after := shop.Metric(t, "orders", "shop_orders_total", nil); after != ordersBefore {
		t.Errorf("bad checkouts reached orders: %v order requests", after-ordersBefore)
	}
}

func TestBadRequestsToTheDownstreamServices(t *testing.T) {
	shop := Start(t, Options{})
	tests := []struct {
		service, method, path, body string
		header                      http.Header
		status                      int
		code                        string
	}{
		{"inventory", "POST", "/reservations", `{"reservation_id":"r1","sku":"ceramic-mug"}`, nil, 400, "invalid_quantity"},
		{"inventory", "POST", "/reservations", `{"reservation_id":"r1","sku":"ceramic-mug","quantity":1,"x":1}`, nil, 400, "unknown_field"},
		{"inventory", "POST", "/reservations", `{"reservation_id":"r2","sku":"tea-pot","quantity":1}`, nil, 404, "product_not_found"},
		{"inventory", "POST", "/reservations", `{"reservation_id":"r3","sku":"ceramic-mug","quantity":1}`, http.Header{"X-Scenario": {"chaos"}}, 400, "unknown_scenario"},
		{"inventory", "GET", "/stock/Bad_SKU", ``, nil, 400, "invalid_sku"},
		{"inventory", "GET", "/stock/tea-pot", ``, nil, 404, "product_not_found"},
		{"inventory", "POST", "/reservations", `{"reservation_id":"r4","reservation_id":"r5","sku":"ceramic-mug","quantity":1}`, nil, 400, "duplicate_field"},
		{"inventory", "POST", "/reservations", `{"Reservation_ID":"r4","sku":"ceramic-mug","quantity":1}`, nil, 400, "unknown_field"},
		{"inventory", "POST", "/reservations/nope/confirm", ``, nil, 404, "reservation_not_found"},
		{"inventory", "POST", "/reservations/" + strings.Repeat("k", 129) + "/confirm", ``, nil, 400, "invalid_reservation_id"},
		{"orders", "POST", "/orders", `{"idempotency_key":"k","sku":"ceramic-mug","quantity":1}`, nil, 400, "invalid_field"},
		{"orders", "POST", "/orders", `{"idempotency_key":"k","sku":"ceramic-mug","quantity":1,"unit_price_cents":100}`, nil, 400, "missing_field"},
		{"orders", "POST", "/orders", `{"idempotency_key":"k","sku":"ceramic-mug","quantity":1,"unit_price_cents":100,"hold":"one"}`, nil, 400, "invalid_field"},
		{"orders", "POST", "/orders", `{"idempotency_key":"k","idempotency_key":"k","sku":"ceramic-mug","quantity":1}`, nil, 400, "duplicate_field"},
		{"orders", "POST", "/orders/voids", `{"idempotency_key":"k"}`, nil, 400, "invalid_field"},
		{"orders", "POST", "/orders/voids", `{"idempotency_key":"a b","hold":1}`, nil, 400, "invalid_field"},
		{"orders", "POST", "/orders/voids", `{"Idempotency_Key":"k","hold":1}`, nil, 400, "unknown_field"},
		{"inventory", "POST", "/reservations/nope/release", `{}`, nil, 400, "invalid_field"},
		{"inventory", "POST", "/reservations/nope/release", `{"hold":1}`, nil, 404, "reservation_not_found"},
		{"catalog", "GET", "/products/NOPE", ``, nil, 400, "invalid_sku"},
		{"catalog", "GET", "/nowhere", ``, nil, 404, "route_not_found"},
		{"catalog", "DELETE", "/products", ``, nil, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.service+" "+tt.method+" "+tt.path, func(t *testing.T) {
			var status int
			var data []byte
			if tt.method == "POST" {
				status, data = Post(t, shop.URL[tt.service]+tt.path, jsonType, tt.body, tt.header)
			} else {
				req, _ := http.NewRequest(tt.method, shop.URL[tt.service]+tt.path, nil)
				status, data = do(t, req)
			}
			var body struct{ Error, Message string }
			if err := json.Unmarshal(data, &body); err != nil || status != tt.status || body.Error != tt.code || body.Message == "" {
				t.Fatalf("= %d %s; want %d %s", status, data, tt.status, tt.code)
			}
		})
	}
}

func TestUnreachableUpstreamIs502NamingIt(t *testing.T) {
	shop := Start(t, Options{})
	dead := "http://" + FreeAddr(t) // nothing listens there

	for _, down := range []string{"catalog", "inventory", "orders"} {
		t.Run(down+" down", func(t *testing.T) {
			gw := shop.StartGateway(t, map[string]string{strings.ToUpper(down) + "_URL": dead})
			before := stock(t, shop, "ceramic-mug")
			status, data := Post(t, gw+"/api/checkout", jsonType, `{"sku":"ceramic-mug","quantity":1}`, nil)
			var body struct{ Error, Message string }
			if json.Unmarshal(data, &body) != nil || status != 502 || body.Error != "upstream_unreachable" || !strings.Contains(body.Message, down) {
				t.Fatalf("checkout with %s down = %d %s; want 502 upstream_unreachable naming %s", down, status, data, down)
			}
			// With orders down the stock was reserved, then released: nothing is held for an order that
			// could not be stored.
			if after := stock(t, shop, "ceramic-mug"); after != before {
				t.Fatalf("checkout with %s down changed the stock from %d to %d", down, before, after)
			}
		})
	}
}

func TestSameIdempotencyKeyStoresOneOrder(t *testing.T) {
	shop := Start(t, Options{})
	before := stock(t, shop, "espresso-beans")
	body := `{"sku":"espresso-beans","quantity":2,"idempotency_key":"retry-1"}`
	s1, a1 := checkout(t, shop, body, nil)
	s2, a2 := checkout(t, shop, body, nil)
	a2.TraceID = a1.TraceID // each request is its own trace in the SDK build
	if s1 != 201 || s2 != 201 || a1 != a2 {
		t.Fatalf("two checkouts with one key answered %d %+v and %d %+v; want the same 201 twice", s1, a1, s2, a2)
	}
	if n := countOrders(t, shop, "retry-1"); n != 1 {
		t.Fatalf("%d orders stored for one key; want 1", n)
	}
	if after := stock(t, shop, "espresso-beans"); after != before-2 {
		t.Fatalf("stock went from %d to %d; want the 2 taken once", before, after)
	}
	// The key belongs to that order: another order under it is refused, not stored.
	if status, a := checkout(t, shop, `{"sku":"espresso-beans","quantity":5,"idempotency_key":"retry-1"}`, nil); status != 409 || a.Error != "idempotency_conflict" {
		t.Fatalf("reusing the key for another quantity = %d %+v; want 409 idempotency_conflict", status, a)
	}
}

func TestConcurrentCheckoutsWithOneKeyStoreOneOrder(t *testing.T) {
	shop := Start(t, Options{})
	before := stock(t, shop, "pour-over-kettle")
	const n = 200
	answers := make([]checkoutAnswer, n)
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			var data []byte
			statuses[i], data, errs[i] = Send(shop.URL["gateway"]+"/api/checkout", jsonType,
				`{"sku":"pour-over-kettle","quantity":1,"idempotency_key":"race-1","scenario":"fanout"}`, nil)
			if errs[i] == nil {
				errs[i] = json.Unmarshal(data, &answers[i])
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("checkout %d: %v", i, errs[i])
		}
		answers[i].TraceID = answers[0].TraceID // each request is its own trace in the SDK build
		if statuses[i] != 201 || answers[i] != answers[0] {
			t.Fatalf("answer %d = %d %+v; want 201 %+v like the first", i, statuses[i], answers[i], answers[0])
		}
	}
	if got := countOrders(t, shop, "race-1"); got != 1 {
		t.Fatalf("%d orders stored for one key; want 1", got)
	}
	if after := stock(t, shop, "pour-over-kettle"); after != before-1 {
		t.Fatalf("stock went from %d to %d; want 1 taken once", before, after)
	}
}

func TestDataSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	var orderID int64
	var stockLeft int64
	t.Run("first run", func(t *testing.T) {
		shop := Start(t, Options{DataDir: dir})
		status, a := checkout(t, shop, `{"sku":"hand-grinder","quantity":7}`, nil)
		if status != 201 {
			t.Fatalf("checkout = %d %+v", status, a)
		}
		orderID, stockLeft = a.OrderID, stock(t, shop, "hand-grinder")
	})
	t.Run("second run", func(t *testing.T) {
		shop := Start(t, Options{DataDir: dir})
		status, data := Get(t, fmt.Sprintf("%s/orders/%d", shop.URL["orders"], orderID))
		if status != 200 || !strings.Contains(string(data), `"quantity":7`) {
			t.Fatalf("order %d after a restart = %d %s", orderID, status, data)
		}
		if got := stock(t, shop, "hand-grinder"); got != stockLeft {
			t.Fatalf("stock after a restart = %d; want %d (the seed must not land twice)", got, stockLeft)
		}
		status, data = Get(t, shop.URL["catalog"]+"/products")
		if status != 200 || strings.Count(string(data), `"sku"`) != 5 {
			t.Fatalf("products after a restart = %d %s; want the 5 seeded once", status, data)
		}
	})
}

func TestEveryServiceIsHealthyAndExportsMetrics(t *testing.T) {
	shop := Start(t, Options{})
	for service, url := range shop.URL {
		if status, data := Get(t, url+"/healthz"); status != 200 || !strings.Contains(string(data), `"ok"`) {
			t.Errorf("%s /healthz = %d %s", service, status, data)
		}
	}
	checkout(t, shop, `{"sku":"ceramic-mug","quantity":1}`, nil)
	checkout(t, shop, `{"sku":"ceramic-mug","quantity":1,"scenario":"out_of_stock"}`, nil)
	want := []struct {
		service, name string
		labels        map[string]string
		want          float64
	}{
		{"gateway", "shop_http_requests_total", map[string]string{"method": "POST", "route": "/api/checkout", "status": "201"}, 1},
		{"gateway", "shop_http_request_duration_seconds", map[string]string{"method": "POST", "route": "/api/checkout"}, 2},
		{"gateway", "shop_checkouts_total", map[string]string{"scenario": "normal", "outcome": "ok"}, 1},
		{"gateway", "shop_checkouts_total", map[string]string{"scenario": "out_of_stock", "outcome": "out_of_stock"}, 1},
		{"catalog", "shop_product_lookups_total", map[string]string{"outcome": "found"}, 2},
		{"inventory", "shop_stock_reservations_total", map[string]string{"outcome": "reserved"}, 1},
		{"inventory", "shop_stock_reservations_total", map[string]string{"outcome": "out_of_stock"}, 1},
		{"inventory", "shop_http_requests_total", map[string]string{"route": "/reservations", "status": "409"}, 1},
		{"orders", "shop_orders_total", map[string]string{"outcome": "created"}, 1},
	}
	for _, w := range want {
		if got := shop.Metric(t, w.service, w.name, w.labels); got != w.want {
			t.Errorf("%s %s%v = %v; want %v", w.service, w.name, w.labels, got, w.want)
		}
	}
}
