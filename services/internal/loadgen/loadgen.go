// Package loadgen keeps every running lane of the shop busy with all scenarios at a modest rate, so
// that the dashboards are alive a minute after `docker compose up`. It uses the standard library only.
package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerocodelab/lab/services/internal/scenario"
	"github.com/zerocodelab/lab/services/internal/traceparent"
)

// Config is what the load generator reads from its environment.
type Config struct {
	Targets  map[string]string // TARGETS: lane=gateway URL, comma-separated
	Rate     float64           // RATE: requests per second per lane
	Duration time.Duration     // DURATION: stop after this long; 0 runs until stopped
}

// LoadConfig reads and validates the configuration; every problem names its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	cfg := Config{Targets: map[string]string{}, Rate: 2}
	var errs []error
	raw := getenv("TARGETS")
	if raw == "" {
		errs = append(errs, errors.New(`TARGETS is required, like "plain=http://plain-gateway:8080,manual=http://manual-gateway:8080"`))
	}
	for _, pair := range strings.Split(raw, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		lane, target, ok := strings.Cut(strings.TrimSpace(pair), "=")
		u, err := url.Parse(target)
		if !ok || lane == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("TARGETS: %q is not lane=http://host:port", pair))
			continue
		}
		cfg.Targets[lane] = strings.TrimRight(target, "/")
	}
	if v := getenv("RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 || r > 100 {
			errs = append(errs, fmt.Errorf("RATE=%q: want requests per second per lane, above 0 and at most 100", v))
		}
		cfg.Rate = r
	}
	if v := getenv("DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("DURATION=%q: want a duration like 30s, or 0 to run until stopped", v))
		}
		cfg.Duration = d
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config of loadgen: %w", errors.Join(errs...))
	}
	return cfg, nil
}

// step is one kind of request and how often it is sent, out of the sum of all weights.
type step struct {
	scenario scenario.Name // "" means GET /api/products
	weight   int
}

// mix: mostly normal checkouts, every other scenario often enough to show on a dashboard within a minute.
var mix = []step{
	{"", 2},
	{scenario.Normal, 8},
	{scenario.Slow, 2},
	{scenario.Error, 2},
	{scenario.OutOfStock, 2},
	{scenario.NotFound, 2},
	{scenario.Fanout, 2},
}

var skus = []string{"espresso-beans", "pour-over-kettle", "ceramic-mug", "hand-grinder", "paper-filters"}

// Stats counts answers by lane, request kind and status ("error" when no answer came).
type Stats struct {
	mu     sync.Mutex
	counts map[string]int
}

// Add counts one answer.
func (s *Stats) Add(lane, kind, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = map[string]int{}
	}
	s.counts[lane+" "+kind+" "+status]++
}

// Count returns how many answers of lane, kind and status were seen.
func (s *Stats) Count(lane, kind, status string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[lane+" "+kind+" "+status]
}

// Run sends requests to every lane until ctx is done or cfg.Duration has passed. A lane that does not
// answer (its compose profile is off) is only logged: the others keep going.
func Run(ctx context.Context, cfg Config, client *http.Client, logger *slog.Logger) *Stats {
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	stats := &Stats{}
	var wg sync.WaitGroup
	for lane, target := range cfg.Targets {
		wg.Go(func() { runLane(ctx, lane, target, cfg.Rate, client, logger, stats) })
	}
	wg.Wait()
	return stats
}

func runLane(ctx context.Context, lane, target string, rate float64, client *http.Client, logger *slog.Logger, stats *Stats) {
	ticker := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer ticker.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	var unreachable atomic.Bool // logged once per outage, not once per request
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		st := pick(i)
		inflight.Go(func() {
			kind, status, err := send(ctx, client, target, st, i)
			if ctx.Err() != nil {
				return // stopping: the request was cut short by us, not by the shop
			}
			stats.Add(lane, kind, status)
			switch {
			case err != nil && unreachable.CompareAndSwap(false, true):
				logger.Warn("lane does not answer; retrying at the same pace", "lane", lane, "target", target, "error", err.Error())
			case err == nil && unreachable.CompareAndSwap(true, false):
				logger.Info("lane answers again", "lane", lane)
			}
		})
	}
}

// pick walks the mix deterministically, so every scenario comes round in every 20 requests.
func pick(i int) step {
	total := 0
	for _, s := range mix {
		total += s.weight
	}
	n := i % total
	for _, s := range mix {
		if n < s.weight {
			return s
		}
		n -= s.weight
	}
	return mix[0]
}

// send makes one request with a fresh traceparent and returns its kind and status.
func send(ctx context.Context, client *http.Client, target string, st step, i int) (kind, status string, err error) {
	var req *http.Request
	if st.scenario == "" {
		kind = "products"
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, target+"/api/products", nil)
	} else {
		kind = string(st.scenario)
		body := fmt.Sprintf(`{"sku":%q,"quantity":%d,"scenario":%q,"idempotency_key":"loadgen-%s"}`,
			skus[i%len(skus)], 1+i%3, st.scenario, randomHex(12))
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, target+"/api/checkout", strings.NewReader(body))
		if req != nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return kind, "error", err
	}
	header, _ := traceparent.New() // a fresh trace per request, as the page does for each click
	req.Header.Set(traceparent.Header, header)
	resp, err := client.Do(req)
	if err != nil {
		return kind, "error", err
	}
	resp.Body.Close()
	return kind, strconv.Itoa(resp.StatusCode), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
