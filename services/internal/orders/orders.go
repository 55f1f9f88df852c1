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

// Schema creates the orders table and the reservation holds voided by inventory's expiry sweep. The
// UNIQUE idempotency key is what stores an order exactly once, even when two requests with the same
// key race; a voided hold is what refuses an order whose stock inventory has given back.
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
CREATE TABLE IF NOT EXISTS voided_holds (
	idempotency_key TEXT NOT NULL,
	hold            INTEGER NOT NULL,
	voided_at       TEXT NOT NULL,
	PRIMARY KEY (idempotency_key, hold)
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
	case req.Hold < 1:
		return apierror.New(http.StatusBadRequest, "missing_field", `field "hold" is required: the stock reservation's hold, from inventory`)
	}
	return nil
}

// errReservationExpired refuses a new order whose reservation hold inventory has voided: that stock
// has gone back.
var errReservationExpired = apierror.New(http.StatusConflict, "reservation_expired",
	"the stock reservation of this checkout expired before its order was stored; checking out again reserves anew")

// store inserts the order unless its idempotency key is known, and returns the stored order either way.
// A new order is refused if its reservation hold has been voided. One transaction checks and inserts,
// so a void (which runs in a transaction too) either comes first and refuses the order, or comes after
// and finds it.
func (s *Service) store(ctx context.Context, req api.OrderRequest) (order api.Order, replayed bool, err error) {
	ctx, span := s.tel.Start(ctx, "store order",
		slog.String("shop.sku", req.SKU), slog.Int64("shop.quantity", req.Quantity), slog.Int64("shop.hold", req.Hold))
	defer func() { span.End(apierror.ServerFault(err)) }()

	err = s.db.InTx(ctx, func(tx store.Conn) error {
		var found bool
		order, found, err = findByKey(ctx, tx, req.IdempotencyKey)
		switch {
		case err != nil:
			return err
		case found:
			replayed = true
			return nil
		}
		var voided int
		err = tx.Get(ctx, `SELECT count(*) FROM voided_holds WHERE idempotency_key = ? AND hold = ?`, []any{req.IdempotencyKey, req.Hold}, &voided)
		if err != nil {
			return fmt.Errorf("look up voided hold: %w", err)
		}
		if voided > 0 {
			span.AddEvent("reservation hold voided")
			return errReservationExpired
		}
		order = api.Order{IdempotencyKey: req.IdempotencyKey, SKU: req.SKU, Quantity: req.Quantity, UnitPriceCents: req.UnitPriceCents,
			TotalCents: req.Quantity * req.UnitPriceCents, CreatedAt: time.Now().UTC().Format(time.RFC3339Nano)}
		result, err := tx.Exec(ctx,
			`INSERT INTO orders (idempotency_key, sku, quantity, unit_price_cents, total_cents, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			order.IdempotencyKey, order.SKU, order.Quantity, order.UnitPriceCents, order.TotalCents, order.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		order.OrderID, err = result.LastInsertId()
		return err
	})
	if err != nil {
		return api.Order{}, false, err
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

// findByKey reads the order of an idempotency key; found is false when there is none.
func findByKey(ctx context.Context, tx store.Conn, key string) (o api.Order, found bool, err error) {
	err = tx.Get(ctx,
		`SELECT order_id, idempotency_key, sku, quantity, unit_price_cents, total_cents, created_at FROM orders WHERE idempotency_key = ?`,
		[]any{key}, &o.OrderID, &o.IdempotencyKey, &o.SKU, &o.Quantity, &o.UnitPriceCents, &o.TotalCents, &o.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return o, false, nil
	}
	if err != nil {
		return o, false, fmt.Errorf("read order %q: %w", key, err)
	}
	return o, true, nil
}

func (s *Service) voidHold(c echo.Context) error {
	var req api.VoidRequest
	if err := server.DecodeJSON(c.Request().Header.Get("Content-Type"), c.Request().Body, &req); err != nil {
		return err
	}
	switch {
	case !api.ValidKey(req.IdempotencyKey):
		return apierror.New(http.StatusBadRequest, "invalid_field", "idempotency_key must be 1-128 letters, digits, '.', '_', ':' or '-'")
	case req.Hold < 1:
		return apierror.New(http.StatusBadRequest, "invalid_field", "hold must be a positive integer")
	}
	res, err := s.void(c.Request().Context(), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// void answers the order of req's key if one exists, and otherwise voids req's hold for good.
func (s *Service) void(ctx context.Context, req api.VoidRequest) (res api.VoidResult, err error) {
	ctx, span := s.tel.Start(ctx, "void reservation hold", slog.Int64("shop.hold", req.Hold))
	defer func() { span.End(apierror.ServerFault(err)) }()

	res = api.VoidResult{IdempotencyKey: req.IdempotencyKey, Hold: req.Hold}
	err = s.db.InTx(ctx, func(tx store.Conn) error {
		order, found, err := findByKey(ctx, tx, req.IdempotencyKey)
		if err != nil || found {
			res.Order = &order
			return err
		}
		res.Voided = true
		_, err = tx.Exec(ctx, `INSERT OR IGNORE INTO voided_holds (idempotency_key, hold, voided_at) VALUES (?, ?, ?)`,
			req.IdempotencyKey, req.Hold, time.Now().UTC().Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("void hold: %w", err)
		}
		return nil
	})
	if err != nil {
		return api.VoidResult{}, err
	}
	span.SetAttributes(slog.Bool("shop.voided", res.Voided))
	return res, nil
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

func isClientError(err error) bool {
	var apiErr *apierror.Error
	return errors.As(err, &apiErr) && apiErr.Status < 500
}
