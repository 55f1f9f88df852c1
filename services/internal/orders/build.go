package orders

import (
	"context"

	"github.com/zerocodelab/lab/services/internal/app"
	"github.com/zerocodelab/lab/services/internal/store"
)

// Build opens orders's database and returns the service for the bootstrap.
func Build(ctx context.Context, d app.Deps) (*app.Service, error) {
	db, err := store.Open(ctx, d.Config.DataDir, "orders", d.Telemetry, Schema)
	if err != nil {
		return nil, err
	}
	return &app.Service{
		Routes: New(db, d.Telemetry, d.Registry).Routes(),
		Ready:  db.Ping,
		Close:  db.Close,
	}, nil
}
