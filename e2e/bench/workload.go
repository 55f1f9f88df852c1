package bench

import (
	"fmt"
	"net/http"
	"strings"

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
			body := fmt.Sprintf(`{"sku":"ceramic-mug","quantity":1,"idempotency_key":"bench-%s-%d"}`, id, n)
			req, err := http.NewRequest(http.MethodPost, l.URL["gateway"]+"/api/checkout", strings.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			return req, nil
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
