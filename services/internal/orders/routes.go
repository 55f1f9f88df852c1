package orders

import (
	"net/http"

	"github.com/zerocodelab/lab/services/internal/server"
)

// Routes lists every route of orders besides /healthz and /metrics.
func (s *Service) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodPost, Path: "/orders", Handler: s.createOrder},
		{Method: http.MethodGet, Path: "/orders/:id", Handler: s.getOrder},
		{Method: http.MethodPost, Path: "/orders/voids", Handler: s.voidHold},
	}
}
