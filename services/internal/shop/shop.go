// Package shop is the table of the shop's four services, which the binaries and the tests start: each
// service (its name and default port, from package services) with its database schema and constructor.
package shop

import (
	"github.com/zerocodelab/lab/services"
	"github.com/zerocodelab/lab/services/internal/app"
	"github.com/zerocodelab/lab/services/internal/catalog"
	"github.com/zerocodelab/lab/services/internal/gateway"
	"github.com/zerocodelab/lab/services/internal/inventory"
	"github.com/zerocodelab/lab/services/internal/orders"
)

var (
	Catalog   = app.Spec{Service: services.Catalog.Name, Schema: catalog.Schema, Build: catalog.Build}
	Inventory = app.Spec{Service: services.Inventory.Name, Schema: inventory.Schema, Build: inventory.Build}
	Orders    = app.Spec{Service: services.Orders.Name, Schema: orders.Schema, Build: orders.Build}
	Gateway   = app.Spec{Service: services.Gateway.Name, Build: gateway.Build} // keeps no database
)

// Services are the four, in the order they start: each after the services it calls (inventory asks
// orders about reservations no checkout settled; the gateway calls the other three).
var Services = []app.Spec{Catalog, Orders, Inventory, Gateway}

// Spec returns the service of that name.
func Spec(name string) (app.Spec, bool) {
	for _, s := range Services {
		if s.Service == name {
			return s, true
		}
	}
	return app.Spec{}, false
}
