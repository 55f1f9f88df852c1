// Package inventory is the service that keeps stock and reserves it for checkouts.
package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerocodelab/lab/services/internal/api"
	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/scenario"
	"github.com/zerocodelab/lab/services/internal/server"
	"github.com/zerocodelab/lab/services/internal/store"
	"github.com/zerocodelab/lab/services/internal/telemetry"
)

// Schema creates the stock and reservations tables and seeds the stock once. The stock is large so
// that a load generator running for days does not turn every checkout into out_of_stock.
const Schema = `
CREATE TABLE IF NOT EXISTS stock (
	sku       TEXT PRIMARY KEY,
	available INTEGER NOT NULL CHECK (available >= 0)
);
CREATE TABLE IF NOT EXISTS reservations (
	reservation_id TEXT PRIMARY KEY,
	sku            TEXT NOT NULL REFERENCES stock (sku),
	quantity       INTEGER NOT NULL CHECK (quantity > 0),
	created_at     TEXT NOT NULL
);
INSERT OR IGNORE INTO stock (sku, available) VALUES
	('espresso-beans', 1000000), ('pour-over-kettle', 1000000), ('ceramic-mug', 1000000),
	('hand-grinder', 1000000), ('paper-filters', 1000000);
`

// SlowDelay is how long a reservation sleeps in the slow scenario.
const SlowDelay = 300 * time.Millisecond

// Service answers inventory's routes.
type Service struct {
	db           *store.DB
	tel          *telemetry.Telemetry
	reservations *prometheus.CounterVec
}

