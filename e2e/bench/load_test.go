package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A server that stalls everything once, for 100 ms, delays every request scheduled during the stall:
// the open-loop run counts each from its scheduled time, so the p99 shows the stall while the median
// does not. A closed-loop sender would have sent nothing during the stall and hidden it.
func TestOpenLoopCountsTheStallForEveryRequestItHeldUp(t *testing.T) {
	var mu sync.Mutex
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == 100 {
			mu.Lock()
			time.Sleep(100 * time.Millisecond)
			mu.Unlock()
		}
		mu.Lock() // held up while the stall lasts
		mu.Unlock()
	}))
	defer srv.Close()
	lat := openLoop(context.Background(), srv.Client(), 200, 2*time.Second, func(uint64) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, srv.URL, nil)
	})
	if lat.Sent != 400 || lat.Failed != 0 || int(served.Load()) != lat.Sent {
		t.Fatalf("sent %d (failed %d), served %d; want 400 sent, all served", lat.Sent, lat.Failed, served.Load())
	}
	if lat.P99 < 50*time.Millisecond || lat.P50 > 20*time.Millisecond || lat.P99 > lat.P999 || lat.P999 > lat.Max {
		t.Fatalf("p50 %s, p99 %s, p99.9 %s, max %s; want a median below 20 ms and the 100 ms stall in p99", lat.P50, lat.P99, lat.P999, lat.Max)
	}
}

func TestSaturateCountsWhatWasAnswered(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1)%10 == 0 {
			w.WriteHeader(http.StatusConflict)
		}
	}))
	defer srv.Close()
	s := saturate(context.Background(), srv.Client(), 4, 300*time.Millisecond, func(uint64) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, srv.URL, nil)
	})
	total := s.OK + s.Failed
	if s.OK == 0 || total < int(served.Load())-4 || total > int(served.Load()) || s.Failed < total/10-1 || s.Failed > total/10+1 {
		t.Fatalf("ok %d, failed %d, served %d; want every tenth answer counted as failed", s.OK, s.Failed, served.Load())
	}
	if s.Elapsed < 300*time.Millisecond || s.Throughput() <= 0 {
		t.Fatalf("elapsed %s, throughput %.0f", s.Elapsed, s.Throughput())
	}
}

func TestStatIsTheMedianAndRange(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want stat
	}{
		{[]float64{3, 1, 2}, stat{2, 1, 3}},
		{[]float64{4, 1, 3, 2}, stat{2.5, 1, 4}},
		{[]float64{7}, stat{7, 7, 7}},
		{nil, stat{}},
	} {
		if got := statOf(c.xs); got != c.want {
			t.Errorf("statOf(%v) = %+v; want %+v", c.xs, got, c.want)
		}
	}
}

func TestRoundsRotateTheLaneOrder(t *testing.T) {
	lanes := []string{"plain", "otel-auto", "manual"}
	seen := map[string]int{}
	for round := range 3 {
		seen[rotate(lanes, round)[0]]++
	}
	if len(seen) != 3 || rotate(lanes, 1)[0] != "otel-auto" || rotate(lanes, 3)[0] != "plain" || len(rotate(lanes, 2)) != 3 {
		t.Fatalf("rotations: %v, %v, %v", rotate(lanes, 0), rotate(lanes, 1), rotate(lanes, 2))
	}
}

// The lines telemetrygen v0.160.0 prints, one per worker, are what the capacity step counts as made.
func TestGeneratedSumsTelemetrygensWorkers(t *testing.T) {
	out := "2026-12-01T23:00:10.640Z\tINFO\ttraces/worker.go:180\ttraces generated\t{\"worker\": 0, \"traces\": 41}\n" +
		"2026-12-01T23:00:10.640Z\tINFO\ttraces/worker.go:180\ttraces generated\t{\"worker\": 1, \"traces\": 40}\n" +
		"2026-12-01T23:00:10.640Z\tINFO\ttraces/traces.go:75\tstop the batch span processor\n"
	if n, err := generated(out); err != nil || n != 81*spansPerTrace {
		t.Fatalf("generated = %d, %v; want %d", n, err, 81*spansPerTrace)
	}
	if _, err := generated("no such line"); err == nil {
		t.Fatal("output without a generated line is not an error")
	}
}
