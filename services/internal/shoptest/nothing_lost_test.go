package shoptest

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// reserve posts to inventory's /reservations and returns the status and the reservation.
func reserve(t *testing.T, shop *Shop, id, sku string, qty int) (int, map[string]any) {
	t.Helper()
	status, data := Post(t, shop.URL["inventory"]+"/reservations", jsonType,
		fmt.Sprintf(`{"reservation_id":%q,"sku":%q,"quantity":%d}`, id, sku, qty), nil)
	var res map[string]any
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("reservation %s: answer %d is not JSON: %q", id, status, data)
	}
	return status, res
}

// settleReservation posts to inventory's /reservations/:id/<action> and returns status and error code.
// A release names the hold it releases.
func settleReservation(t *testing.T, shop *Shop, id, action string, hold int) (int, string) {
	t.Helper()
	body := ""
	if action == "release" {
		body = fmt.Sprintf(`{"hold":%d}`, hold)
	}
	status, data := Post(t, shop.URL["inventory"]+"/reservations/"+id+"/"+action, jsonType, body, nil)
	var answer struct {
		Error string `json:"error"`
	}
	json.Unmarshal(data, &answer)
	return status, answer.Error
}

// order stores an order for a reservation hold directly at orders, as the gateway would.
func order(t *testing.T, shop *Shop, key, sku string, qty, hold int) (int, string) {
	t.Helper()
	status, data := Post(t, shop.URL["orders"]+"/orders", jsonType,
		fmt.Sprintf(`{"idempotency_key":%q,"sku":%q,"quantity":%d,"unit_price_cents":100,"hold":%d}`, key, sku, qty, hold), nil)
	var body struct {
		Error string `json:"error"`
	}
	json.Unmarshal(data, &body)
	return status, body.Error
}

// Reservations are held until confirmed, released, or expired; a retry by id finds its reservation
// while it is held, and reserves again once it was released. Past the TTL, the sweep voids the hold at
// orders (or finds its order), and orders refuses any order for a voided hold.
func TestReservationIsHeldUntilConfirmedReleasedOrExpired(t *testing.T) {
	shop := Start(t, Options{Env: map[string]string{"RESERVATION_TTL": "1s"}})
	const sku = "hand-grinder"
	initial := stock(t, shop, sku)

	status, res := reserve(t, shop, "held-1", sku, 2)
	if status != 201 || res["state"] != "held" || res["taken"] != true || res["hold"] != 1.0 {
		t.Fatalf("first reservation = %d %v; want 201, held, taken, hold 1", status, res)
	}
	status, res = reserve(t, shop, "held-1", sku, 2)
	if status != 200 || res["state"] != "held" || res["taken"] != false || res["hold"] != 1.0 {
		t.Fatalf("the same reservation again = %d %v; want 200, held, not taken, hold 1", status, res)
	}
	if got := stock(t, shop, sku); got != initial-2 {
		t.Fatalf("stock = %d after one reservation of 2 made twice; want %d", got, initial-2)
	}

	// Confirmed: an order holds the stock for good; it can no longer be released.
	reserve(t, shop, "confirm-1", sku, 1)
	if status, code := order(t, shop, "confirm-1", sku, 1, 1); status != 201 {
		t.Fatalf("order for confirm-1 = %d %s", status, code)
	}
	if status, code := settleReservation(t, shop, "confirm-1", "confirm", 0); status != 200 {
		t.Fatalf("confirm = %d %s", status, code)
	}
	if status, _ := settleReservation(t, shop, "confirm-1", "confirm", 0); status != 200 {
		t.Fatalf("confirm again = %d; want 200 (idempotent)", status)
	}
	if status, code := settleReservation(t, shop, "confirm-1", "release", 1); status != 409 || code != "reservation_confirmed" {
		t.Fatalf("release of a confirmed reservation = %d %s; want 409 reservation_confirmed", status, code)
	}

	// Released: the stock goes back, once; it can no longer be confirmed; a retry reserves again.
	reserve(t, shop, "release-1", sku, 3)
	for range 2 {
		if status, code := settleReservation(t, shop, "release-1", "release", 1); status != 200 {
			t.Fatalf("release = %d %s; want 200, twice", status, code)
		}
	}
	if status, code := settleReservation(t, shop, "release-1", "confirm", 0); status != 409 || code != "reservation_released" {
		t.Fatalf("confirm of a released reservation = %d %s; want 409 reservation_released", status, code)
	}
	if got := stock(t, shop, sku); got != initial-2-1 {
		t.Fatalf("stock = %d after releasing 3; want %d", got, initial-2-1)
	}

	// Never settled, but orders has its order (the gateway died in between): the sweep confirms it.
	reserve(t, shop, "recover-1", sku, 4)
	if status, code := order(t, shop, "recover-1", sku, 4, 1); status != 201 {
		t.Fatalf("order for recover-1 = %d %s", status, code)
	}

	// Past the TTL, held-1 (no order) goes back to stock and recover-1 is confirmed.
	Eventually(t, "the sweep settles held-1 and recover-1", 10*time.Second, func() error {
		if n := shop.Metric(t, "inventory", "shop_stock_reservations_held", nil); n != 0 {
			return fmt.Errorf("%v reservations held", n)
		}
		return nil
	})
	if got, want := stock(t, shop, sku), initial-1-4; got != want {
		t.Fatalf("stock after the sweep = %d; want %d (held-1's 2 back, recover-1's 4 kept)", got, want)
	}
	for outcome, want := range map[string]float64{"expired": 1, "recovered": 1, "confirmed": 1, "released": 1} {
		if got := shop.Metric(t, "inventory", "shop_stock_reservations_settled_total", map[string]string{"outcome": outcome}); got != want {
			t.Errorf("reservations settled %s = %v; want %v", outcome, got, want)
		}
	}
	// The sweep voided held-1's hold: an order for it, arriving late, is refused.
	if status, code := order(t, shop, "held-1", sku, 2, 1); status != 409 || code != "reservation_expired" {
		t.Fatalf("order for a voided hold = %d %s; want 409 reservation_expired", status, code)
	}
	// recover-1's order was stored in time: asking again answers it.
	if status, code := order(t, shop, "recover-1", sku, 4, 1); status != 201 {
		t.Fatalf("replay of recover-1's order = %d %s; want 201", status, code)
	}
	// After its expiry, a retry reserves again, under a new hold, which orders accepts; releasing the
	// old hold does nothing.
	status, res = reserve(t, shop, "held-1", sku, 2)
	if status != 201 || res["taken"] != true || res["hold"] != 2.0 {
		t.Fatalf("held-1 after it expired = %d %v; want 201, taken again, hold 2", status, res)
	}
	if status, code := settleReservation(t, shop, "held-1", "release", 1); status != 409 || code != "reservation_renewed" {
		t.Fatalf("release of held-1's old hold = %d %s; want 409 reservation_renewed", status, code)
	}
	if status, code := order(t, shop, "held-1", sku, 2, 2); status != 201 {
		t.Fatalf("order for held-1's new hold = %d %s; want 201", status, code)
	}
	if status, code := settleReservation(t, shop, "held-1", "confirm", 0); status != 200 {
		t.Fatalf("confirm held-1 = %d %s", status, code)
	}
	AssertNoLeak(t, shop.DataDir, map[string]int64{sku: initial})
}

