package inventory

import (
	"cmp"
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
	"github.com/zerocodelab/lab/services/internal/store"
	"github.com/zerocodelab/lab/services/internal/upstream"
)

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
	due := s.held.due(time.Now())
	if len(due) == 0 {
		return // no query, no span: an idle shop stays quiet
	}
	ctx, span := s.tel.Start(ctx, "expire reservations", slog.Int("shop.due", len(due)))
	var failed int
	var firstErr error
	for _, h := range due {
		if err := s.expireOne(ctx, orders, h); err != nil {
			failed++
			firstErr = cmp.Or(firstErr, err)
		}
	}
	if failed > 0 {
		// One line per sweep, not per reservation: with orders down, every sweep fails them all.
		s.logger.WarnContext(ctx, "reservations kept for the next sweep", "count", failed, "first_error", firstErr.Error())
	}
	span.SetAttributes(slog.Int("shop.failed", failed))
	span.End(nil)
}

// expireOne asks orders to void the hold of a reservation past its expiry: orders answers the order if
// one was stored for it (the reservation is confirmed), or voids the hold so that no order can be stored
// for it any more (the reservation is released, its stock back).
func (s *Service) expireOne(ctx context.Context, orders *upstream.Client, h held) error {
	var res api.VoidResult
	err := orders.Do(ctx, http.MethodPost, "/orders/voids", scenario.Normal, api.VoidRequest{IdempotencyKey: h.id, Hold: h.hold}, &res)
	if err != nil {
		return fmt.Errorf("void %s hold %d at orders: %w", h.id, h.hold, err)
	}
	to, outcome := api.Released, "expired"
	switch {
	case res.IdempotencyKey != h.id || res.Hold != h.hold || res.Voided == (res.Order != nil):
		return fmt.Errorf("orders answered the void of %s hold %d with %+v", h.id, h.hold, res)
	case !res.Voided && res.Order.IdempotencyKey != h.id:
		return fmt.Errorf("orders answered the void of %s with the order of %q", h.id, res.Order.IdempotencyKey)
	case !res.Voided:
		to, outcome = api.Confirmed, "recovered"
	}
	_, changed, err := s.settle(ctx, h.id, to, h.hold)
	var apiErr *apierror.Error
	switch {
	case errors.Is(err, errRenewed):
		return s.refresh(ctx, h.id) // held anew by a retry: due again at its new expiry
	case errors.As(err, &apiErr) && apiErr.Status < 500:
		s.held.remove(h.id, h.hold) // settled some other way meanwhile
		return nil
	case err != nil:
		return err
	}
	if changed {
		s.settled.WithLabelValues(outcome).Inc()
		s.logger.InfoContext(ctx, "reservation settled by the expiry sweep", "reservation_id", h.id, "hold", h.hold, "state", string(to))
	}
	return nil
}

// refresh puts a reservation's current hold into the held set.
func (s *Service) refresh(ctx context.Context, id string) error {
	var res api.Reservation
	var found bool
	err := s.db.InTx(ctx, func(tx store.Conn) (err error) {
		res, found, err = find(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	if found && res.State == api.Held {
		s.held.put(id, res.Hold, res.ExpiresAt)
	}
	return nil
}

// loadHeld fills the held set from the database, at start: reservations held when the service stopped
// are settled by the sweep like any other.
func (s *Service) loadHeld(ctx context.Context) error {
	return s.db.Select(ctx, `SELECT reservation_id, hold, expires_at FROM reservations WHERE state = 'held'`, nil, func(rows *sql.Rows) error {
		var id string
		var hold, until int64
		if err := rows.Scan(&id, &hold, &until); err != nil {
			return fmt.Errorf("read held reservations: %w", err)
		}
		s.held.put(id, hold, time.UnixMilli(until))
		return nil
	})
}

// held is one hold of a reservation and when it ends.
type held struct {
	id    string
	hold  int64
	until time.Time
}

// heldSet mirrors the held reservations of the database, so that finding the due ones needs no query.
// Its writers may run in any order (each after its own transaction): an entry only ever moves to a
// later hold, and is removed only by settling its own hold.
type heldSet struct {
	mu sync.Mutex
	m  map[string]held
}

func newHeldSet() *heldSet { return &heldSet{m: map[string]held{}} }

func (h *heldSet) put(id string, hold int64, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.m[id]; !ok || hold >= cur.hold {
		h.m[id] = held{id: id, hold: hold, until: until}
	}
}

func (h *heldSet) remove(id string, hold int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.m[id]; ok && cur.hold <= hold {
		delete(h.m, id)
	}
}

func (h *heldSet) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.m)
}

// due returns the holds that ended before t.
func (h *heldSet) due(t time.Time) []held {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []held
	for _, e := range h.m {
		if e.until.Before(t) {
			out = append(out, e)
		}
	}
	return out
}
