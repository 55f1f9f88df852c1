package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load("gateway", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Service: "gateway", Addr: ":8080", DataDir: "data", Lane: "plain", LogLevel: slog.LevelInfo,
		RoutePatternHint: true, CatalogURL: "http://127.0.0.1:8081", InventoryURL: "http://127.0.0.1:8082",
		OrdersURL: "http://127.0.0.1:8083", GrafanaURL: "http://127.0.0.1:3000",
		HTTP: HTTP{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10},
	}
	if cfg != want {
		t.Fatalf("Load = %+v\nwant %+v", cfg, want)
	}
	inv, err := Load("inventory", env(nil))
	if err != nil || inv.ReservationTTL != 2*time.Minute || inv.OrdersURL != "http://127.0.0.1:8083" {
		t.Fatalf("Load(inventory) = TTL %v, orders %q, %v; want 2m0s and http://127.0.0.1:8083", inv.ReservationTTL, inv.OrdersURL, err)
	}
	for service, addr := range map[string]string{"catalog": ":8081", "inventory": ":8082", "orders": ":8083"} {
		cfg, err := Load(service, env(nil))
		if err != nil || cfg.Addr != addr {
			t.Errorf("Load(%s) addr = %q, %v; want %q", service, cfg.Addr, err, addr)
		}
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	cfg, err := Load("gateway", env(map[string]string{
		"ADDR": "127.0.0.1:9000", "DATA_DIR": "/tmp/x", "LANE": "otel-auto", "LOG_LEVEL": "DEBUG",
		"ROUTE_PATTERN_HINT": "false", "CATALOG_URL": "http://catalog:8081/", "INVENTORY_URL": "http://inventory:8082",
		"ORDERS_URL": "https://orders", "GRAFANA_URL": "http://localhost:3000",
		"HTTP_READ_HEADER_TIMEOUT": "1s", "HTTP_READ_TIMEOUT": "3s", "HTTP_IDLE_TIMEOUT": "1m", "HTTP_MAX_HEADER_BYTES": "8192",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9000" || cfg.DataDir != "/tmp/x" || cfg.Lane != "otel-auto" || cfg.LogLevel != slog.LevelDebug ||
		cfg.RoutePatternHint || cfg.CatalogURL != "http://catalog:8081" || cfg.OrdersURL != "https://orders" {
		t.Fatalf("Load = %+v", cfg)
	}
	if want := (HTTP{ReadHeaderTimeout: time.Second, ReadTimeout: 3 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 8192}); cfg.HTTP != want {
		t.Fatalf("Load HTTP = %+v; want %+v", cfg.HTTP, want)
	}
	inv, err := Load("inventory", env(map[string]string{"RESERVATION_TTL": "90s", "ORDERS_URL": "http://orders:8083"}))
	if err != nil || inv.ReservationTTL != 90*time.Second || inv.OrdersURL != "http://orders:8083" {
		t.Fatalf("Load(inventory) = TTL %v, orders %q, %v", inv.ReservationTTL, inv.OrdersURL, err)
	}
}

func TestLoadRejectsBadValuesNamingTheVariable(t *testing.T) {
	tests := []struct {
		service, key, value string
	}{
		{"catalog", "ADDR", "8081"},
		{"catalog", "ADDR", ":99999"},
		{"orders", "LANE", "Manual Lane"},
		{"orders", "LOG_LEVEL", "verbose"},
		{"inventory", "ROUTE_PATTERN_HINT", "maybe"},
		{"gateway", "CATALOG_URL", "catalog:8081"},
		{"gateway", "INVENTORY_URL", "ftp://inventory"},
		{"gateway", "ORDERS_URL", "http://"},
		{"gateway", "GRAFANA_URL", "::"},
		{"inventory", "ORDERS_URL", "orders:8083"},
		{"inventory", "RESERVATION_TTL", "forever"},
		{"inventory", "RESERVATION_TTL", "10ms"},
		{"catalog", "HTTP_READ_HEADER_TIMEOUT", "0"},
		{"catalog", "HTTP_READ_TIMEOUT", "-1s"},
		{"catalog", "HTTP_IDLE_TIMEOUT", "5"},
		{"orders", "HTTP_MAX_HEADER_BYTES", "10"},
		{"orders", "HTTP_MAX_HEADER_BYTES", "lots"},
		{"gateway", "HTTP_READ_HEADER_TIMEOUT", "30s"}, // longer than the default HTTP_READ_TIMEOUT
	}
	for _, tt := range tests {
		_, err := Load(tt.service, env(map[string]string{tt.key: tt.value}))
		if err == nil {
			t.Errorf("Load(%s) with %s=%q: no error", tt.service, tt.key, tt.value)
			continue
		}
		if !strings.Contains(err.Error(), tt.key+"=") {
			t.Errorf("Load(%s) with %s=%q: error %q does not name the variable", tt.service, tt.key, tt.value, err)
		}
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load("gateway", env(map[string]string{"ADDR": "x", "LOG_LEVEL": "loud"}))
	if err == nil || !strings.Contains(err.Error(), "ADDR=") || !strings.Contains(err.Error(), "LOG_LEVEL=") {
		t.Fatalf("error %v should name both ADDR and LOG_LEVEL", err)
	}
}

func TestLoadUnknownService(t *testing.T) {
	if _, err := Load("billing", env(nil)); err == nil {
		t.Fatal("Load accepted an unknown service")
	}
}

func TestStampedLaneIsTheDefaultAndRefusesAnother(t *testing.T) {
	t.Cleanup(func() { BuildLane = "" })
	BuildLane = "otel-auto"
	cfg, err := Load("catalog", env(nil))
	if err != nil || cfg.Lane != "otel-auto" {
		t.Fatalf("Load with the binary stamped otel-auto and no LANE = %q, %v; want lane otel-auto", cfg.Lane, err)
	}
	if cfg, err := Load("catalog", env(map[string]string{"LANE": "otel-auto"})); err != nil || cfg.Lane != "otel-auto" {
		t.Fatalf("Load with LANE equal to the stamp = %q, %v", cfg.Lane, err)
	}
	_, err = Load("catalog", env(map[string]string{"LANE": "plain"}))
	if err == nil || !strings.Contains(err.Error(), "LANE=") || !strings.Contains(err.Error(), "otel-auto") {
		t.Fatalf("Load with LANE=plain in a binary built for otel-auto: %v; want an error naming LANE and the stamp", err)
	}
}
