// Package gateway is the shop's front door: the web UI and the JSON API a browser talks to.
// A checkout asks catalog for the price, inventory to reserve stock and orders to store the order.
package gateway

import (
	"context"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerocodelab/lab/services/internal/api"
	"github.com/zerocodelab/lab/services/internal/apierror"
	"github.com/zerocodelab/lab/services/internal/scenario"
	"github.com/zerocodelab/lab/services/internal/telemetry"
	"github.com/zerocodelab/lab/services/internal/traceparent"
	"github.com/zerocodelab/lab/services/internal/upstream"
)

// Upstreams are the services the gateway calls.
type Upstreams struct {
	Catalog, Inventory, Orders *upstream.Client
}

// Service answers the gateway's routes.
type Service struct {
	up         Upstreams
	tel        *telemetry.Telemetry
	logger     *slog.Logger
	keys       *keyLocks
	lane       string
	grafanaURL string
	page       *template.Template
	static     fs.FS
	checkouts  *prometheus.CounterVec
}

// New returns the gateway over its upstreams.
func New(up Upstreams, tel *telemetry.Telemetry, reg prometheus.Registerer, logger *slog.Logger, lane, grafanaURL string) (*Service, error) {
	page, err := template.ParseFS(webFiles, "web/index.html")
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		return nil, err
	}
	s := &Service{
		up: up, tel: tel, logger: logger, keys: newKeyLocks(), lane: lane, grafanaURL: grafanaURL, page: page, static: static,
		checkouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_checkouts_total",
			Help: "Checkouts by scenario and outcome: the error code answered, or ok.",
		}, []string{"scenario", "outcome"}),
	}
	reg.MustRegister(s.checkouts)
	return s, nil
}

// checkoutResponse is the answer to POST /api/checkout.
type checkoutResponse struct {
	OrderID    int64  `json:"order_id"`
	SKU        string `json:"sku"`
	Quantity   int64  `json:"quantity"`
	TotalCents int64  `json:"total_cents"`
	TraceID    string `json:"trace_id,omitempty"`
}

func (s *Service) checkout(c echo.Context) error {
	req, err := decodeCheckout(c.Request().Header.Get("Content-Type"), c.Request().Body)
	if err != nil {
		s.checkouts.WithLabelValues("invalid", outcome(err)).Inc()
		return err
	}
	order, err := s.placeOrder(c.Request().Context(), req)
	s.checkouts.WithLabelValues(string(req.Scenario), outcome(err)).Inc()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, checkoutResponse{
		OrderID:    order.OrderID,
		SKU:        order.SKU,
		Quantity:   order.Quantity,
		TotalCents: order.TotalCents,
		TraceID:    s.traceID(c),
	})
}

// placeOrder prices the product, reserves the stock, stores the order and confirms the reservation.
// The idempotency key goes to inventory and orders, so a retried checkout neither reserves twice nor
// orders twice; checkouts with the same key run one at a time here. Once the stock is reserved the
// checkout no longer follows the client's cancellation: it ends with an order and a confirmed
// reservation, or with the stock released, so that a client giving up leaks nothing. When neither can
// be known (orders' answer was lost), inventory's expiry sweep settles the reservation later.
func (s *Service) placeOrder(ctx context.Context, req checkout) (order api.Order, err error) {
	ctx, span := s.tel.Start(ctx, "checkout",
		slog.String("shop.sku", req.SKU),
		slog.Int64("shop.quantity", req.Quantity),
		slog.String("shop.scenario", string(req.Scenario)),
		slog.String("shop.idempotency_key", req.IdempotencyKey))
	defer func() {
		span.SetAttributes(slog.String("shop.outcome", outcome(err)))
		span.End(apierror.ServerFault(err))
	}()

	unlock, err := s.keys.lock(ctx, req.IdempotencyKey)
	if err != nil {
		return order, err
	}
	defer unlock()

	product, err := s.price(ctx, req.SKU, req.Scenario)
	if err != nil {
		return order, fromUpstream(err)
	}
	if err := validProduct(product, req.SKU); err != nil {
		return order, err
	}
	span.AddEvent("priced", slog.Int64("shop.unit_price_cents", product.PriceCents))

	var reservation api.Reservation
	err = s.up.Inventory.Do(ctx, http.MethodPost, "/reservations", req.Scenario,
		api.ReservationRequest{ReservationID: req.IdempotencyKey, SKU: req.SKU, Quantity: req.Quantity}, &reservation)
	if err != nil {
		return order, fromUpstream(err)
	}
	if err := validReservation(reservation, req); err != nil {
		return order, err
	}
	span.AddEvent("stock reserved", slog.Int64("shop.remaining", reservation.Remaining), slog.Bool("shop.stock_taken", reservation.Taken))

	ctx = context.WithoutCancel(ctx) // from here on, the checkout ends cleanly even if the client left
	err = s.up.Orders.Do(ctx, http.MethodPost, "/orders", req.Scenario,
		api.OrderRequest{IdempotencyKey: req.IdempotencyKey, SKU: req.SKU, Quantity: req.Quantity,
			UnitPriceCents: product.PriceCents, Hold: reservation.Hold}, &order)
	if err == nil {
		err = validOrder(order, req)
	}
	if err != nil {
		if reservation.Taken && notStored(err) {
			s.settle(ctx, req, "release", api.ReleaseRequest{Hold: reservation.Hold})
		}
		return order, fromUpstream(err)
	}
	span.SetAttributes(slog.Int64("shop.order_id", order.OrderID), slog.Int64("shop.total_cents", order.TotalCents))
	if reservation.State != api.Confirmed {
		s.settle(ctx, req, "confirm", nil)
	}
	return order, nil
}

