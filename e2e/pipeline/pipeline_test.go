package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/zerocodelab/lab/e2e/pipeline"
	"github.com/zerocodelab/lab/e2e/proc"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/wait"
)

// The Collector under test: the one `make collector` builds, with the project's config. To see what another
// build or config would lose, point these at it, e.g. the config with the batch processor it had before:
//
//	git show <commit>:collector/config.yaml > /tmp/old.yaml
//	PIPELINE_CONFIG=/tmp/old.yaml PIPELINE_OTELCOL=/path/to/a/build/with/batch go test -v -run Kill ./pipeline
//
// Measured here (8 senders of 50-span requests, killed once 20000 were acknowledged, Tempo down): with the
// batch processor in front of the queues, 4600, 5050 and 5300 acknowledged spans were lost in three runs;
// with the queues batching, none.
const (
	defaultOtelcol = "../../build/otelcol/otelcol-zerocode"
	defaultConfig  = "../../collector/config.yaml"
)

// A Collector killed with -9 under load, its trace backend down, loses none of the spans it acknowledged:
// restarted on the same queue directory with the backend up, it delivers every one of them.
func TestKillMidLoadLosesNothingAcknowledged(t *testing.T) {
	c := collectorUnderTest(t)
	p := start(t, c)

	load := pipeline.NewLoad(dial(t, c.OTLPGRPC), "kill", 50)
	ctx, stopLoad := context.WithCancel(context.Background())
	loaded := make(chan struct{})
	began := time.Now()
	go func() { load.Run(ctx, 8); close(loaded) }()
	// Mid-load: enough acknowledged for a crash to have something to lose, and requests still in flight.
	err := wait.Eventually(context.Background(), "20000 spans acknowledged", 30*time.Second, 10*time.Millisecond, func() error {
		if n := load.Acknowledged(); n < 20000 {
			return fmt.Errorf("%d so far", n)
		}
		return nil
	})
	if err != nil {
		stopLoad()
		t.Fatal(err)
	}
	atKill := load.Count(nil)
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	stopLoad()
	<-loaded
	t.Logf("killed with -9 mid-load, %.1f s in: %d spans acknowledged, %d refused", time.Since(began).Seconds(), atKill.Acknowledged, atKill.Refused)

	sink := listenSink(t, c.Tempo)
	start(t, c) // on the same queue directory, as compose's restart: unless-stopped would
	tally := waitDelivered(t, load, sink)
	t.Logf("with %s: %s", c.Config, tally)
	if tally.Lost > 0 {
		t.Errorf("%d acknowledged spans never reached the backend", tally.Lost)
	}
}

// Eleven bytes on the fluent forward port kill the Collector (opentelemetry-collector-contrib#48519, in
// v0.159.0): where this kernel refuses the 32 GiB the receiver asks for, it dies. Restarted as compose
// would, it delivers the spans it acknowledged before the crash and takes new ones.
func TestFluentCrashLosesNothingAcknowledged(t *testing.T) {
	c := collectorUnderTest(t)
	p := start(t, c)
	load := pipeline.NewLoad(dial(t, c.OTLPGRPC), "fluent", 50)
	sendAll(t, load, 20) // queued on disk: the trace backend is down

	refuses, why, err := pipeline.KernelRefuses(pipeline.HugeForwardAlloc)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.SendFluent(c.Fluent, pipeline.HugeForwardEntries()); err != nil {
		t.Fatal(err)
	}
	died := wait.Eventually(context.Background(), "the Collector exits", 15*time.Second, 50*time.Millisecond, func() error {
		if p.State() == nil {
			return fmt.Errorf("still running")
		}
		return nil
	}) == nil
	switch {
	case died:
		t.Logf("11 bytes on the fluent forward port: the Collector died (%s): %s", p.State(), fatalLine(p.Output()))
		if !strings.Contains(p.Output(), "out of memory") {
			t.Errorf("the Collector died, but not of the allocation; output:\n%s", report.Tail(p.Output(), 4000))
		}
	case refuses:
		t.Fatalf("this kernel refuses %d bytes (%s), yet the Collector lives; output:\n%s", uint64(pipeline.HugeForwardAlloc), why, report.Tail(p.Output(), 4000))
	default:
		t.Logf("the Collector survived: this kernel grants the allocation (%s)", why)
	}
	if died != refuses {
		t.Logf("note: the kernel's policy (%s) predicted died=%v", why, refuses)
	}

	sink := listenSink(t, c.Tempo)
	if died {
		start(t, c)
	}
	sendAll(t, load, 20) // after the restart
	tally := waitDelivered(t, load, sink)
	t.Logf("%s", tally)
	if tally.Lost > 0 {
		t.Errorf("%d acknowledged spans never reached the backend", tally.Lost)
	}
	if tally.Refused > 0 {
		t.Errorf("the Collector refused %d spans sent while it was up", tally.Refused)
	}
}

// collectorUnderTest is the Collector to run, on free loopback ports, its queues in a directory of the test's.
func collectorUnderTest(t testing.TB) pipeline.Collector {
	t.Helper()
	bin, err := filepath.Abs(cmp(os.Getenv("PIPELINE_OTELCOL"), defaultOtelcol))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the Collector is not built: run make collector (%v)", err)
	}
	ep, err := pipeline.NewEndpoints(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Collector{Bin: bin, Config: cmp(os.Getenv("PIPELINE_CONFIG"), defaultConfig), Endpoints: ep}
}

func cmp(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// start runs the Collector until the test ends, and shows its output if the test failed.
func start(t testing.TB, c pipeline.Collector) *proc.Process {
	t.Helper()
	p, err := c.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("the Collector's output (%v):\n%s", p.State(), report.Tail(p.Output(), 4000))
		}
	})
	return p
}

func dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// listenSink brings the trace backend up where the Collector's Tempo exporter sends.
func listenSink(t testing.TB, addr string) *spans.Sink {
	t.Helper()
	sink, _, stop, err := spans.ListenSink(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return sink
}

// sendAll sends n requests, one after the other, each of which the Collector must acknowledge.
func sendAll(t *testing.T, load *pipeline.Load, n int) {
	t.Helper()
	for range n {
		if err := load.Send(context.Background()); err != nil {
			t.Fatalf("the Collector refused a request: %v", err)
		}
	}
}

// waitDelivered waits until the backend received every span the Collector acknowledged, and tallies.
func waitDelivered(t *testing.T, load *pipeline.Load, sink *spans.Sink) pipeline.Tally {
	t.Helper()
	var tally pipeline.Tally
	err := wait.Eventually(context.Background(), "every acknowledged span at the backend", time.Minute, 250*time.Millisecond, func() error {
		tally = load.Count(sink.Spans(load.Lane()))
		if tally.Lost > 0 {
			return fmt.Errorf("%d of %d acknowledged spans not received", tally.Lost, tally.Acknowledged)
		}
		return nil
	})
	if err != nil {
		t.Log(err)
	}
	return tally
}

func fatalLine(out string) string {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "fatal error:") {
			return strings.TrimSpace(line)
		}
	}
	return "no fatal error line"
}
