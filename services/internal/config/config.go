// Package config reads a service's configuration from environment variables and validates it at start,
// so that a bad value stops the program with a message naming the variable.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zerocodelab/lab/services"
)

// Config is everything a service reads from its environment.
type Config struct {
	Service          string     // gateway, catalog, inventory or orders; not read from the environment
	Addr             string     // ADDR: listen address
	DataDir          string     // DATA_DIR: where the service keeps its SQLite file
	Lane             string     // LANE: which copy of the shop this is (plain, beyla, otel-auto, manual)
	LogLevel         slog.Level // LOG_LEVEL: debug, info, warn or error
	RoutePatternHint bool       // ROUTE_PATTERN_HINT: copy Echo's route into http.Request.Pattern for eBPF agents
	HTTP             HTTP       // how long a client may take, and how large its headers may be

	// The gateway's upstreams and the Grafana it links traces to. Inventory asks orders too, about
	// reservations whose checkout never confirmed them.
	CatalogURL   string // CATALOG_URL
	InventoryURL string // INVENTORY_URL
	OrdersURL    string // ORDERS_URL (gateway and inventory)
	GrafanaURL   string // GRAFANA_URL

	// ReservationTTL (RESERVATION_TTL, inventory only) is how long a reservation is held for its checkout
	// to store the order. After it, unless orders has the order, the stock goes back.
	ReservationTTL time.Duration
}

// HTTP are the server's limits on its clients: a client that sends its request too slowly is cut off,
// so that slow or stalled clients cannot hold every connection and file descriptor.
type HTTP struct {
	ReadHeaderTimeout time.Duration // HTTP_READ_HEADER_TIMEOUT: to send the request's headers
	ReadTimeout       time.Duration // HTTP_READ_TIMEOUT: to send the whole request, body included
	IdleTimeout       time.Duration // HTTP_IDLE_TIMEOUT: a kept-alive connection may idle this long
	MaxHeaderBytes    int           // HTTP_MAX_HEADER_BYTES: the request line and headers together
}

// BuildLane is the lane a binary was built for, stamped by the image build
// (-ldflags "-X github.com/zerocodelab/lab/services/internal/config.BuildLane=otel-auto"), empty otherwise.
// Stamping makes every lane's binary a file of its own: eBPF uprobes attach to a file, so lanes sharing
// one would share every agent's probes. A stamped binary defaults LANE to its lane and refuses another.
var BuildLane string

// lanePattern keeps the lane usable as a Prometheus label value and a Loki label.
var lanePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Load reads the configuration of service from getenv. Every problem is reported, each naming its variable.
func Load(service string, getenv func(string) string) (Config, error) {
	svc, ok := services.Named(service)
	if !ok {
		return Config{}, fmt.Errorf("config: unknown service %q", service)
	}
	cfg := Config{Service: service}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	cfg.Addr = orDefault(getenv("ADDR"), svc.Addr())
	check(validateAddr(cfg.Addr))

	cfg.DataDir = orDefault(getenv("DATA_DIR"), "data")
	cfg.Lane = orDefault(getenv("LANE"), orDefault(BuildLane, "plain"))
	switch {
	case !lanePattern.MatchString(cfg.Lane):
		check(fmt.Errorf("LANE=%q: want 1-32 lower-case letters, digits, '-' or '_'", cfg.Lane))
	case BuildLane != "" && cfg.Lane != BuildLane:
		check(fmt.Errorf("LANE=%q: this binary was built for lane %q; build one per lane (services/Dockerfile, build-arg LANE)", cfg.Lane, BuildLane))
	}

	var err error
	cfg.LogLevel, err = parseLevel(getenv("LOG_LEVEL"))
	check(err)
	cfg.RoutePatternHint, err = parseBool("ROUTE_PATTERN_HINT", getenv("ROUTE_PATTERN_HINT"), true)
	check(err)
	cfg.HTTP, err = loadHTTP(getenv)
	check(err)

	if service == services.Inventory.Name {
		cfg.OrdersURL, err = parseURL("ORDERS_URL", getenv("ORDERS_URL"), services.Orders.LocalURL())
		check(err)
		// Longer than any checkout can take (each upstream call gives up after 10 s).
		cfg.ReservationTTL, err = parseDuration("RESERVATION_TTL", getenv("RESERVATION_TTL"), 2*time.Minute, time.Second, 24*time.Hour)
		check(err)
	}
	if service == services.Gateway.Name {
		cfg.CatalogURL, err = parseURL("CATALOG_URL", getenv("CATALOG_URL"), services.Catalog.LocalURL())
		check(err)
		cfg.InventoryURL, err = parseURL("INVENTORY_URL", getenv("INVENTORY_URL"), services.Inventory.LocalURL())
		check(err)
		cfg.OrdersURL, err = parseURL("ORDERS_URL", getenv("ORDERS_URL"), services.Orders.LocalURL())
		check(err)
		cfg.GrafanaURL, err = parseURL("GRAFANA_URL", getenv("GRAFANA_URL"), "http://127.0.0.1:3000")
		check(err)
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config of %s: %w", service, errors.Join(errs...))
	}
	return cfg, nil
}

