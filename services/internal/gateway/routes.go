package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/zerocodelab/lab/services/internal/server"
)

// Routes lists every route of the gateway besides /healthz and /metrics.
func (s *Service) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodGet, Path: "/", Handler: s.index},
		{Method: http.MethodGet, Path: "/static/*", Handler: echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(s.static)))},
		{Method: http.MethodGet, Path: "/api/products", Handler: s.products},
		{Method: http.MethodPost, Path: "/api/checkout", Handler: s.checkout},
	}
}
