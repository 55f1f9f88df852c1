// Package shoptest starts the whole shop in one process for tests and benchmarks: the four real
// services, real SQLite files in a temporary directory, real HTTP on 127.0.0.1 with ports the kernel picks.
package shoptest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocodelab/lab/services/internal/app"
	"github.com/zerocodelab/lab/services/internal/shop"
	"github.com/zerocodelab/lab/services/internal/telemetry"
)

// Options change how the shop starts; the zero value is a plain shop.
type Options struct {
	DataDir   string            // empty: a fresh temporary directory
	Env       map[string]string // extra variables for every service, like LANE
	Telemetry func(service string) *telemetry.Telemetry
}

// Shop is a running shop.
type Shop struct {
	URL     map[string]string // base URL by service name
	DataDir string
	logs    map[string]*Log
}

// Spec returns how to build the named service.
func Spec(service string) app.Spec {
	spec, _ := shop.Spec(service)
	return spec
}

// Services are the names of the shop's services, in the order they start (shop.Services').
func Services() []string {
	names := make([]string, len(shop.Services))
	for i, s := range shop.Services {
		names[i] = s.Service
	}
	return names
}

// Start starts the four services in shop.Services' order, each pointing at its upstreams, and stops
// them all when the test ends.
func Start(tb testing.TB, opts Options) *Shop {
	tb.Helper()
	if opts.DataDir == "" {
		opts.DataDir = tb.TempDir()
	}
	s := &Shop{URL: map[string]string{}, DataDir: opts.DataDir, logs: map[string]*Log{}}
	type running struct {
		inst *app.Instance
		stop context.CancelFunc
	}
	var started []running
	tb.Cleanup(func() {
		// Connections a client dialed but never used hold a server's Shutdown for 5 s: close them first.
		http.DefaultClient.CloseIdleConnections()
		for i := len(started) - 1; i >= 0; i-- { // the gateway first, as a deployment would
			started[i].stop()
			if err := started[i].inst.Wait(); err != nil {
				tb.Errorf("stop: %v", err)
			}
		}
	})
	for _, spec := range shop.Services {
		service := spec.Service
		// Each service's upstreams listen already: shop.Services is in start order.
		env := map[string]string{"ADDR": "127.0.0.1:0", "DATA_DIR": opts.DataDir, "LOG_LEVEL": "debug",
			"CATALOG_URL": s.URL["catalog"], "INVENTORY_URL": s.URL["inventory"], "ORDERS_URL": s.URL["orders"]}
		for k, v := range opts.Env {
			env[k] = v
		}
		var tel *telemetry.Telemetry
		if opts.Telemetry != nil {
			tel = opts.Telemetry(service)
		}
		log := &Log{}
		ctx, stop := context.WithCancel(context.Background())
		inst, err := app.Start(ctx, spec, func(k string) string { return env[k] }, log, tel)
		if err != nil {
			stop()
			tb.Fatalf("start %s: %v", service, err)
		}
		started = append(started, running{inst, stop})
		s.URL[service] = "http://" + inst.Addr
		s.logs[service] = log
	}
	return s
}

// Log returns what the service has logged so far.
func (s *Shop) Log(service string) *Log { return s.logs[service] }

// Send posts a JSON body and returns the status and the body of the answer. It does not fail the
// test itself, so goroutines may call it.
func Send(url, contentType, body string, header http.Header) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(req)
}

// Post is Send for the test's own goroutine: an error fails the test.
func Post(tb testing.TB, url, contentType, body string, header http.Header) (int, []byte) {
	tb.Helper()
	status, data, err := Send(url, contentType, body, header)
	if err != nil {
		tb.Fatal(err)
	}
	return status, data
}

// Get fetches url and returns the status and the body of the answer.
func Get(tb testing.TB, url string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return do(tb, req)
}

func do(tb testing.TB, req *http.Request) (int, []byte) {
	tb.Helper()
	status, data, err := send(req)
	if err != nil {
		tb.Fatal(err)
	}
	return status, data
}

func send(req *http.Request) (int, []byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL, err)
	}
	return resp.StatusCode, data, nil
}

// Log is a service's stdout, safe to read while the service writes.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines returns the lines logged so far.
func (l *Log) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.buf.String()), "\n")
}

// Eventually checks cond every 50 ms until it returns nil, and fails the test with its last error if
// that has not happened within timeout: the one way the shop's tests wait for something.
func Eventually(tb testing.TB, what string, timeout time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreeAddr returns a loopback address whose port was free a moment ago: nothing listens there, and a
// process started soon after may listen there.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// StartGateway starts one more gateway over the shop's upstreams, with env added to (or replacing) its
// configuration, like a gateway whose CATALOG_URL points elsewhere. It stops when the test ends, and
// returns its base URL.
func (s *Shop) StartGateway(tb testing.TB, env map[string]string) string {
	tb.Helper()
	all := map[string]string{"ADDR": "127.0.0.1:0", "CATALOG_URL": s.URL["catalog"], "INVENTORY_URL": s.URL["inventory"], "ORDERS_URL": s.URL["orders"]}
	for k, v := range env {
		all[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := app.Start(ctx, Spec("gateway"), func(k string) string { return all[k] }, &Log{}, nil)
	if err != nil {
		cancel()
		tb.Fatalf("start gateway: %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := gw.Wait(); err != nil {
			tb.Errorf("stop gateway: %v", err)
		}
	})
	return "http://" + gw.Addr
}