func orDefault(value, def string) string {
	if value == "" {
		return def
	}
	return value
}

func validateAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ADDR=%q: want host:port, like :8080 or 127.0.0.1:8080", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("ADDR=%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

func parseLevel(value string) (slog.Level, error) {
	switch strings.ToLower(value) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", value)
}

func parseBool(name, value string, def bool) (bool, error) {
	if value == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(value)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, value)
	}
	return b, nil
}

func loadHTTP(getenv func(string) string) (HTTP, error) {
	var h HTTP
	var errs [4]error
	h.ReadHeaderTimeout, errs[0] = parseDuration("HTTP_READ_HEADER_TIMEOUT", getenv("HTTP_READ_HEADER_TIMEOUT"), 5*time.Second, 100*time.Millisecond, time.Hour)
	h.ReadTimeout, errs[1] = parseDuration("HTTP_READ_TIMEOUT", getenv("HTTP_READ_TIMEOUT"), 10*time.Second, 100*time.Millisecond, time.Hour)
	h.IdleTimeout, errs[2] = parseDuration("HTTP_IDLE_TIMEOUT", getenv("HTTP_IDLE_TIMEOUT"), 2*time.Minute, time.Second, 24*time.Hour)
	h.MaxHeaderBytes, errs[3] = parseInt("HTTP_MAX_HEADER_BYTES", getenv("HTTP_MAX_HEADER_BYTES"), 16<<10, 4<<10, 1<<20)
	if err := errors.Join(errs[:]...); err != nil {
		return h, err
	}
	if h.ReadHeaderTimeout > h.ReadTimeout {
		// The headers are part of the request: a longer header timeout would never apply.
		return h, fmt.Errorf("HTTP_READ_HEADER_TIMEOUT=%v is longer than HTTP_READ_TIMEOUT=%v, which covers the headers too", h.ReadHeaderTimeout, h.ReadTimeout)
	}
	return h, nil
}

// parseDuration reads a Go duration (like 10s or 2m) between min and max.
func parseDuration(name, value string, def, min, max time.Duration) (time.Duration, error) {
	if value == "" {
		return def, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil || d < min || d > max {
		return 0, fmt.Errorf("%s=%q: want a duration from %v to %v, like %v", name, value, min, max, def)
	}
	return d, nil
}

// parseInt reads a whole number between min and max.
func parseInt(name, value string, def, min, max int) (int, error) {
	if value == "" {
		return def, nil
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s=%q: want a whole number from %d to %d, like %d", name, value, min, max, def)
	}
	return n, nil
}

func parseURL(name, value, def string) (string, error) {
	value = orDefault(value, def)
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s=%q: want an absolute http(s) URL, like %s", name, value, def)
	}
	return strings.TrimRight(value, "/"), nil
}
