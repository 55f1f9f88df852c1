package query_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zerocodelab/lab/e2e/query"
)

// A real registry's exposition, as a service serves it, read back and summed by one label.
func TestScrapeSumsACounterByLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	checkouts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shop_checkouts_total"}, []string{"scenario", "outcome"})
	reg.MustRegister(checkouts)
	checkouts.WithLabelValues("normal", "ok").Add(3)
	checkouts.WithLabelValues("error", "failed").Add(2)
	checkouts.WithLabelValues("normal", "failed").Add(1)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	families, err := query.Scrape(context.Background(), http.DefaultClient, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := query.SumBy(families["shop_checkouts_total"], "scenario")
	if got["normal"] != 4 || got["error"] != 2 || len(got) != 2 {
		t.Errorf("by scenario: %v; want normal 4, error 2", got)
	}
	if got := query.SumBy(families["absent_total"], "scenario"); len(got) != 0 {
		t.Errorf("a family the endpoint does not expose sums to %v", got)
	}
}

func TestScrapeOfAnEndpointThatIsNotMetricsFails(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := query.Scrape(context.Background(), http.DefaultClient, srv.URL); err == nil {
		t.Error("a 404 scraped without an error")
	}
}
