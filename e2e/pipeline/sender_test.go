package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/pipeline"
	"github.com/zerocodelab/lab/e2e/stack"
	"github.com/zerocodelab/lab/e2e/wait"
)

// Sender gives a native process the exporter settings of a compose service, pointed at this Collector's
// receiver for the protocol: the compose file's own, or the one asked for.
func TestSenderIsTheComposeServicesExporter(t *testing.T) {
	compose, err := native.LoadCompose(context.Background(), filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ends := pipeline.Endpoints{OTLPGRPC: "127.0.0.1:1111", OTLPHTTP: "127.0.0.1:2222"}
	for _, tc := range []struct {
		service, protocol string
		want              []string
	}{
		{"manual-gateway", "", []string{"OTEL_EXPORTER_OTLP_TIMEOUT=30000", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1111"}},
		{"otel-auto-orders-agent", "", []string{"OTEL_EXPORTER_OTLP_TIMEOUT=30000", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1111"}},
		{"manual-gateway", "http/protobuf", []string{"OTEL_EXPORTER_OTLP_TIMEOUT=30000", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:2222"}},
	} {
		got, err := ends.Sender(compose, tc.service, tc.protocol)
		if err != nil {
			t.Errorf("%s %q: %v", tc.service, tc.protocol, err)
		} else if !slices.Equal(got, tc.want) {
			t.Errorf("%s %q:\n got %q\nwant %q", tc.service, tc.protocol, got, tc.want)
		}
	}
	for _, bad := range []struct{ service, protocol string }{{"manual-gateway", "http/json"}, {"plain-gateway", ""}, {"no-such-service", ""}} {
		if env, err := ends.Sender(compose, bad.service, bad.protocol); err == nil {
			t.Errorf("%s %q: %q, no error", bad.service, bad.protocol, env)
		}
	}
}

// How long the Collector is away in the sender tests: longer than the senders' batch delay (5 s, compose's
// default), so that a batch falls in the gap whatever the timing, and shorter than what the gRPC
// exporter's retries surely cover within its 30 s export timeout (OTEL_EXPORTER_OTLP_TIMEOUT in compose):
// they come 5 s apart and more, jittered by half, so the last one may come 18 s after the first failure.
const collectorAway = 8 * time.Second

// The SDK build, set up as compose sets up the manual lane (OTLP protocol, timeout, batch delay), keeps
// taking checkouts while its Collector is killed with -9 and started again collectorAway later, as
// compose's restart policy would. With the protocol compose uses, gRPC, the exporter retries the refused
// connection and every answered checkout's span arrives. With OTLP/HTTP, the exporter drops a batch it
// cannot deliver at once: the test shows that it loses spans, which is why compose does not use it.
func TestSenderLosesNothingWhileTheCollectorIsAway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the shop and restarts a Collector twice: about a minute and a half")
	}
	root := filepath.Join("..", "..")
	bins := t.TempDir()
	if err := native.BuildShop(root, bins, "otelsdk"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		protocol string // "": the one compose sets
		lossless bool
	}{
		{protocol: "", lossless: true},
		{protocol: "http/protobuf", lossless: false},
	} {
		name := tc.protocol
		if name == "" {
			name = "as compose sends"
		}
		// One after the other: a lane copies its binaries before it starts them, and a process forked by a
		// parallel subtest meanwhile could hold the file open for writing (exec: "text file busy").
		t.Run(name, func(t *testing.T) {
			lost, answered := senderAcrossRestart(t, root, bins, tc.protocol)
			t.Logf("%d of %d checkouts answered while the Collector was away (%s) have no span", lost, answered, collectorAway)
			switch {
			case answered == 0:
				t.Error("no checkout was answered while the Collector was away")
			case tc.lossless && lost > 0:
				t.Errorf("%d spans lost: the sender did not retry until the Collector was back", lost)
			case !tc.lossless && lost == 0:
				t.Errorf("no span lost: this sender was expected to drop the batches it could not deliver, so the test could not tell")
			}
		})
	}
}

// senderAcrossRestart runs the manual lane against a Collector that is away for collectorAway mid-load and
// returns how many of the checkouts answered while it was away (and the batch delay before) have no
// gateway SERVER span at the trace backend once the senders have had time to deliver. protocol, when
// set, replaces the one compose sets.
func senderAcrossRestart(t *testing.T, root, bins, protocol string) (lost, answered int) {
	ctx := context.Background()
	compose, err := native.LoadCompose(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	c := collectorUnderTest(t)
	sink := listenSink(t, c.Tempo)
	collector := start(t, c)
	sender, err := c.Sender(compose, "manual-gateway", protocol)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string][]string{}
	for _, svc := range native.Services {
		e, err := native.Environment(compose, "manual-"+svc, "ADDR", "DATA_DIR", "CATALOG_URL", "INVENTORY_URL", "ORDERS_URL", native.ExporterVars)
		if err != nil {
			t.Fatal(err)
		}
		env[svc] = append(e, sender...)
	}
	lane, err := native.StartLane(ctx, native.LaneSpec{
		Name: "manual", Bins: bins, Dir: t.TempDir(), Env: func(svc string) []string { return env[svc] },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lane.Kill() })

	tracker := &stack.Tracker{Client: &http.Client{Timeout: 10 * time.Second}, Gateways: map[string]string{"manual": lane.URL["gateway"]}}
	loadCtx, stopLoad := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { tracker.Run(loadCtx, 250*time.Millisecond); close(done) }()
	tracker.Phase("before")
	time.Sleep(3 * time.Second)
	// The batch due when the Collector is killed holds the spans of up to a batch delay (5 s) before: the
	// gap begins earlier than that, so that they count to it.
	tracker.Phase("away")
	time.Sleep(7 * time.Second)
	if err := collector.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(collectorAway)
	start(t, c) // on the same queue directory
	tracker.Phase("after")
	time.Sleep(3 * time.Second)
	stopLoad()
	<-done

	// A batch that is still being retried arrives at the exporter's next try, at most about 15 s after
	// the Collector is back; the rest within a batch delay.
	var losses []stack.Loss
	err = wait.Eventually(ctx, "every answered checkout's span", 25*time.Second, time.Second, func() error {
		losses = stack.Losses(tracker.Sent(), sink.Spans("manual"))
		for _, l := range losses {
			if l.Lost() > 0 {
				return fmt.Errorf("%s: %d of %d not received", l.Phase, l.Lost(), l.Answered)
			}
		}
		return nil
	})
	for _, l := range losses {
		t.Logf("%-6s sent %3d  answered %3d  received %3d  lost %3d", l.Phase, l.Sent, l.Answered, l.Received, l.Lost())
		switch {
		case l.Phase == "away":
			lost, answered = l.Lost(), l.Answered
		case l.Lost() > 0:
			// Before and after the gap the Collector was up: nothing may be missing there.
			t.Errorf("%s the gap: %d of %d checkouts' spans never arrived (%v)", l.Phase, l.Lost(), l.Answered, err)
		}
	}
	return lost, answered
}
