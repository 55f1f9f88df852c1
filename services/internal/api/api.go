// Package api holds the JSON contracts between the services, so that each is written once for
// the side that answers and the side that asks.
package api

import (
	"regexp"
	"time"
)

// Product is a catalog entry.
type Product struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
}

// ProductList is catalog's answer to GET /products.
type ProductList struct {
	Products []Product `json:"products"`
}

// Stock is inventory's answer to GET /stock/:sku.
type Stock struct {
	SKU       string `json:"sku"`
	Available int64  `json:"available"`
}

// ReservationRequest is the body of POST /reservations. ReservationID makes the call idempotent:
// the gateway passes the checkout's idempotency key.
type ReservationRequest struct {
	ReservationID string `json:"reservation_id"`
	SKU           string `json:"sku"`
	Quantity      int64  `json:"quantity"`
}

// Reservation is inventory's answer to POST /reservations and to its confirm and release.
// A reservation is held until ExpiresAt; then, unless an order was stored for it, inventory releases it.
type Reservation struct {
	ReservationID string           `json:"reservation_id"`
	SKU           string           `json:"sku"`
	Quantity      int64            `json:"quantity"`
	State         ReservationState `json:"state"`
	// Hold counts the times the reservation took or renewed its stock. An order is stored for one hold:
	// once inventory has voided a hold at orders, no order can be stored for it any more.
	Hold      int64     `json:"hold"`
	ExpiresAt time.Time `json:"expires_at"`
	Remaining int64     `json:"remaining"`
	// Taken is true when this call took the stock: a new reservation, or a released one taken again.
	// False when it found the reservation held or confirmed: an order may already exist for it.
	Taken bool `json:"taken"`
}

// ReleaseRequest is the body of POST /reservations/:id/release: the hold the checkout got, so that a
// release cannot undo a later hold of the same reservation.
type ReleaseRequest struct {
	Hold int64 `json:"hold"`
}

// ReservationState is where a reservation is in its life.
type ReservationState string

const (
	Held      ReservationState = "held"      // stock taken, no order known yet: released at ExpiresAt
	Confirmed ReservationState = "confirmed" // an order holds this stock for good
	Released  ReservationState = "released"  // the stock went back; a retry by the same id takes it again
)

// OrderRequest is the body of POST /orders. Hold is the reservation hold the order's stock is under:
// orders refuses the order if inventory has voided that hold (see VoidRequest).
type OrderRequest struct {
	IdempotencyKey string `json:"idempotency_key"`
	SKU            string `json:"sku"`
	Quantity       int64  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	Hold           int64  `json:"hold"`
}

// VoidRequest is the body of POST /orders/voids: inventory's expiry sweep asks orders to settle, once
// and for all, whether an order exists for a reservation hold nobody confirmed. Orders answers the
// order if there is one; otherwise it voids the hold, and refuses any order for it from then on. One
// transaction decides, so the answer cannot be overtaken by an order arriving late.
type VoidRequest struct {
	IdempotencyKey string `json:"idempotency_key"`
	Hold           int64  `json:"hold"`
}

// VoidResult is orders' answer to POST /orders/voids: Voided, or the Order that exists.
type VoidResult struct {
	IdempotencyKey string `json:"idempotency_key"`
	Hold           int64  `json:"hold"`
	Voided         bool   `json:"voided"`
	Order          *Order `json:"order,omitempty"`
}

// Order is the answer of POST /orders and GET /orders/:id.
type Order struct {
	OrderID        int64  `json:"order_id"`
	IdempotencyKey string `json:"idempotency_key"`
	SKU            string `json:"sku"`
	Quantity       int64  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	TotalCents     int64  `json:"total_cents"`
	CreatedAt      string `json:"created_at"`
}

// MaxQuantity is the largest quantity one checkout may buy.
const MaxQuantity = 1000

// MaxPriceCents is the highest unit price a product may have.
const MaxPriceCents = 1_000_000_00

var (
	skuPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	keyPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
)

// ValidSKU reports whether s has the shape of a SKU: lower-case letters, digits and dashes.
func ValidSKU(s string) bool { return skuPattern.MatchString(s) }

// ValidKey reports whether s can be an idempotency key: 1-128 letters, digits, '.', '_', ':' or '-'.
func ValidKey(s string) bool { return keyPattern.MatchString(s) }
