package shop_test

import (
	"testing"

	"github.com/zerocodelab/lab/services"
	"github.com/zerocodelab/lab/services/internal/shop"
)

// Every service of the table is one package services names, each with a port of its own, and each
// starts after the services it calls.
func TestTheTableStartsEachServiceAfterItsUpstreams(t *testing.T) {
	ports := map[int]string{}
	started := map[string]bool{}
	calls := map[string][]string{
		services.Gateway.Name:   {services.Catalog.Name, services.Inventory.Name, services.Orders.Name},
		services.Inventory.Name: {services.Orders.Name}, // about reservations no checkout settled
	}
	for _, spec := range shop.Services {
		svc, ok := services.Named(spec.Service)
		if !ok {
			t.Fatalf("%s is not one of package services' names", spec.Service)
		}
		if other, taken := ports[svc.Port]; taken {
			t.Errorf("%s and %s both default to port %d", other, svc.Name, svc.Port)
		}
		ports[svc.Port] = svc.Name
		for _, up := range calls[svc.Name] {
			if !started[up] {
				t.Errorf("%s starts before %s, which it calls", svc.Name, up)
			}
		}
		started[svc.Name] = true
		if got, ok := shop.Spec(svc.Name); !ok || got.Service != svc.Name {
			t.Errorf("shop.Spec(%q) = %v, %v", svc.Name, got.Service, ok)
		}
	}
	if len(started) != 4 {
		t.Errorf("the table has %d services; want the shop's 4", len(started))
	}
}
