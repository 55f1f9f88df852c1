package orders

import (
	"context"

	"github.com/zerocodelab/lab/services/internal/app"
	"github.com/zerocodelab/lab/services/internal/server"
	"github.com/zerocodelab/lab/services/internal/store"
)

// Build opens orders's database and returns the service for the bootstrap.
func Build(ctx context.Context, d app.Deps) (*app.Service, error) {
	return app.WithDatabase(ctx, d, Schema, func(db *store.DB) []server.Route {
		return New(db, d.Telemetry, d.Registry).Routes()
	})
}
