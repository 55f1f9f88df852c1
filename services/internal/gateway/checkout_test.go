package gateway

import (
	"errors"
	"strings"
	"testing"

	"github.com/zerocodelab/lab/services/internal/api"
	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/scenario"
)

func TestDecodeCheckout(t *testing.T) {
	got, err := decodeCheckout("application/json", strings.NewReader(`{"sku":"ceramic-mug","quantity":3,"scenario":"slow","idempotency_key":"k-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (checkout{SKU: "ceramic-mug", Quantity: 3, Scenario: scenario.Slow, IdempotencyKey: "k-1"}); got != want {
		t.Fatalf("decodeCheckout = %+v; want %+v", got, want)
	}

	a, err := decodeCheckout("application/json", strings.NewReader(`{"sku":"ceramic-mug","quantity":1}`))
	b, err2 := decodeCheckout("application/json", strings.NewReader(`{"sku":"ceramic-mug","quantity":1}`))
	if err != nil || err2 != nil || a.Scenario != scenario.Normal || !api.ValidKey(a.IdempotencyKey) || a.IdempotencyKey == b.IdempotencyKey {
		t.Fatalf("defaults: %+v %v, %+v %v; want scenario normal and a fresh valid key each time", a, err, b, err2)
	}
}

// FuzzDecodeCheckout: whatever arrives, decoding answers a valid checkout or a 4xx error, never a panic.
func FuzzDecodeCheckout(f *testing.F) {
	for _, seed := range []string{
		`{"sku":"ceramic-mug","quantity":3,"scenario":"slow","idempotency_key":"k-1"}`,
		`{"sku":"ceramic-mug","quantity":0}`,
		`{"sku":"","quantity":1001,"scenario":"chaos"}`,
		`{"sku":null,"quantity":null}`,
		`{"quantity":1e400}`,
		`[]`, `null`, `{"sku":"a"}{"sku":"b"}`, "\x00\xff", `{"sku":"\u00e9","quantity":1}`,
	} {
		f.Add("application/json", seed)
	}
	f.Add("text/plain", `{"sku":"ceramic-mug","quantity":1}`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		got, err := decodeCheckout(contentType, strings.NewReader(body))
		if err != nil {
			var apiErr *apierror.Error
			if !errors.As(err, &apiErr) || apiErr.Status < 400 || apiErr.Status > 499 || apiErr.Code == "" || apiErr.Message == "" {
				t.Fatalf("decodeCheckout(%q, %q) = %v; want a 4xx *apierror.Error", contentType, body, err)
			}
			return
		}
		if !api.ValidSKU(got.SKU) || got.Quantity < 1 || got.Quantity > api.MaxQuantity || !api.ValidKey(got.IdempotencyKey) {
			t.Fatalf("decodeCheckout(%q, %q) accepted an invalid checkout %+v", contentType, body, got)
		}
		if _, err := scenario.Parse(string(got.Scenario)); err != nil || got.Scenario == "" {
			t.Fatalf("decodeCheckout(%q, %q) accepted scenario %q", contentType, body, got.Scenario)
		}
	})
}
