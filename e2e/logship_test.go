//go:build e2e

package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
)

// logShipper sends the services' stdout to the Collector's fluent_forward receiver, one record per line,
// shaped as Docker's fluentd logging driver shapes them (it uses this same client library).
type logShipper struct {
	logger *fluent.Fluent
}

func newLogShipper(t *testing.T, addr string) *logShipper {
	t.Helper()
	host, portText, err := net.SplitHostPort(addr)
	port, err2 := strconv.Atoi(portText)
	if err != nil || err2 != nil {
		t.Fatalf("bad address %q", addr)
	}
	// Async, as Docker's fluentd-async: a slow or absent receiver must never block the service's stdout.
	logger, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: port, Async: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("connect to the Collector's fluent_forward receiver at %s: %v", addr, err)
	}
	t.Cleanup(func() { logger.Close() })
	return &logShipper{logger: logger}
}

// container is the stdout of the container name would be: each Write is one line (native.LaneSpec.Logs).
func (s *logShipper) container(name string) containerLog { return containerLog{s, name} }

type containerLog struct {
	shipper *logShipper
	name    string
}

func (c containerLog) Write(line []byte) (int, error) {
	err := c.shipper.logger.PostWithTime(c.name, time.Now(), map[string]string{
		"container_name": "/" + c.name,
		"container_id":   c.name,
		"source":         "stdout",
		"log":            strings.TrimSuffix(string(line), "\n"),
	})
	return len(line), err
}
