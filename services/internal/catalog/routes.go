package catalog

import (
	"net/http"

	"github.com/zerocodelab/lab/services/internal/server"
)

// Routes lists every route of catalog besides /healthz and /metrics.
func (s *Service) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodGet, Path: "/products", Handler: s.listProducts},
		{Method: http.MethodGet, Path: "/products/:sku", Handler: s.getProduct},
	}
}
