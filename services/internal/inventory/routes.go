package inventory

import (
	"net/http"

	"github.com/zerocodelab/lab/services/internal/server"
)

// Routes lists every route of inventory besides /healthz and /metrics.
func (s *Service) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodGet, Path: "/stock/:sku", Handler: s.getStock},
		{Method: http.MethodPost, Path: "/reservations", Handler: s.createReservation},
		{Method: http.MethodPost, Path: "/reservations/:id/confirm", Handler: s.confirmReservation},
		{Method: http.MethodPost, Path: "/reservations/:id/release", Handler: s.releaseReservation},
	}
}
