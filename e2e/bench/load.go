package bench

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// send makes one request and reports whether it was answered 2xx; the body is read so that the
// connection is reused.
func send(client *http.Client, req *http.Request) bool {
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// Saturation is a closed-loop run: workers send back to back for a while.
type Saturation struct {
	OK, Failed int
	Elapsed    time.Duration
}

// Throughput is the requests answered 2xx a second.
func (s Saturation) Throughput() float64 { return float64(s.OK) / s.Elapsed.Seconds() }

// saturate runs workers that each send the next request as soon as the last one is answered, for d.
func saturate(ctx context.Context, client *http.Client, workers int, d time.Duration, next func(n uint64) (*http.Request, error)) Saturation {
	var ok, failed, n atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, err := next(uint64(n.Add(1)))
				if err == nil && send(client, req) {
					ok.Add(1)
				} else if ctx.Err() == nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return Saturation{OK: int(ok.Load()), Failed: int(failed.Load()), Elapsed: time.Since(start)}
}

// Latency is an open-loop run at a fixed rate: requests leave on a schedule whether or not earlier ones
// were answered, and each one's latency counts from its scheduled time, so a stall shows as the delay of
// every request it held up (no coordinated omission).
type Latency struct {
	Rate           float64 // requests a second scheduled
	Sent, Failed   int
	P50, P99, P999 time.Duration
	Max            time.Duration
	Late           int // requests the sender itself started more than 1 ms after their time
}

// openLoop sends rate requests a second for d, each in its own goroutine at its scheduled time.
func openLoop(ctx context.Context, client *http.Client, rate float64, d time.Duration, next func(n uint64) (*http.Request, error)) Latency {
	// Microseconds, from 1 µs to 1 minute, 3 significant digits.
	hist := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	var mu sync.Mutex
	var failed, late atomic.Int64
	interval := time.Duration(float64(time.Second) / rate)
	count := int(d / interval)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range count {
		at := start.Add(time.Duration(i) * interval)
		select {
		case <-ctx.Done():
			count = i
		case <-time.After(time.Until(at)):
		}
		if ctx.Err() != nil {
			break
		}
		if time.Since(at) > time.Millisecond {
			late.Add(1)
		}
		wg.Go(func() {
			req, err := next(uint64(i + 1))
			ok := err == nil && send(client, req)
			took := time.Since(at)
			if !ok {
				failed.Add(1)
			}
			mu.Lock()
			hist.RecordValue(int64(took / time.Microsecond)) // beyond a minute it is recorded as an error
			mu.Unlock()
		})
	}
	wg.Wait()
	us := func(q float64) time.Duration { return time.Duration(hist.ValueAtQuantile(q)) * time.Microsecond }
	return Latency{
		Rate: rate, Sent: count, Failed: int(failed.Load()), Late: int(late.Load()),
		P50: us(50), P99: us(99), P999: us(99.9), Max: time.Duration(hist.Max()) * time.Microsecond,
	}
}
