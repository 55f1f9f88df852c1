package gateway

import (
	"net/http"

	"github.com/zerocodelab/lab/services/internal/api"
	"github.com/zerocodelab/lab/services/internal/apierror"
)

// The gateway checks what its upstreams answer before acting on it: a catalog answering null or a
// price of 0 must not lead to a reservation that no order will ever confirm.

func validProduct(p api.Product, sku string) error {
	if p.SKU != sku || p.PriceCents < 1 || p.PriceCents > api.MaxPriceCents {
		return apierror.Newf(http.StatusBadGateway, "upstream_error",
			"catalog answered an unusable product for %q (sku %q, price %d cents)", sku, p.SKU, p.PriceCents)
	}
	return nil
}

func validReservation(r api.Reservation, req checkout) error {
	if r.ReservationID != req.IdempotencyKey || r.SKU != req.SKU || r.Quantity != req.Quantity ||
		(r.State != api.Held && r.State != api.Confirmed) || r.Hold < 1 {
		return apierror.Newf(http.StatusBadGateway, "upstream_error",
			"inventory answered a reservation that is not the one asked for (%q, %d x %s, %s)", r.ReservationID, r.Quantity, r.SKU, r.State)
	}
	return nil
}

func validOrder(o api.Order, req checkout) error {
	if o.OrderID < 1 || o.IdempotencyKey != req.IdempotencyKey || o.SKU != req.SKU || o.Quantity != req.Quantity {
		return apierror.Newf(http.StatusBadGateway, "upstream_error",
			"orders answered an order that is not the one asked for (%d: %q, %d x %s)", o.OrderID, o.IdempotencyKey, o.Quantity, o.SKU)
	}
	return nil
}
