package inventory

import (
	"context"

	"github.com/zerocodelab/lab/services/internal/app"
	"github.com/zerocodelab/lab/services/internal/upstream"
)

// Build returns inventory for the bootstrap, over the database the bootstrap opened with Schema, with
// the sweep that settles reservations their checkout never settled; it asks orders about them.
func Build(d app.Deps) (*app.Service, error) {
	s := New(d.DB, d.Telemetry, d.Registry, d.Logger, d.Config.ReservationTTL)
	if err := s.loadHeld(context.Background()); err != nil {
		return nil, err
	}
	transport := upstream.NewTransport()
	orders := upstream.New("orders", d.Config.OrdersURL, d.Telemetry.Transport(transport))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.expire(ctx, orders, sweepInterval(d.Config.ReservationTTL))
	}()
	return &app.Service{
		Routes: s.Routes(),
		Close: func() error {
			stop()
			<-done
			transport.CloseIdleConnections()
			return nil
		},
	}, nil
}
