package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/zerocodelab/lab/services/internal/api"
	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/scenario"
	"github.com/zerocodelab/lab/services/internal/upstream"
)

// expiryGrace is how long after a reservation's expiry the sweep waits before it asks orders about it.
// Orders stores no new order from the expiry on; one it accepted just before is committed by then.
const expiryGrace = 2 * time.Second

// sweepInterval is how often the sweep looks for reservations past their expiry: often enough that
// stock comes back soon after the TTL, and it costs nothing while none is due (see heldSet).
func sweepInterval(ttl time.Duration) time.Duration {
	return min(max(ttl/4, 200*time.Millisecond), 15*time.Second)
}

// expire settles, every interval until ctx is done, each held reservation whose checkout never said
// how it ended (the gateway died, or lost its answer from orders): confirmed if orders has its order,
// else released, its stock back.
func (s *Service) expire(ctx context.Context, orders *upstream.Client, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.sweep(ctx, orders)
		}
	}
}

// sweep settles the reservations due now. A reservation orders cannot answer about stays held for the
// next sweep: releasing it could leave an order without its stock.
func (s *Service) sweep(ctx context.Context, orders *upstream.Client) {
	due := s.held.due(time.Now().Add(-expiryGrace))
	if len(due) == 0 {
		return // no query, no span: an idle shop stays quiet
	}
	ctx, span := s.tel.Start(ctx, "expire reservations", slog.Int("shop.due", len(due)))
	var failed int
	for _, h := range due {
		if err := s.expireOne(ctx, orders, h); err != nil {
			failed++
			s.logger.WarnContext(ctx, "reservation kept for the next sweep", "reservation_id", h.id, "error", err.Error())
		}
	}
	span.SetAttributes(slog.Int("shop.failed", failed))
	span.End(nil)
}

func (s *Service) expireOne(ctx context.Context, orders *upstream.Client, h held) error {
	var order api.Order
	err := orders.Do(ctx, http.MethodGet, "/orders/by-key/"+h.id, scenario.Normal, nil, &order)
	to, outcome := api.Confirmed, "recovered"
	var se *upstream.StatusError
	switch {
	case errors.As(err, &se) && se.Status == http.StatusNotFound:
		to, outcome = api.Released, "expired"
	case err != nil:
		return fmt.Errorf("ask orders about %q: %w", h.id, err)
	}
	_, changed, err := s.settle(ctx, h.id, to, h.until)
	var apiErr *apierror.Error
	switch {
	case errors.Is(err, errRenewed):
		return nil // a retry holds it anew: it is due again later
	case errors.As(err, &apiErr) && apiErr.Status < 500:
		s.held.remove(h.id) // settled some other way meanwhile
		return nil
	case err != nil:
		return err
	}
	if changed {
		s.settled.WithLabelValues(outcome).Inc()
		s.logger.InfoContext(ctx, "reservation settled by the expiry sweep", "reservation_id", h.id, "state", string(to))
	}
	return nil
}

// loadHeld fills the held set from the database, at start: reservations held when the service stopped
// are settled by the sweep like any other.
func (s *Service) loadHeld(ctx context.Context) error {
	return s.db.Select(ctx, `SELECT reservation_id, expires_at FROM reservations WHERE state = 'held'`, nil, func(rows *sql.Rows) error {
		var id string
		var until int64
		if err := rows.Scan(&id, &until); err != nil {
			return fmt.Errorf("read held reservations: %w", err)
		}
		s.held.put(id, time.UnixMilli(until))
		return nil
	})
}

// held is one held reservation and when its hold ends.
type held struct {
	id    string
	until time.Time
}

// heldSet mirrors the held reservations of the database, so that finding the due ones needs no query.
type heldSet struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func newHeldSet() *heldSet { return &heldSet{until: map[string]time.Time{}} }

func (h *heldSet) put(id string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.until[id] = until
}

func (h *heldSet) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.until, id)
}

func (h *heldSet) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.until)
}

// due returns the reservations whose hold ended before t.
func (h *heldSet) due(t time.Time) []held {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []held
	for id, until := range h.until {
		if until.Before(t) {
			out = append(out, held{id, until})
		}
	}
	return out
}
