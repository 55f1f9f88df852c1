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

	"github.com/zerocodelab/lab/services/internal/api"
	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/scenario"
	"github.com/zerocodelab/lab/services/internal/server"
	"github.com/zerocodelab/lab/services/internal/store"
)

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
	res, err := s.reserve(c.Request().Context(), req, sc)
	s.reservations.WithLabelValues(reservationOutcome(res, err)).Inc()
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Taken {
		status = http.StatusCreated
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

// reserve takes quantity off the stock of sku once per reservation id and holds it for the TTL.
// Called again with the same id it takes nothing more: it answers the reservation as it is, renewing
// the hold of one whose time ran out before anyone released it. Only a released reservation takes its
// stock again.
func (s *Service) reserve(ctx context.Context, req api.ReservationRequest, sc scenario.Name) (res api.Reservation, err error) {
	ctx, span := s.tel.Start(ctx, "reserve stock",
		slog.String("shop.sku", req.SKU), slog.Int64("shop.quantity", req.Quantity), slog.String("shop.scenario", string(sc)))
	defer func() { span.End(apierror.ServerFault(err)) }()

	switch sc {
	case scenario.Slow:
		span.AddEvent("slow scenario: waiting", slog.Duration("delay", SlowDelay))
		select {
		case <-time.After(SlowDelay):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	case scenario.Error:
		return res, apierror.New(http.StatusInternalServerError, "simulated_failure", "the reservation store failed (scenario error)")
	case scenario.OutOfStock:
		span.AddEvent("out_of_stock scenario: refusing")
		return res, errOutOfStock // the scenario plays a product that has just sold out
	}

	now := time.Now()
	// Kept in milliseconds, as the database keeps it, so that the sweep can compare the two.
	until := time.UnixMilli(now.Add(s.ttl).UnixMilli())
	err = s.db.InTx(ctx, func(tx store.Conn) error {
		prev, found, err := find(ctx, tx, req.ReservationID)
		if err != nil {
			return err
		}
		if found && (prev.SKU != req.SKU || prev.Quantity != req.Quantity) {
			return apierror.Newf(http.StatusConflict, "idempotency_conflict",
				"reservation %q was made for %d x %s, not %d x %s", req.ReservationID, prev.Quantity, prev.SKU, req.Quantity, req.SKU)
		}
		res = prev
		switch {
		case !found:
			res = api.Reservation{ReservationID: req.ReservationID, SKU: req.SKU, Quantity: req.Quantity, State: api.Held, Hold: 1, ExpiresAt: until, Taken: true}
			if err := take(ctx, tx, req); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO reservations (reservation_id, sku, quantity, state, hold, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				req.ReservationID, req.SKU, req.Quantity, api.Held, res.Hold, res.ExpiresAt.UnixMilli(), now.UTC().Format(time.RFC3339Nano)); err != nil {
				return fmt.Errorf("record reservation: %w", err)
			}
		case prev.State == api.Released:
			if err := take(ctx, tx, req); err != nil {
				return err
			}
			res.State, res.Hold, res.ExpiresAt, res.Taken = api.Held, res.Hold+1, until, true
			if err := setState(ctx, tx, res); err != nil {
				return err
			}
		case prev.State == api.Held && !now.Before(prev.ExpiresAt):
			// Its time ran out but the stock is still taken: hold it anew rather than take it twice.
			res.Hold, res.ExpiresAt = res.Hold+1, until
			if err := setState(ctx, tx, res); err != nil {
				return err
			}
		}
		return tx.Get(ctx, `SELECT available FROM stock WHERE sku = ?`, []any{req.SKU}, &res.Remaining)
	})
	if err != nil {
		return api.Reservation{}, err
	}
	if res.State == api.Held {
		s.held.put(res.ReservationID, res.Hold, res.ExpiresAt)
	}
	if !res.Taken {
		span.AddEvent("reservation replayed", slog.String("shop.reservation_state", string(res.State)))
	}
	span.SetAttributes(slog.Int64("shop.remaining", res.Remaining))
	return res, nil
}

// find reads a reservation; found is false when there is none.
func find(ctx context.Context, tx store.Conn, id string) (res api.Reservation, found bool, err error) {
	var expiresAt int64
	err = tx.Get(ctx, `SELECT sku, quantity, state, hold, expires_at FROM reservations WHERE reservation_id = ?`, []any{id},
		&res.SKU, &res.Quantity, &res.State, &res.Hold, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return res, false, nil
	}
	if err != nil {
		return res, false, fmt.Errorf("look up reservation %q: %w", id, err)
	}
	res.ReservationID, res.ExpiresAt = id, time.UnixMilli(expiresAt)
	return res, true, nil
}

// setState writes a reservation's state, hold and expiry.
func setState(ctx context.Context, tx store.Conn, res api.Reservation) error {
	_, err := tx.Exec(ctx, `UPDATE reservations SET state = ?, hold = ?, expires_at = ? WHERE reservation_id = ?`,
		res.State, res.Hold, res.ExpiresAt.UnixMilli(), res.ReservationID)
	if err != nil {
		return fmt.Errorf("update reservation %q: %w", res.ReservationID, err)
	}
	return nil
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

func reservationOutcome(res api.Reservation, err error) string {
	var apiErr *apierror.Error
	switch {
	case err == nil && !res.Taken:
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

func (s *Service) confirmReservation(c echo.Context) error {
	return s.settleRoute(c, api.Confirmed, 0)
}

func (s *Service) releaseReservation(c echo.Context) error {
	var req api.ReleaseRequest
	if err := server.DecodeJSON(c.Request().Header.Get("Content-Type"), c.Request().Body, &req); err != nil {
		return err
	}
	if req.Hold < 1 {
		return apierror.New(http.StatusBadRequest, "invalid_field", `field "hold" must be the positive hold number the reservation was answered with`)
	}
	return s.settleRoute(c, api.Released, req.Hold)
}

// settleRoute answers POST /reservations/:id/confirm and /release. Both are idempotent. A confirm
// needs no hold: it comes once the order is stored, whichever hold the stock is under.
func (s *Service) settleRoute(c echo.Context, to api.ReservationState, hold int64) error {
	id := c.Param("id")
	if !api.ValidKey(id) {
		return apierror.Newf(http.StatusBadRequest, "invalid_reservation_id", "%q is not a reservation id (1-128 letters, digits, '.', '_', ':' or '-')", id)
	}
	res, changed, err := s.settle(c.Request().Context(), id, to, hold)
	if err != nil {
		return err
	}
	if changed {
		s.settled.WithLabelValues(string(to)).Inc()
	}
	return c.JSON(http.StatusOK, res)
}

// settle moves a held reservation to confirmed (an order holds its stock) or released (the stock goes
// back). Settling again the same way answers the reservation as it is; a confirmed reservation is never
// released, nor a released one confirmed. With a non-zero hold, only that hold is settled: a retry may
// have renewed the reservation meanwhile (errRenewed). changed says whether this call settled it.
func (s *Service) settle(ctx context.Context, id string, to api.ReservationState, hold int64) (res api.Reservation, changed bool, err error) {
	verb := map[api.ReservationState]string{api.Confirmed: "confirm", api.Released: "release"}[to]
	ctx, span := s.tel.Start(ctx, verb+" reservation", slog.String("shop.reservation_id", id))
	defer func() { span.End(apierror.ServerFault(err)) }()

	err = s.db.InTx(ctx, func(tx store.Conn) error {
		var found bool
		res, found, err = find(ctx, tx, id)
		switch {
		case err != nil:
			return err
		case !found:
			return apierror.Newf(http.StatusNotFound, "reservation_not_found", "no reservation %q", id)
		case res.State == to:
			return tx.Get(ctx, `SELECT available FROM stock WHERE sku = ?`, []any{res.SKU}, &res.Remaining)
		case res.State != api.Held:
			return apierror.Newf(http.StatusConflict, "reservation_"+string(res.State), "reservation %q is %s: it cannot be %s", id, res.State, to)
		case hold != 0 && res.Hold != hold:
			return errRenewed
		}
		if to == api.Released {
			if _, err := tx.Exec(ctx, `UPDATE stock SET available = available + ? WHERE sku = ?`, res.Quantity, res.SKU); err != nil {
				return fmt.Errorf("return stock of %q: %w", id, err)
			}
		}
		res.State, changed = to, true
		if err := setState(ctx, tx, res); err != nil {
			return err
		}
		return tx.Get(ctx, `SELECT available FROM stock WHERE sku = ?`, []any{res.SKU}, &res.Remaining)
	})
	if err != nil {
		return api.Reservation{}, false, err
	}
	s.held.remove(id, res.Hold)
	span.SetAttributes(slog.String("shop.reservation_state", string(res.State)), slog.Bool("shop.changed", changed))
	return res, changed, nil
}

// errRenewed says that the hold to settle is no longer the reservation's: a retry renewed it.
var errRenewed = apierror.New(http.StatusConflict, "reservation_renewed", "the reservation has been held anew since that hold")