// New returns the inventory service over db.
func New(db *store.DB, tel *telemetry.Telemetry, reg prometheus.Registerer) *Service {
	s := &Service{
		db:  db,
		tel: tel,
		reservations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_stock_reservations_total",
			Help: "Stock reservations by outcome: reserved, replayed (same reservation_id again), out_of_stock, rejected (another 4xx), failed.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(s.reservations)
	return s
}

func (s *Service) getStock(c echo.Context) error {
	sku := c.Param("sku")
	if !api.ValidSKU(sku) {
		return apierror.Newf(http.StatusBadRequest, "invalid_sku", "%q is not a SKU (lower-case letters, digits and dashes)", sku)
	}
	st := api.Stock{SKU: sku}
	err := s.db.Get(c.Request().Context(), `SELECT available FROM stock WHERE sku = ?`, []any{sku}, &st.Available)
	if errors.Is(err, sql.ErrNoRows) {
		return apierror.Newf(http.StatusNotFound, "product_not_found", "no stock is kept for SKU %q", sku)
	}
	if err != nil {
		return fmt.Errorf("get stock of %s: %w", sku, err)
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Service) createReservation(c echo.Context) error {
	var req api.ReservationRequest
	if err := server.DecodeJSON(c.Request().Header.Get("Content-Type"), c.Request().Body, &req); err != nil {
		return err
	}
	if err := validateReservation(req); err != nil {
		return err
	}
	sc, err := scenario.FromRequest(c.Request())
	if err != nil {
		return apierror.New(http.StatusBadRequest, "unknown_scenario", err.Error())
	}
	res, replayed, err := s.reserve(c.Request().Context(), req, sc)
	s.reservations.WithLabelValues(reservationOutcome(replayed, err)).Inc()
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	return c.JSON(status, res)
}

func validateReservation(req api.ReservationRequest) error {
	switch {
	case !api.ValidKey(req.ReservationID):
		return apierror.New(http.StatusBadRequest, "invalid_field", "reservation_id must be 1-128 letters, digits, '.', '_', ':' or '-'")
	case !api.ValidSKU(req.SKU):
		return apierror.New(http.StatusBadRequest, "invalid_field", "sku must be lower-case letters, digits and dashes")
	case req.Quantity < 1 || req.Quantity > api.MaxQuantity:
		return apierror.Newf(http.StatusBadRequest, "invalid_quantity", "quantity must be between 1 and %d", api.MaxQuantity)
	}
	return nil
}

// errOutOfStock is the business refusal of a reservation.
var errOutOfStock = apierror.New(http.StatusConflict, "out_of_stock", "not enough stock for this quantity")

// reserve takes quantity off the stock of sku once per reservation id: a second call with the same id
// returns the first reservation and takes nothing more.
func (s *Service) reserve(ctx context.Context, req api.ReservationRequest, sc scenario.Name) (res api.Reservation, replayed bool, err error) {
	ctx, span := s.tel.Start(ctx, "reserve stock",
		slog.String("shop.sku", req.SKU), slog.Int64("shop.quantity", req.Quantity), slog.String("shop.scenario", string(sc)))
	defer func() { span.End(apierror.ServerFault(err)) }()

	switch sc {
	case scenario.Slow:
		span.AddEvent("slow scenario: waiting", slog.Duration("delay", SlowDelay))
		select {
		case <-time.After(SlowDelay):
		case <-ctx.Done():
			return res, false, ctx.Err()
		}
	case scenario.Error:
		return res, false, apierror.New(http.StatusInternalServerError, "simulated_failure", "the reservation store failed (scenario error)")
	case scenario.OutOfStock:
		span.AddEvent("out_of_stock scenario: refusing")
		return res, false, errOutOfStock // the scenario plays a product that has just sold out
	}

	res = api.Reservation{ReservationID: req.ReservationID, SKU: req.SKU, Quantity: req.Quantity}
	err = s.db.InTx(ctx, func(tx store.Conn) error {
		var prev api.Reservation
		err := tx.Get(ctx, `SELECT sku, quantity FROM reservations WHERE reservation_id = ?`, []any{req.ReservationID}, &prev.SKU, &prev.Quantity)
		switch {
		case err == nil:
			if prev.SKU != req.SKU || prev.Quantity != req.Quantity {
				return apierror.Newf(http.StatusConflict, "idempotency_conflict",
					"reservation %q was made for %d x %s, not %d x %s", req.ReservationID, prev.Quantity, prev.SKU, req.Quantity, req.SKU)
			}
			replayed = true
		case errors.Is(err, sql.ErrNoRows):
			if err := take(ctx, tx, req); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO reservations (reservation_id, sku, quantity, created_at) VALUES (?, ?, ?, ?)`,
				req.ReservationID, req.SKU, req.Quantity, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
				return fmt.Errorf("record reservation: %w", err)
			}
		default:
			return fmt.Errorf("look up reservation: %w", err)
		}
		return tx.Get(ctx, `SELECT available FROM stock WHERE sku = ?`, []any{req.SKU}, &res.Remaining)
	})
	if replayed {
		span.AddEvent("reservation replayed")
	}
	span.SetAttributes(slog.Int64("shop.remaining", res.Remaining))
	return res, replayed, err
}

// take lowers the stock of req.SKU by req.Quantity, or says why it cannot.
func take(ctx context.Context, tx store.Conn, req api.ReservationRequest) error {
	result, err := tx.Exec(ctx, `UPDATE stock SET available = available - ? WHERE sku = ? AND available >= ?`,
		req.Quantity, req.SKU, req.Quantity)
	if err != nil {
		return fmt.Errorf("take stock: %w", err)
	}
	if n, err := result.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var available int64
	err = tx.Get(ctx, `SELECT available FROM stock WHERE sku = ?`, []any{req.SKU}, &available)
	if errors.Is(err, sql.ErrNoRows) {
		return apierror.Newf(http.StatusNotFound, "product_not_found", "no stock is kept for SKU %q", req.SKU)
	}
	if err != nil {
		return fmt.Errorf("read stock: %w", err)
	}
	return errOutOfStock
}

func reservationOutcome(replayed bool, err error) string {
	var apiErr *apierror.Error
	switch {
	case err == nil && replayed:
		return "replayed"
	case err == nil:
		return "reserved"
	case errors.As(err, &apiErr) && apiErr.Code == "out_of_stock":
		return "out_of_stock"
	case errors.As(err, &apiErr) && apiErr.Status < 500:
		return "rejected"
	}
	return "failed"
}
