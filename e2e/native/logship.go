package native

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
)

// LogShipper sends the services' stdout to the Collector's fluent_forward receiver, one record per line,
// shaped as Docker's fluentd logging driver shapes them (it uses this same client library).
type LogShipper struct {
	logger *fluent.Fluent
}

// ShipLogs connects to the fluent_forward receiver at addr.
func ShipLogs(addr string) (*LogShipper, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("fluent_forward address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("fluent_forward address %q: %w", addr, err)
	}
	// Async, as Docker's fluentd-async: a slow or absent receiver must never block the service's stdout.
	logger, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: port, Async: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("connect to the Collector's fluent_forward receiver at %s: %w", addr, err)
	}
	return &LogShipper{logger: logger}, nil
}

// Close sends what is buffered and disconnects.
func (s *LogShipper) Close() error { return s.logger.Close() }

// Container is the stdout of the container name would be: each Write is one line (LaneSpec.Logs).
func (s *LogShipper) Container(name string) io.Writer { return containerLog{s.logger, name} }

type containerLog struct {
	logger *fluent.Fluent
	name   string
}

func (c containerLog) Write(line []byte) (int, error) {
	err := c.logger.PostWithTime(c.name, time.Now(), map[string]string{
		"container_name": "/" + c.name,
		"container_id":   c.name,
		"source":         "stdout",
		"log":            strings.TrimSuffix(string(line), "\n"),
	})
	return len(line), err
}