// notStored reports whether a failed call to store an order certainly stored nothing: orders refused it
// (a 4xx), or could not be reached at all. A 5xx or a call broken off midway may come after the order
// was stored: those are left to inventory's expiry sweep, which asks orders.
func notStored(err error) bool {
	var se *upstream.StatusError
	return errors.As(err, &se) && se.Status < 500 || upstream.NotSent(err)
}

// settle confirms or releases the checkout's reservation (action is "confirm" or "release"). It only
// logs a failure: the checkout's answer stands, and inventory's expiry sweep settles what is left held.
// A confirm refused because the reservation was released is the one outcome the saga rules out: an
// order whose stock went back. It is logged as an error.
func (s *Service) settle(ctx context.Context, req checkout, action string, body any) {
	ctx, span := s.tel.Start(ctx, action+" reservation", slog.String("shop.idempotency_key", req.IdempotencyKey))
	var res api.Reservation
	err := s.up.Inventory.Do(ctx, http.MethodPost, "/reservations/"+req.IdempotencyKey+"/"+action, req.Scenario, body, &res)
	span.End(err)
	var se *upstream.StatusError
	switch {
	case err == nil:
	case action == "confirm" && errors.As(err, &se) && se.Body.Code == "reservation_released":
		s.logger.ErrorContext(ctx, "order stored for a released reservation", "idempotency_key", req.IdempotencyKey, "error", err.Error())
	default:
		s.logger.WarnContext(ctx, "reservation left to inventory's expiry sweep", "action", action,
			"idempotency_key", req.IdempotencyKey, "error", err.Error())
	}
}

// price asks catalog for the product. In the fan-out scenario it first lists the catalog and then
// prices every product at once, one goroutine each, as a page refreshing all its prices would.
func (s *Service) price(ctx context.Context, sku string, sc scenario.Name) (p api.Product, err error) {
	ctx, span := s.tel.Start(ctx, "price lookup", slog.String("shop.sku", sku), slog.Bool("shop.fanout", sc == scenario.Fanout))
	defer func() { span.End(apierror.ServerFault(fromUpstream(err))) }()

	if sc != scenario.Fanout {
		err = s.up.Catalog.Do(ctx, http.MethodGet, "/products/"+sku, sc, nil, &p)
		return p, err
	}
	var list api.ProductList
	if err := s.up.Catalog.Do(ctx, http.MethodGet, "/products", sc, nil, &list); err != nil {
		return p, err
	}
	prices := make([]api.Product, len(list.Products))
	errs := make([]error, len(list.Products))
	var wg sync.WaitGroup
	for i, listed := range list.Products {
		wg.Go(func() {
			// Each goroutine carries the request's context: that is what links the call to the checkout.
			errs[i] = s.up.Catalog.Do(ctx, http.MethodGet, "/products/"+listed.SKU, sc, nil, &prices[i])
		})
	}
	wg.Wait()
	span.AddEvent("priced concurrently", slog.Int("shop.products", len(prices)))
	if err := errors.Join(errs...); err != nil {
		return p, err
	}
	for _, priced := range prices {
		if priced.SKU == sku {
			return priced, nil
		}
	}
	// Not in the list: ask for it alone, which answers the catalog's own 404.
	err = s.up.Catalog.Do(ctx, http.MethodGet, "/products/"+sku, sc, nil, &p)
	return p, err
}

// productView is one row of GET /api/products.
type productView struct {
	api.Product
	Available int64 `json:"available"`
}

func (s *Service) products(c echo.Context) error {
	ctx := c.Request().Context()
	var list api.ProductList
	if err := s.up.Catalog.Do(ctx, http.MethodGet, "/products", scenario.Normal, nil, &list); err != nil {
		return fromUpstream(err)
	}
	views := make([]productView, len(list.Products))
	errs := make([]error, len(list.Products))
	var wg sync.WaitGroup
	for i, p := range list.Products {
		views[i].Product = p
		wg.Go(func() {
			var st api.Stock
			errs[i] = s.up.Inventory.Do(ctx, http.MethodGet, "/stock/"+p.SKU, scenario.Normal, nil, &st)
			views[i].Available = st.Available
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fromUpstream(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"products": views})
}

func (s *Service) index(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return s.page.Execute(c.Response(), map[string]any{
		"Lane":       s.lane,
		"GrafanaURL": s.grafanaURL,
		"Scenarios":  scenario.All,
		"MaxQty":     api.MaxQuantity,
	})
}

// traceID is the trace this request belongs to: the SDK's active span, else a valid incoming traceparent.
func (s *Service) traceID(c echo.Context) string {
	if id := s.tel.TraceID(c.Request().Context()); id != "" {
		return id
	}
	id, _ := traceparent.TraceID(c.Request().Header.Get(traceparent.Header))
	return id
}

// fromUpstream turns an upstream's refusal into the gateway's answer: a missing product (404) or a
// business refusal (409) passes through unchanged; any other upstream failure is a 502 naming the service.
func fromUpstream(err error) error {
	var se *upstream.StatusError
	if !errors.As(err, &se) {
		return err
	}
	if se.Status == http.StatusNotFound || se.Status == http.StatusConflict {
		return apierror.New(se.Status, se.Body.Code, se.Body.Message).Wrap(err)
	}
	return apierror.Newf(http.StatusBadGateway, "upstream_error", "%s answered %d: %s", se.Service, se.Status, se.Body.Message).Wrap(err)
}

// outcome labels a checkout for metrics and spans: ok, or the error code it was answered with.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	_, body := apierror.From(err)
	return body.Code
}
