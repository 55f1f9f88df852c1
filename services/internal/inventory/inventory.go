// Package inventory is the service that keeps stock and reserves it for checkouts.
package inventory

import (
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
	"github.com/zerocodelab/lab/services/internal/store"
	"github.com/zerocodelab/lab/services/internal/telemetry"
)

// Schema creates the stock and reservations tables and seeds the stock once. The stock is large so
// that a load generator running for days does not turn every checkout into out_of_stock.
// A reservation is held (stock taken, until expires_at, in Unix milliseconds) until its checkout
// confirms it once the order is stored, or releases it when the order cannot be stored; one never
// confirmed goes back to stock after expires_at unless orders has its order. hold counts the times it
// took or renewed its stock: orders and the sweep speak of one hold, never of a later one. The last statement stops
// the service at start, naming the column, on a database made before reservations had a state.
const Schema = `
CREATE TABLE IF NOT EXISTS stock (
	sku       TEXT PRIMARY KEY,
	available INTEGER NOT NULL CHECK (available >= 0)
);
CREATE TABLE IF NOT EXISTS reservations (
	reservation_id TEXT PRIMARY KEY,
	sku            TEXT NOT NULL REFERENCES stock (sku),
	quantity       INTEGER NOT NULL CHECK (quantity > 0),
	state          TEXT NOT NULL CHECK (state IN ('held', 'confirmed', 'released')),
	hold           INTEGER NOT NULL CHECK (hold > 0),
	expires_at     INTEGER NOT NULL,
	created_at     TEXT NOT NULL
);
INSERT OR IGNORE INTO stock (sku, available) VALUES
	('espresso-beans', 1000000), ('pour-over-kettle', 1000000), ('ceramic-mug', 1000000),
	('hand-grinder', 1000000), ('paper-filters', 1000000);
SELECT state, hold, expires_at FROM reservations LIMIT 0;
`

// SlowDelay is how long a reservation sleeps in the slow scenario.
const SlowDelay = 300 * time.Millisecond

// Service answers inventory's routes.
type Service struct {
	db           *store.DB
	tel          *telemetry.Telemetry
	logger       *slog.Logger
	ttl          time.Duration
	held         *heldSet
	reservations *prometheus.CounterVec
	settled      *prometheus.CounterVec
}

// New returns the inventory service over db; a reservation is held for ttl.
func New(db *store.DB, tel *telemetry.Telemetry, reg prometheus.Registerer, logger *slog.Logger, ttl time.Duration) *Service {
	s := &Service{
		db:     db,
		tel:    tel,
		logger: logger,
		ttl:    ttl,
		held:   newHeldSet(),
		reservations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_stock_reservations_total",
			Help: "Stock reservations by outcome: reserved, replayed (same reservation_id again), out_of_stock, rejected (another 4xx), failed.",
		}, []string{"outcome"}),
		settled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_stock_reservations_settled_total",
			Help: "How reservations ended: confirmed or released by their checkout; expired (stock back) or recovered (its order was found) when their checkout never said.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(s.reservations, s.settled, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shop_stock_reservations_held",
		Help: "Reservations holding stock that no order has confirmed yet.",
	}, func() float64 { return float64(s.held.len()) }))
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
