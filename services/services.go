// Package services names the shop's four services and the port each listens on by default, the one
// place the configuration's defaults, the bootstrap's table (internal/shop) and the tests read them from.
package services

import "fmt"

// Service is one of the shop's services.
type Service struct {
	Name string
	Port int // its default listen port (ADDR=:Port), and where the others reach it on one host
}

var (
	Gateway   = Service{Name: "gateway", Port: 8080}
	Catalog   = Service{Name: "catalog", Port: 8081}
	Inventory = Service{Name: "inventory", Port: 8082}
	Orders    = Service{Name: "orders", Port: 8083}
)

// Named returns the service of that name.
func Named(name string) (Service, bool) {
	for _, s := range []Service{Gateway, Catalog, Inventory, Orders} {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Addr is the service's default listen address, on every interface.
func (s Service) Addr() string { return fmt.Sprintf(":%d", s.Port) }

// LocalURL is where the other services reach it by default: on the same host.
func (s Service) LocalURL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.Port) }
