package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"

	"github.com/zerocodelab/lab/services/internal/api"
	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/scenario"
	"github.com/zerocodelab/lab/services/internal/server"
)

// checkoutRequest is the body of POST /api/checkout as it arrives. Pointers tell a missing field
// from a zero one.
type checkoutRequest struct {
	SKU            *string `json:"sku"`
	Quantity       *int64  `json:"quantity"`
	Scenario       string  `json:"scenario"`
	IdempotencyKey string  `json:"idempotency_key"`
}

// checkout is a validated checkout request.
type checkout struct {
	SKU            string
	Quantity       int64
	Scenario       scenario.Name
	IdempotencyKey string
}

// decodeCheckout decodes and validates a checkout body. Every failure is a 4xx *apierror.Error.
// scenario defaults to normal; without an idempotency_key the checkout gets a fresh one and so is
// not protected against retries.
func decodeCheckout(contentType string, body io.Reader) (checkout, error) {
	var req checkoutRequest
	if err := server.DecodeJSON(contentType, body, &req); err != nil {
		return checkout{}, err
	}
	switch {
	case req.SKU == nil:
		return checkout{}, apierror.New(http.StatusBadRequest, "missing_field", `field "sku" is required`)
	case !api.ValidSKU(*req.SKU):
		return checkout{}, apierror.Newf(http.StatusBadRequest, "invalid_field", "sku %q is not a SKU (lower-case letters, digits and dashes)", *req.SKU)
	case req.Quantity == nil:
		return checkout{}, apierror.New(http.StatusBadRequest, "missing_field", `field "quantity" is required`)
	case *req.Quantity < 1 || *req.Quantity > api.MaxQuantity:
		return checkout{}, apierror.Newf(http.StatusBadRequest, "invalid_quantity", "quantity must be between 1 and %d, not %d", api.MaxQuantity, *req.Quantity)
	case req.IdempotencyKey != "" && !api.ValidKey(req.IdempotencyKey):
		return checkout{}, apierror.New(http.StatusBadRequest, "invalid_field", "idempotency_key must be 1-128 letters, digits, '.', '_', ':' or '-'")
	}
	sc, err := scenario.Parse(req.Scenario)
	if err != nil {
		return checkout{}, apierror.New(http.StatusBadRequest, "unknown_scenario", err.Error())
	}
	key := req.IdempotencyKey
	if key == "" {
		var b [16]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
		key = "gw-" + hex.EncodeToString(b[:])
	}
	return checkout{SKU: *req.SKU, Quantity: *req.Quantity, Scenario: sc, IdempotencyKey: key}, nil
}
