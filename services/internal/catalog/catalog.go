// Package catalog is the service that knows the products and their prices.
package catalog

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerocodelab/lab/services/internal/api"
	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/scenario"
	"github.com/zerocodelab/lab/services/internal/store"
	"github.com/zerocodelab/lab/services/internal/telemetry"
)

// Schema creates the products table and seeds the demo products once.
const Schema = `
CREATE TABLE IF NOT EXISTS products (
	sku         TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	price_cents INTEGER NOT NULL CHECK (price_cents > 0)
);
INSERT OR IGNORE INTO products (sku, name, price_cents) VALUES
	('espresso-beans',   'Espresso beans, 1 kg',  2400),
	('pour-over-kettle', 'Pour-over kettle',      4500),
	('ceramic-mug',      'Ceramic mug',           1200),
	('hand-grinder',     'Hand grinder',          8900),
	('paper-filters',    'Paper filters, 100',     600);
`

// Service answers catalog's routes.
type Service struct {
	db      *store.DB
	tel     *telemetry.Telemetry
	lookups *prometheus.CounterVec
}

// New returns the catalog service over db.
func New(db *store.DB, tel *telemetry.Telemetry, reg prometheus.Registerer) *Service {
	s := &Service{
		db:  db,
		tel: tel,
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_product_lookups_total",
			Help: "Product lookups by outcome: found or not_found.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(s.lookups)
	return s
}

func (s *Service) listProducts(c echo.Context) error {
	ctx := c.Request().Context()
	list := api.ProductList{Products: []api.Product{}}
	err := s.db.Select(ctx, `SELECT sku, name, price_cents FROM products ORDER BY sku`, nil, func(rows *sql.Rows) error {
		var p api.Product
		if err := rows.Scan(&p.SKU, &p.Name, &p.PriceCents); err != nil {
			return err
		}
		list.Products = append(list.Products, p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list products: %w", err)
	}
	return c.JSON(http.StatusOK, list)
}

func (s *Service) getProduct(c echo.Context) error {
	ctx := c.Request().Context()
	sku := c.Param("sku")
	if !api.ValidSKU(sku) {
		return apierror.Newf(http.StatusBadRequest, "invalid_sku", "%q is not a SKU (lower-case letters, digits and dashes)", sku)
	}
	sc, err := scenario.FromRequest(c.Request())
	if err != nil {
		return apierror.New(http.StatusBadRequest, "unknown_scenario", err.Error())
	}
	p := api.Product{SKU: sku}
	err = s.db.Get(ctx, `SELECT name, price_cents FROM products WHERE sku = ?`, []any{sku}, &p.Name, &p.PriceCents)
	if sc == scenario.NotFound {
		err = sql.ErrNoRows // the scenario plays a product withdrawn from sale
	}
	if errors.Is(err, sql.ErrNoRows) {
		s.lookups.WithLabelValues("not_found").Inc()
		if sc == scenario.NotFound {
			return apierror.Newf(http.StatusNotFound, "product_not_found", "product %q is withdrawn from sale (scenario not_found)", sku)
		}
		return apierror.Newf(http.StatusNotFound, "product_not_found", "no product with SKU %q", sku)
	}
	if err != nil {
		return fmt.Errorf("get product %s: %w", sku, err)
	}
	s.lookups.WithLabelValues("found").Inc()
	return c.JSON(http.StatusOK, p)
}