// Clients giving up at every point of a checkout leave no server error anywhere, and once the TTL
// has passed every unit of stock is either back or sold.
func TestClientsGivingUpLeaveNoServerErrorAndNoLeak(t *testing.T) {
	shop := Start(t, Options{Env: map[string]string{"RESERVATION_TTL": "1s"}})
	const sku, n = "espresso-beans", 200
	initial := stock(t, shop, sku)
	lone := loneCheckout(t, shop, sku)

	var wg sync.WaitGroup
	var mu sync.Mutex
	gaveUp, mustGiveUp := 0, 0
	for i := range n {
		// Clients leave before, during and after the reservation and the order: a third stays, the
		// others leave after 1 ms to three times a lone checkout's time. A quarter are slow (inventory
		// waits 300 ms before it reserves): half of those leave during that wait, so they give up
		// whatever this machine's speed, and the others around its end or after it.
		timeout := time.Duration(1+rand.Int64N(int64(3*lone))) + time.Millisecond
		scenario := "normal"
		switch {
		case i%3 == 0:
			timeout = time.Minute
		case i%8 == 0:
			scenario, timeout = "slow", time.Duration(10+rand.IntN(280))*time.Millisecond
			mustGiveUp++
		case i%4 == 0:
			scenario, timeout = "slow", time.Duration(250+rand.IntN(150))*time.Millisecond+2*lone
		}
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 2 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, shop.URL["gateway"]+"/api/checkout",
				strings.NewReader(fmt.Sprintf(`{"sku":%q,"quantity":1,"scenario":%q}`, sku, scenario)))
			req.Header.Set("Content-Type", jsonType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				mu.Lock()
				gaveUp++
				mu.Unlock()
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if gaveUp <= mustGiveUp {
		t.Fatalf("%d of %d clients gave up; the %d that leave during inventory's wait must, and others with them: the test did not test giving up",
			gaveUp, n, mustGiveUp)
	}
	t.Logf("%d of %d clients gave up (%d of them during inventory's wait)", gaveUp, n, mustGiveUp)
	// Some clients left before the gateway read their request; the others are all counted once the
	// count stops moving.
	var counted float64
	Eventually(t, "the gateway's count of checkouts settles", 10*time.Second, func() error {
		was := counted
		time.Sleep(300 * time.Millisecond)
		counted = shop.Metric(t, "gateway", "shop_http_requests_total", map[string]string{"route": "/api/checkout"})
		if counted != was || counted < n-float64(gaveUp) {
			return fmt.Errorf("%v counted, %v a moment before; want at least %v", counted, was, n-float64(gaveUp))
		}
		return nil
	})
	Eventually(t, "no reservation is held", 10*time.Second, func() error {
		if n := shop.Metric(t, "inventory", "shop_stock_reservations_held", nil); n != 0 {
			return fmt.Errorf("%v reservations held", n)
		}
		return nil
	})

	for _, service := range Services() {
		for _, code := range []string{"500", "502", "503", "504"} {
			if got := shop.Metric(t, service, "shop_http_requests_total", map[string]string{"status": code}); got != 0 {
				t.Errorf("%s counted %v requests with status %s; clients leaving are not server failures", service, got, code)
			}
		}
		for _, line := range shop.Log(service).Lines() {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Errorf("%s logged an error: %s", service, line)
			}
		}
	}
	if got := shop.Metric(t, "gateway", "shop_http_requests_total", map[string]string{"route": "/api/checkout", "status": "499"}); got == 0 {
		t.Errorf("the gateway counted no 499 though %d clients left", gaveUp)
	}
	if got := shop.Metric(t, "gateway", "shop_checkouts_total", map[string]string{"outcome": "internal"}); got != 0 {
		t.Errorf("the gateway counted %v checkouts as internal failures", got)
	}
	AssertNoLeak(t, shop.DataDir, map[string]int64{sku: initial})
	t.Logf("%d of %d clients gave up; %v orders stored", gaveUp, n, shop.Metric(t, "orders", "shop_orders_total", map[string]string{"outcome": "created"}))
}

