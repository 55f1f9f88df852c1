package bench

import (
	"context"
	"fmt"
	"net/http"

	"github.com/zerocodelab/lab/e2e/checkout"
	"github.com/zerocodelab/lab/e2e/native"
)

// Workload is one kind of request the bench sends.
type Workload struct {
	Name string
	What string
	// Request builds request n of a measurement to lane l; id tells measurements apart.
	Request func(l *native.Lane, id string, n uint64) (*http.Request, error)
}

// Workloads are a read in one service and the checkout through all four.
var Workloads = []Workload{
	{
		Name: "read",
		What: "GET /products/ceramic-mug on catalog: one service and its SQLite database",
		Request: func(l *native.Lane, _ string, _ uint64) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, l.URL["catalog"]+"/products/ceramic-mug", nil)
		},
	},
	{
		Name: "checkout",
		What: "POST /api/checkout through the four services, a fresh idempotency key each",
		Request: func(l *native.Lane, id string, n uint64) (*http.Request, error) {
			order := checkout.Order{SKU: "ceramic-mug", Quantity: 1, IdempotencyKey: fmt.Sprintf("bench-%s-%d", id, n)}
			return checkout.Request(context.Background(), l.URL["gateway"], order, checkout.Traceparent{})
		},
	},
}

// WorkloadByName finds a workload.
func WorkloadByName(name string) (Workload, bool) {
	for _, w := range Workloads {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}
