package native_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/zerocodelab/lab/e2e/checkout"
	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/report"
)

const root = "../.."

// bins are the plain build of the shop, built once for the tests that start lanes.
var bins string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "native-test-")
	if err == nil {
		bins = dir
		err = native.BuildShop(root, bins, "")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// A lane starts on ports the kernel picked, read from each service's "listening" line, and its gateway
// reaches the upstreams it was given; Kill leaves nothing running.
func TestLaneStartsOnPickedPortsAndServesACheckout(t *testing.T) {
	var logged report.Log
	l, err := native.StartLane(context.Background(), native.LaneSpec{
		Name: "plain", Bins: bins, Dir: t.TempDir(),
		Logs: func(string) io.Writer { return &logged }, // every line, as a log driver gets them
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Kill()
	for _, svc := range native.Services {
		if u := l.URL[svc]; !strings.HasPrefix(u, "http://127.0.0.1:") || strings.HasSuffix(u, ":0") {
			t.Errorf("%s listens on %q", svc, u)
		}
	}
	// The checkout as the lab's tools send it: the real gateway takes it.
	req, err := checkout.Request(context.Background(), l.URL["gateway"], checkout.Order{SKU: "ceramic-mug", Quantity: 1}, checkout.NewTraceparent())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("checkout through the lane: %d; want 201", resp.StatusCode)
	}
	if err := l.Kill(); err != nil {
		t.Fatal(err)
	}
	for svc, p := range l.Procs {
		if p.State() == nil {
			t.Errorf("%s still runs after Kill", svc)
		}
	}
	if !strings.Contains(logged.String(), `"msg":"listening"`) || !strings.Contains(logged.String(), `"lane":"plain"`) {
		t.Errorf("the lane's log copy lacks the listening line or the lane:\n%s", logged.String())
	}
}

// A service that stops at start (here a bad setting) makes StartLane fail with its output, and nothing
// the lane started keeps running.
func TestLaneThatCannotStartSaysWhyAndLeavesNothing(t *testing.T) {
	_, err := native.StartLane(context.Background(), native.LaneSpec{
		Name: "plain", Bins: bins, Dir: t.TempDir(),
		Env: func(svc string) []string {
			if svc == "inventory" {
				return []string{"RESERVATION_TTL=soon"}
			}
			return nil
		},
	})
	if err == nil || !strings.Contains(err.Error(), "RESERVATION_TTL") || !strings.Contains(err.Error(), "inventory") {
		t.Fatalf("StartLane = %v; want inventory's error naming RESERVATION_TTL", err)
	}
}

// The compose file is where a native lane takes its settings from.
func TestEnvironmentIsTheComposeServices(t *testing.T) {
	p, err := native.LoadCompose(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	env, err := native.Environment(p, "otel-auto-catalog-agent", "OTEL_GO_AUTO_TARGET_PID")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(env, "\n")
	for _, want := range []string{"OTEL_GO_AUTO_INCLUDE_DB_STATEMENT=true", "OTEL_SERVICE_NAME=catalog"} {
		if !strings.Contains(joined, want) {
			t.Errorf("otel-auto-catalog-agent's environment lacks %s:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "OTEL_GO_AUTO_TARGET_PID") {
		t.Errorf("a dropped variable is still there:\n%s", joined)
	}
	// A name ending in * drops every variable it begins.
	env, err = native.Environment(p, "manual-gateway", native.ExporterVars)
	if err != nil {
		t.Fatal(err)
	}
	joined = strings.Join(env, "\n")
	if strings.Contains(joined, "OTEL_EXPORTER_OTLP_") || !strings.Contains(joined, "OTEL_SERVICE_NAME=gateway") {
		t.Errorf("manual-gateway's environment less %s:\n%s", native.ExporterVars, joined)
	}
	if _, err := native.Environment(p, "no-such-service"); err == nil {
		t.Error("an unknown service is not an error")
	}
}
