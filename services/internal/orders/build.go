package orders

import "github.com/zerocodelab/lab/services/internal/app"

// Build returns orders for the bootstrap, over the database the bootstrap opened with Schema.
func Build(d app.Deps) (*app.Service, error) {
	return &app.Service{Routes: New(d.DB, d.Telemetry, d.Registry).Routes()}, nil
}
