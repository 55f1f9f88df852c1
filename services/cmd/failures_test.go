package cmd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerocodelab/lab/services/internal/shoptest"
)

// procShop is the shop as four processes of the real binaries, each of which a test may kill -9 and
// start again on the same address and data.
type procShop struct {
	t     *testing.T
	bin   string
	data  string
	env   []string
	addr  map[string]string
	procs map[string]*exec.Cmd
	logs  map[string]*shoptest.Log
}

func startProcShop(t *testing.T, env ...string) *procShop {
	p := &procShop{t: t, bin: build(t), data: t.TempDir(), addr: map[string]string{},
		procs: map[string]*exec.Cmd{}, logs: map[string]*shoptest.Log{}}
	for _, s := range shoptest.Services() {
		p.addr[s] = shoptest.FreeAddr(t)
	}
	p.env = append([]string{"DATA_DIR=" + p.data, "LANE=plain",
		"CATALOG_URL=" + p.url("catalog"), "INVENTORY_URL=" + p.url("inventory"), "ORDERS_URL=" + p.url("orders")}, env...)
	for _, s := range shoptest.Services() {
		p.start(s)
	}
	t.Cleanup(func() {
		for _, cmd := range p.procs {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return p
}

func (p *procShop) url(service string) string { return "http://" + p.addr[service] }

func (p *procShop) start(service string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, service))
	cmd.Env = append([]string{"ADDR=" + p.addr[service]}, p.env...)
	if p.logs[service] == nil {
		p.logs[service] = &shoptest.Log{}
	}
	cmd.Stdout, cmd.Stderr = p.logs[service], p.logs[service]
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.procs[service] = cmd
	waitHealthy(p.t, p.addr[service])
}

func (p *procShop) kill(service string) {
	p.t.Helper()
	cmd := p.procs[service]
	cmd.Process.Kill() // SIGKILL: no graceful anything
	cmd.Wait()
	delete(p.procs, service)
}

// metric reads one series of a service's /metrics through the in-process shop's parser.
func (p *procShop) metric(service, name string, labels map[string]string) float64 {
	p.t.Helper()
	s := &shoptest.Shop{URL: map[string]string{service: p.url(service)}}
	return s.Metric(p.t, service, name, labels)
}

func (p *procShop) stock(sku string) int64 {
	p.t.Helper()
	status, data := shoptest.Get(p.t, p.url("inventory")+"/stock/"+sku)
	var st struct{ Available int64 }
	if status != 200 || json.Unmarshal(data, &st) != nil {
		p.t.Fatalf("GET /stock/%s = %d %s", sku, status, data)
	}
	return st.Available
}

var skus = []string{"espresso-beans", "pour-over-kettle", "ceramic-mug", "hand-grinder", "paper-filters"}

func (p *procShop) stocks() map[string]int64 {
	out := map[string]int64{}
	for _, sku := range skus {
		out[sku] = p.stock(sku)
	}
	return out
}

// waitNothingHeld waits until inventory holds no reservation: every checkout has ended one way or the other.
func (p *procShop) waitNothingHeld(timeout time.Duration) {
	p.t.Helper()
	shoptest.Eventually(p.t, "inventory holding no reservation", timeout, func() error {
		if n := p.metric("inventory", "shop_stock_reservations_held", nil); n != 0 {
			return fmt.Errorf("%v reservations held\n%s", n, p.logs["inventory"])
		}
		return nil
	})
}

// checkout sends one checkout; the client gives up after timeout. status is 0 when no answer came.
func checkoutOnce(url, body string, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/checkout", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Checkouts fail in every way the shop can see and nobody retries: orders is down, the gateway is
// killed mid-checkout, clients give up. Once the reservations' TTL has passed, every unit of stock is
// back or sold, and the orders and the confirmed reservations are the same set.
func TestFailedCheckoutsWithoutRetryLeakNoStock(t *testing.T) {
	shop := startProcShop(t, "RESERVATION_TTL=2s")
	initial := shop.stocks()
	body := func(i int) string {
		sc := []string{"normal", "slow", "fanout"}[i%3]
		return fmt.Sprintf(`{"sku":%q,"quantity":%d,"scenario":%q}`, skus[i%len(skus)], 1+i%3, sc)
	}
	// run sends n keyless checkouts, conc at a time, and counts the answers by status.
	run := func(n, conc int, timeout func() time.Duration) map[int]int {
		var mu sync.Mutex
		count := map[int]int{}
		var wg sync.WaitGroup
		sem := make(chan struct{}, conc)
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				status := checkoutOnce(shop.url("gateway"), body(i), timeout())
				mu.Lock()
				count[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return count
	}
	long := func() time.Duration { return 10 * time.Second }

	shop.kill("orders")
	got := run(60, 10, long)
	if got[502] != 60 {
		t.Fatalf("with orders down: %v; want 60 x 502", got)
	}
	shop.start("orders")
	t.Logf("orders down: %v", got)

	// Kill the gateway once several checkouts hold stock, so that the sweep has reservations to settle
	// that no gateway will ever settle. Several: a reservation seen held may be confirmed in the
	// millisecond between the look and the kill, all of them hardly.
	settledBefore := shop.settledBySweep()
	killed := make(chan bool)
	go func() {
		deadline := time.Now().Add(5 * time.Second)
		for shop.metric("inventory", "shop_stock_reservations_held", nil) < 5 && time.Now().Before(deadline) {
		}
		shop.kill("gateway")
		killed <- time.Now().Before(deadline)
	}()
	got = run(200, 200, long)
	if !<-killed {
		t.Fatal("no reservation was held during 5 s of checkouts: the gateway was killed with none in flight")
	}
	shop.start("gateway")
	t.Logf("gateway killed mid-checkout: %v (0 = broken off)", got)
	shop.waitNothingHeld(20 * time.Second)
	if settled := shop.settledBySweep() - settledBefore; settled == 0 {
		t.Errorf("the sweep settled nothing after the gateway was killed holding stock")
	} else {
		t.Logf("the sweep settled %v reservations the killed gateway left held", settled)
	}

	got = run(200, 50, func() time.Duration { return time.Duration(1+rand.IntN(400)) * time.Millisecond })
	if got[0] == 0 {
		t.Fatalf("no client gave up: %v", got)
	}
	t.Logf("clients giving up after 1-400 ms: %v (0 = gave up)", got)

	shop.waitNothingHeld(20 * time.Second)
	shoptest.AssertNoLeak(t, shop.data, initial)
	for _, outcome := range []string{"confirmed", "released", "expired", "recovered"} {
		t.Logf("reservations %s: %v", outcome, shop.metric("inventory", "shop_stock_reservations_settled_total", map[string]string{"outcome": outcome}))
	}
}

// settledBySweep is how many reservations inventory's expiry sweep has settled, either way.
func (p *procShop) settledBySweep() float64 {
	return p.metric("inventory", "shop_stock_reservations_settled_total", map[string]string{"outcome": "expired"}) +
		p.metric("inventory", "shop_stock_reservations_settled_total", map[string]string{"outcome": "recovered"})
}

// kill -9 of any one service while clients check out with their own keys, retrying until answered:
// every key ends with exactly one order, and no stock is lost.
func TestKillAnyServiceRetriesByKeyStoreEachOrderOnce(t *testing.T) {
	shop := startProcShop(t, "RESERVATION_TTL=2s")
	initial := shop.stocks()
	for _, victim := range shoptest.Services() {
		t.Run(victim, func(t *testing.T) {
			// Each client buys one key after another, retrying each until it is answered 201, until
			// the victim has been killed and is back.
			const clients = 20
			var stop atomic.Bool
			var retries atomic.Int64
			keys := make([][]string, clients)
			var wg sync.WaitGroup
			for c := range clients {
				wg.Go(func() {
					for j := 0; !stop.Load(); j++ {
						key := fmt.Sprintf("kill-%s-%d-%d", victim, c, j)
						body := fmt.Sprintf(`{"sku":%q,"quantity":1,"idempotency_key":%q}`, skus[(c+j)%len(skus)], key)
						keys[c] = append(keys[c], key)
						deadline := time.Now().Add(30 * time.Second)
						for checkoutOnce(shop.url("gateway"), body, 3*time.Second) != 201 {
							if time.Now().After(deadline) {
								t.Errorf("%s never got its order", key)
								return
							}
							retries.Add(1)
							time.Sleep(100 * time.Millisecond)
						}
					}
				})
			}
			time.Sleep(200 * time.Millisecond)
			shop.kill(victim)
			time.Sleep(300 * time.Millisecond)
			shop.start(victim)
			time.Sleep(500 * time.Millisecond)
			stop.Store(true)
			wg.Wait()
			if retries.Load() == 0 {
				t.Fatalf("killing %s failed no checkout: the test did not test a kill", victim)
			}
			n := 0
			for _, ks := range keys {
				for _, key := range ks {
					n++
					if got := shoptest.CountOrders(t, shop.data, key); got != 1 {
						t.Errorf("%s: %d orders; want 1", key, got)
					}
				}
			}
			t.Logf("kill -9 %s: %d keys, %d retries, each key one order", victim, n, retries.Load())
		})
	}
	shop.waitNothingHeld(20 * time.Second)
	shoptest.AssertNoLeak(t, shop.data, initial)
}