// loneCheckout returns the median time of a checkout with nothing else running.
func loneCheckout(t *testing.T, shop *Shop, sku string) time.Duration {
	t.Helper()
	times := make([]time.Duration, 5)
	for i := range times {
		start := time.Now()
		if status, a := checkout(t, shop, fmt.Sprintf(`{"sku":%q,"quantity":1}`, sku), nil); status != 201 {
			t.Fatalf("checkout = %d %+v", status, a)
		}
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// Clients that send their request too slowly are cut off by the read timeouts, while real checkouts
// go through.
func TestSlowClientsAreCutOffWhileCheckoutsSucceed(t *testing.T) {
	// Short timeouts for the gateway the slow clients attack; its upstreams keep the defaults, so that
	// the gateway's own calls are not cut off when this machine is slow.
	shop := Start(t, Options{})
	addr := strings.TrimPrefix(shop.StartGateway(t, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "500ms", "HTTP_READ_TIMEOUT": "1s"}), "http://")
	const slow = 150

	cuts := make(chan cutOff, 2*slow)
	var wg sync.WaitGroup
	for i := range 2 * slow {
		wg.Go(func() {
			// Half send a body one byte at a time, half their headers.
			head := "POST /api/checkout HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
			first, dribble := head, "{"
			if i%2 == 1 {
				first, dribble = "POST /api/checkout HTTP/1.1\r\n", "X"
			}
			cuts <- slowClient(addr, first, dribble)
		})
	}
	var ok sync.WaitGroup
	statuses := make([]int, 50)
	bodies := make([][]byte, 50)
	for i := range statuses {
		ok.Go(func() {
			time.Sleep(time.Duration(i) * 10 * time.Millisecond)
			statuses[i], bodies[i], _ = Send("http://"+addr+"/api/checkout", jsonType, `{"sku":"ceramic-mug","quantity":1}`, nil)
		})
	}
	ok.Wait()
	for i, s := range statuses {
		if s != 201 {
			t.Errorf("checkout %d beside the slow clients = %d %s; want 201", i, s, bodies[i])
		}
	}
	wg.Wait()
	close(cuts)
	var slowest time.Duration
	answers := map[string]int{}
	for c := range cuts {
		slowest = max(slowest, c.after)
		answers[c.answer]++
	}
	if slowest > 4*time.Second {
		t.Errorf("the slowest slow client was cut off after %v; want about the 1 s read timeout", slowest)
	}
	t.Logf("%d slow clients, all cut off within %v; what they read: %v", 2*slow, slowest, answers)
}

// cutOff is how a slow client ended: after how long, and the status line it read (or how it was closed).
type cutOff struct {
	after  time.Duration
	answer string
}

// slowClient sends first, then one byte of dribble every 200 ms, until the server cuts it off (or
// 10 s pass).
func slowClient(addr, first, dribble string) (c cutOff) {
	start := time.Now()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		c.answer = "dial: " + err.Error()
		return c
	}
	defer conn.Close()
	closed := make(chan string, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if line == "" && err != nil {
			if errors.Is(err, io.EOF) {
				line = "closed"
			} else {
				line = err.Error()
			}
		}
		closed <- strings.TrimSpace(line)
	}()
	conn.Write([]byte(first))
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case answer := <-closed:
			c.after, c.answer = time.Since(start), answer
			return c
		case <-tick.C:
			conn.Write([]byte(dribble))
		}
	}
}

