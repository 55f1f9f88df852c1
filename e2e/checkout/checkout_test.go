package checkout_test

import (
	"context"
	"io"
	"regexp"
	"testing"

	"github.com/zerocodelab/lab/e2e/checkout"
)

func TestRequestIsThePagesCheckout(t *testing.T) {
	tp := checkout.NewTraceparent()
	req, err := checkout.Request(context.Background(), "http://127.0.0.1:8080",
		checkout.Order{SKU: "ceramic-mug", Quantity: 2, Scenario: "slow", IdempotencyKey: "k-1"}, tp)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(body), `{"sku":"ceramic-mug","quantity":2,"scenario":"slow","idempotency_key":"k-1"}`; got != want {
		t.Errorf("body %s; want %s", got, want)
	}
	if req.Method != "POST" || req.URL.String() != "http://127.0.0.1:8080/api/checkout" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s, Content-Type %q", req.Method, req.URL, req.Header.Get("Content-Type"))
	}
	if !regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`).MatchString(req.Header.Get("traceparent")) ||
		req.Header.Get("traceparent") != "00-"+tp.TraceID+"-"+tp.SpanID+"-01" {
		t.Errorf("traceparent %q for %+v", req.Header.Get("traceparent"), tp)
	}
	if other := checkout.NewTraceparent(); other.TraceID == tp.TraceID {
		t.Errorf("two trace contexts share trace id %s", tp.TraceID)
	}

	// A normal checkout without key or trace context sends neither.
	req, err = checkout.Request(context.Background(), "http://gw", checkout.Order{SKU: "ceramic-mug", Quantity: 1}, checkout.Traceparent{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(req.Body)
	if string(body) != `{"sku":"ceramic-mug","quantity":1}` || req.Header.Get("traceparent") != "" {
		t.Errorf("body %s, traceparent %q", body, req.Header.Get("traceparent"))
	}
}
