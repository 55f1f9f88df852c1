package shoptest

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkCheckout measures one whole checkout through the four services: gateway -> catalog,
// inventory, orders over loopback HTTP, with SQLite writes. Built without tags it is the baseline;
// with -tags otelsdk the same run includes the SDK's spans, exported through a batch processor to an
// exporter that drops them (so the cost of the Collector's side is not counted). `make bench` runs both
// and compares them.
func BenchmarkCheckout(b *testing.B) {
	shop := Start(b, Options{Telemetry: benchTelemetry()})
	url := shop.URL["gateway"] + "/api/checkout"
	var n atomic.Int64

	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			body := fmt.Sprintf(`{"sku":"ceramic-mug","quantity":1,"idempotency_key":"bench-%d"}`, n.Add(1))
			if status, data := Post(b, url, jsonType, body, nil); status != 201 {
				b.Fatalf("checkout = %d %s", status, data)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				body := fmt.Sprintf(`{"sku":"espresso-beans","quantity":1,"idempotency_key":"bench-%d"}`, n.Add(1))
				if status, data, err := Send(url, jsonType, body, nil); err != nil || status != 201 {
					b.Errorf("checkout = %d %s %v", status, data, err)
					return
				}
			}
		})
	})
}
