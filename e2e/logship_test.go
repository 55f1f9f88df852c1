//go:build e2e

package e2e

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
)

// logShipper sends a process's stdout to the Collector's fluent_forward receiver, one record per line,
// shaped as Docker's fluentd logging driver shapes them (it uses this same client library).
type logShipper struct {
	logger *fluent.Fluent
}

func newLogShipper(t *testing.T, addr string) *logShipper {
	t.Helper()
	host, port := splitHostPort(t, addr)
	// Async, as Docker's fluentd-async: a slow or absent receiver must never block the service's stdout.
	logger, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: port, Async: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("connect to the Collector's fluent_forward receiver at %s: %v", addr, err)
	}
	t.Cleanup(func() { logger.Close() })
	return &logShipper{logger: logger}
}

// ship reads r line by line until it ends, forwarding each line as container name's stdout, and
// copying it to copyTo.
func (s *logShipper) ship(name string, r io.Reader, copyTo io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		copyTo.Write([]byte(line + "\n"))
		s.logger.PostWithTime(name, time.Now(), map[string]string{
			"container_name": "/" + name,
			"container_id":   name,
			"source":         "stdout",
			"log":            line,
		})
	}
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, portText, err := net.SplitHostPort(addr)
	port, err2 := strconv.Atoi(portText)
	if err != nil || err2 != nil {
		t.Fatalf("bad address %q", addr)
	}
	return host, port
}
