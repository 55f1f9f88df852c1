// Package orders is the service that stores orders, exactly once per idempotency key.
package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerocodelab/lab/services/internal/api"
	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/server"
	"github.com/zerocodelab/lab/services/internal/store"
	"github.com/zerocodelab/lab/services/internal/telemetry"
)

// Schema creates the orders table. The UNIQUE idempotency key is what stores an order exactly once,
// even when two requests with the same key race.
const Schema = `
CREATE TABLE IF NOT EXISTS orders (
	order_id         INTEGER PRIMARY KEY AUTOINCREMENT,
	idempotency_key  TEXT NOT NULL UNIQUE,
	sku              TEXT NOT NULL,
	quantity         INTEGER NOT NULL CHECK (quantity > 0),
	unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents > 0),
	total_cents      INTEGER NOT NULL,
	created_at       TEXT NOT NULL
);
`

// Service answers orders' routes.
type Service struct {
	db     *store.DB
	tel    *telemetry.Telemetry
	orders *prometheus.CounterVec
}

// New returns the orders service over db.
func New(db *store.DB, tel *telemetry.Telemetry, reg prometheus.Registerer) *Service {
	s := &Service{
		db:  db,
		tel: tel,
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_orders_total",
			Help: "Order requests by outcome: created, replayed (same idempotency key again), rejected, failed.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(s.orders)
	return s
}

func (s *Service) createOrder(c echo.Context) error {
	var req api.OrderRequest
	if err := server.DecodeJSON(c.Request().Header.Get("Content-Type"), c.Request().Body, &req); err != nil {
		s.orders.WithLabelValues("rejected").Inc()
		return err
	}
	if err := validateOrder(req); err != nil {
		s.orders.WithLabelValues("rejected").Inc()
		return err
	}
	order, replayed, err := s.store(c.Request().Context(), req)
	switch {
	case err != nil && isClientError(err):
		s.orders.WithLabelValues("rejected").Inc()
		return err
	case err != nil:
		s.orders.WithLabelValues("failed").Inc()
		return err
	case replayed:
		s.orders.WithLabelValues("replayed").Inc()
	default:
		s.orders.WithLabelValues("created").Inc()
	}
	// The same answer both times: a client retrying after a lost response learns the order it already has.
	return c.JSON(http.StatusCreated, order)
}

func validateOrder(req api.OrderRequest) error {
	switch {
	case !api.ValidKey(req.IdempotencyKey):
		return apierror.New(http.StatusBadRequest, "invalid_field", "idempotency_key must be 1-128 letters, digits, '.', '_', ':' or '-'")
	case !api.ValidSKU(req.SKU):
		return apierror.New(http.StatusBadRequest, "invalid_field", "sku must be lower-case letters, digits and dashes")
	case req.Quantity < 1 || req.Quantity > api.MaxQuantity:
		return apierror.Newf(http.StatusBadRequest, "invalid_quantity", "quantity must be between 1 and %d", api.MaxQuantity)
	case req.UnitPriceCents < 1 || req.UnitPriceCents > api.MaxPriceCents:
		return apierror.Newf(http.StatusBadRequest, "invalid_field", "unit_price_cents must be between 1 and %d", api.MaxPriceCents)
	case req.ReservedUntil.IsZero():
		return apierror.New(http.StatusBadRequest, "missing_field", `field "reserved_until" is required: when the order's stock reservation expires`)
	}
	return nil
}

// errReservationExpired refuses a new order whose stock reservation has expired: inventory may have
// given that stock back already, so storing the order could sell what is no longer held.
var errReservationExpired = apierror.New(http.StatusConflict, "reservation_expired",
	"the stock reservation of this checkout has expired; checking out again reserves anew")

// store inserts the order unless its idempotency key is known, and returns the stored order either way.
// A new order is stored only before its reservation expires (see errReservationExpired).
func (s *Service) store(ctx context.Context, req api.OrderRequest) (order api.Order, replayed bool, err error) {
	ctx, span := s.tel.Start(ctx, "store order",
		slog.String("shop.sku", req.SKU), slog.Int64("shop.quantity", req.Quantity))
	defer func() { span.End(apierror.ServerFault(err)) }()

	if !time.Now().Before(req.ReservedUntil) {
		order, err := s.find(ctx, "idempotency_key", req.IdempotencyKey)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			span.AddEvent("reservation expired")
			return order, false, errReservationExpired
		case err != nil:
			return order, false, fmt.Errorf("read order %q: %w", req.IdempotencyKey, err)
		}
		// Stored in time by an earlier try: answer it as any replay.
	}

	total := req.Quantity * req.UnitPriceCents
	result, err := s.db.Exec(ctx,
		`INSERT INTO orders (idempotency_key, sku, quantity, unit_price_cents, total_cents, created_at)
		 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
		req.IdempotencyKey, req.SKU, req.Quantity, req.UnitPriceCents, total, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return order, false, fmt.Errorf("insert order: %w", err)
	}
	inserted, err := result.RowsAffected()
	if err != nil {
		return order, false, fmt.Errorf("insert order: %w", err)
	}
	replayed = inserted == 0
	order, err = s.find(ctx, "idempotency_key", req.IdempotencyKey)
	if err != nil {
		return order, replayed, fmt.Errorf("read order %q: %w", req.IdempotencyKey, err)
	}
	if replayed {
		span.AddEvent("idempotency key seen before", slog.Int64("shop.order_id", order.OrderID))
		if order.SKU != req.SKU || order.Quantity != req.Quantity {
			return api.Order{}, true, apierror.Newf(http.StatusConflict, "idempotency_conflict",
				"idempotency key %q was used for %d x %s, not %d x %s", req.IdempotencyKey, order.Quantity, order.SKU, req.Quantity, req.SKU)
		}
	}
	span.SetAttributes(slog.Int64("shop.order_id", order.OrderID), slog.Bool("shop.replayed", replayed))
	return order, replayed, nil
}

// find reads the order whose column (a name from this file, never from input) equals value.
func (s *Service) find(ctx context.Context, column string, value any) (api.Order, error) {
	var o api.Order
	err := s.db.Get(ctx,
		`SELECT order_id, idempotency_key, sku, quantity, unit_price_cents, total_cents, created_at FROM orders WHERE `+column+` = ?`,
		[]any{value}, &o.OrderID, &o.IdempotencyKey, &o.SKU, &o.Quantity, &o.UnitPriceCents, &o.TotalCents, &o.CreatedAt)
	return o, err
}

func (s *Service) getOrder(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return apierror.Newf(http.StatusBadRequest, "invalid_order_id", "%q is not an order id (a positive integer)", c.Param("id"))
	}
	o, err := s.find(c.Request().Context(), "order_id", id)
	if errors.Is(err, sql.ErrNoRows) {
		return apierror.Newf(http.StatusNotFound, "order_not_found", "no order %d", id)
	}
	if err != nil {
		return fmt.Errorf("get order %d: %w", id, err)
	}
	return c.JSON(http.StatusOK, o)
}

func (s *Service) getOrderByKey(c echo.Context) error {
	key := c.Param("key")
	if !api.ValidKey(key) {
		return apierror.Newf(http.StatusBadRequest, "invalid_idempotency_key", "%q is not an idempotency key (1-128 letters, digits, '.', '_', ':' or '-')", key)
	}
	o, err := s.find(c.Request().Context(), "idempotency_key", key)
	if errors.Is(err, sql.ErrNoRows) {
		return apierror.Newf(http.StatusNotFound, "order_not_found", "no order with idempotency key %q", key)
	}
	if err != nil {
		return fmt.Errorf("get order by key %q: %w", key, err)
	}
	return c.JSON(http.StatusOK, o)
}

func isClientError(err error) bool {
	var apiErr *apierror.Error
	return errors.As(err, &apiErr) && apiErr.Status < 500
}