// A catalog answering nonsense (null, a price of 0, another product) gets a 502, and no stock is reserved.
func TestUnusableCatalogAnswersReserveNothing(t *testing.T) {
	shop := Start(t, Options{})
	for name, answer := range map[string]string{
		"null":          `null`,
		"price 0":       `{"sku":"ceramic-mug","name":"Mug","price_cents":0}`,
		"negative":      `{"sku":"ceramic-mug","name":"Mug","price_cents":-5}`,
		"other product": `{"sku":"hand-grinder","name":"Grinder","price_cents":4500}`,
	} {
		t.Run(name, func(t *testing.T) {
			catalog := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", jsonType)
				io.WriteString(w, answer)
			}))
			defer catalog.Close()
			gw := shop.StartGateway(t, map[string]string{"CATALOG_URL": catalog.URL})
			before := stock(t, shop, "ceramic-mug")
			reservations := shop.Metric(t, "inventory", "shop_stock_reservations_total", nil)
			status, data := Post(t, gw+"/api/checkout", jsonType, `{"sku":"ceramic-mug","quantity":1}`, nil)
			if status != 502 || !strings.Contains(string(data), "upstream_error") {
				t.Fatalf("checkout with the catalog answering %s = %d %s; want 502 upstream_error", answer, status, data)
			}
			if after := stock(t, shop, "ceramic-mug"); after != before {
				t.Errorf("stock went from %d to %d", before, after)
			}
			if after := shop.Metric(t, "inventory", "shop_stock_reservations_total", nil); after != reservations {
				t.Errorf("inventory was asked for %v reservations; want none", after-reservations)
			}
		})
	}
}

// 1,000 checkouts at once, each with its own key, for a product with 300 left: exactly 300 are sold.
func TestConcurrentKeysNeverOversell(t *testing.T) {
	// A short TTL, so that a reservation whose confirmation was lost under this load is settled by the
	// sweep within the test.
	shop := Start(t, Options{Env: map[string]string{"RESERVATION_TTL": "5s"}})
	const sku, left, buyers = "paper-filters", 300, 1000
	db, err := sql.Open("sqlite", "file:"+filepath.Join(shop.DataDir, "inventory.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE stock SET available = ? WHERE sku = ?`, left, sku); err != nil {
		t.Fatal(err)
	}
	db.Close()

	statuses := make([]int, buyers)
	bodies := make([][]byte, buyers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range buyers {
		wg.Go(func() {
			<-start
			// A checkout may time out inside the shop when a thousand queue for one SQLite file, or
			// find its reservation expired; the client then retries with its key, as a client should,
			// until it is answered 201 or out of stock.
			for range 10 {
				statuses[i], bodies[i], _ = Send(shop.URL["gateway"]+"/api/checkout", jsonType,
					fmt.Sprintf(`{"sku":%q,"quantity":1,"idempotency_key":"buyer-%d"}`, sku, i), nil)
				if statuses[i] < 500 && !strings.Contains(string(bodies[i]), "reservation_expired") {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i, s := range statuses {
		if count[s] == 0 && s != 201 && s != 409 {
			t.Logf("first answer %d: %s", s, bodies[i])
		}
		count[s]++
	}
	if count[201] != left || count[409] != buyers-left {
		t.Fatalf("answers = %v; want %d x 201 and %d x 409", count, left, buyers-left)
	}
	Eventually(t, "no reservation is held", 30*time.Second, func() error {
		if n := shop.Metric(t, "inventory", "shop_stock_reservations_held", nil); n != 0 {
			return fmt.Errorf("%v reservations held", n)
		}
		return nil
	})
	if got := stock(t, shop, sku); got != 0 {
		t.Fatalf("stock left = %d; want 0", got)
	}
	AssertNoLeak(t, shop.DataDir, map[string]int64{sku: left})
}
