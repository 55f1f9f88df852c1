package gateway

import (
	"embed"

	"github.com/zerocodelab/lab/services/internal/app"
	"github.com/zerocodelab/lab/services/internal/upstream"
)

//go:embed web
var webFiles embed.FS

// Build returns the gateway for the bootstrap, with one client per upstream sharing one connection pool.
func Build(d app.Deps) (*app.Service, error) {
	transport := upstream.NewTransport()
	rt := d.Telemetry.Transport(transport)
	s, err := New(Upstreams{
		Catalog:   upstream.New("catalog", d.Config.CatalogURL, rt),
		Inventory: upstream.New("inventory", d.Config.InventoryURL, rt),
		Orders:    upstream.New("orders", d.Config.OrdersURL, rt),
	}, d.Telemetry, d.Registry, d.Logger, d.Config.Lane, d.Config.GrafanaURL)
	if err != nil {
		return nil, err
	}
	return &app.Service{
		Routes: s.Routes(),
		// Idle upstream connections would otherwise hold the upstreams' graceful shutdown for 5 s.
		Close: func() error { transport.CloseIdleConnections(); return nil },
	}, nil
}
