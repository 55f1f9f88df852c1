// Package checkout builds the shop's checkout request, POST /api/checkout with its JSON body, the way
// the shop's page sends it: the one place the lab's tools (the bench, the comparison, the native and
// compose runs) write it.
package checkout

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// Order is what a checkout asks for: the body of POST /api/checkout.
type Order struct {
	SKU            string `json:"sku"`
	Quantity       int    `json:"quantity"`
	Scenario       string `json:"scenario,omitempty"`        // empty: normal
	IdempotencyKey string `json:"idempotency_key,omitempty"` // empty: none
}

// Request builds the checkout of o at gateway, the gateway's base URL. A traceparent that is not zero
// starts the request's trace, as the page's does.
func Request(ctx context.Context, gateway string, o Order, tp Traceparent) (*http.Request, error) {
	body, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/api/checkout", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tp != (Traceparent{}) {
		req.Header.Set("traceparent", tp.String())
	}
	return req, nil
}

// Traceparent is a W3C trace context a client starts: the gateway's SERVER span is a child of SpanID
// in trace TraceID, both in hex.
type Traceparent struct {
	TraceID, SpanID string
}

// NewTraceparent returns a fresh, random trace context.
func NewTraceparent() Traceparent {
	var b [24]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return Traceparent{TraceID: hex.EncodeToString(b[:16]), SpanID: hex.EncodeToString(b[16:])}
}

// String is the traceparent header, sampled.
func (t Traceparent) String() string { return "00-" + t.TraceID + "-" + t.SpanID + "-01" }
