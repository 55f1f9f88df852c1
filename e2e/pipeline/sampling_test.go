package pipeline_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"gopkg.in/yaml.v3"

	"github.com/zerocodelab/lab/e2e/compare"
	"github.com/zerocodelab/lab/e2e/pipeline"
	"github.com/zerocodelab/lab/e2e/query"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/spans"
	"github.com/zerocodelab/lab/e2e/wait"
)

const (
	samplerConfig = "../../collector/sampler.yaml"
	twoTierConfig = "../../collector/two-tier.yaml"
	// How many times each recorded checkout is sent, each time with fresh trace ids: enough for the
	// probabilistic policy's 10 % to show, few enough for the test to take seconds.
	samplingCopies = 100
)

// What tail sampling keeps of a checkout, lane by lane, in the two-tier form (the first tier with
// collector/config.yaml and two-tier.yaml, a sampler with sampler.yaml, both real Collectors): the
// recorded checkouts of a real native run (compare/testdata), every scenario, each sent samplingCopies
// times with fresh trace ids, once with the policies as shipped and once without the split-lanes policy.
// In the manual lane a checkout is one trace, kept or dropped whole. In the otel-auto lane, recorded under
// lockdown, a checkout is one trace per service: without the split-lanes policy the samplers judge
// fragments, and keep most checkouts in part; with it, every one whole.
func TestTailSamplingOfSplitCheckouts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four Collectors and waits for their decisions")
	}
	checkouts := recordedCheckouts(t, "otel-auto", "manual")
	withoutSplitLanes := filepath.Join(t.TempDir(), "sampler-without-split-lanes.yaml")
	writeWithoutPolicy(t, samplerConfig, "split-lanes", withoutSplitLanes)

	variants := []struct{ name, config string }{
		{"as shipped", samplerConfig},
		{"without split-lanes", withoutSplitLanes},
	}
	kept := make([]map[key]outcome, len(variants))
	t.Run("variants", func(t *testing.T) {
		for i, v := range variants {
			t.Run(v.name, func(t *testing.T) {
				t.Parallel()
				kept[i] = sampleCheckouts(t, v.config, checkouts)
			})
		}
	})
	if t.Failed() {
		return
	}

	rep := &report.Report{}
	rep.Section("tail sampling of recorded checkouts")
	rep.Printf("each checkout of compare/testdata sent %d times with fresh trace ids through the two tiers;\n", samplingCopies)
	rep.Printf("kept whole / kept in part / not kept, with the sampler's policies as shipped and without split-lanes\n\n")
	rep.Printf("%-10s %-13s %9s   %-20s %-20s\n", "lane", "scenario", "fragments", variants[0].name, variants[1].name)
	for _, c := range checkouts {
		k := key{c.lane, c.scenario}
		shipped, split := kept[0][k], kept[1][k]
		rep.Printf("%-10s %-13s %9d   %-20s %-20s\n", c.lane, c.scenario, len(c.fragments), shipped, split)

		if shipped.brokenTraces+split.brokenTraces > 0 {
			t.Errorf("%s %s: %d traces arrived in part: a sampler decides a trace whole", c.lane, c.scenario, shipped.brokenTraces+split.brokenTraces)
		}
		switch c.lane {
		case "manual": // one trace: whole or nothing
			if shipped.part+split.part > 0 {
				t.Errorf("manual %s: a one-trace checkout kept in part: %s, %s", c.scenario, shipped, split)
			}
			if c.failed() && (shipped.whole != samplingCopies || split.whole != samplingCopies) {
				t.Errorf("manual %s: the errors policy must keep every failed checkout whole: %s, %s", c.scenario, shipped, split)
			}
		case "otel-auto":
			if shipped.whole != samplingCopies {
				t.Errorf("otel-auto %s: split-lanes must keep every checkout whole: %s", c.scenario, shipped)
			}
			if len(c.fragments) > 1 && split.part <= split.whole {
				t.Errorf("otel-auto %s: without split-lanes, %d fragments should be kept in part more often than whole: %s", c.scenario, len(c.fragments), split)
			}
			if c.failed() && split.none > 0 {
				t.Errorf("otel-auto %s: the errors policy must keep at least the failing fragment: %s", c.scenario, split)
			}
		}
	}
	rep.Printf("\nmanual: a checkout is one trace, kept whole or not at all. otel-auto (recorded under lockdown): one\n")
	rep.Printf("trace per service; without split-lanes the errors and latency policies keep the fragments that failed or\n")
	rep.Printf("were slow, and 10 %% of each of the others.\n")
	rep.WriteTo(os.Stdout)
	if err := rep.Save(filepath.Join("..", "..", "build", "tail-sampling-report.txt")); err != nil {
		t.Error(err)
	}
}

// checkout is one recorded checkout of a lane: its spans by trace (the trace the client started and the
// lane's traces that answered its calls, found by compare.Relate).
type checkout struct {
	lane, scenario string
	status         int
	fragments      map[string][]spans.Span
}

func (c checkout) failed() bool { return c.status >= 500 }

type key struct{ lane, scenario string }

// outcome counts the copies of one checkout by what the sampler kept of them.
type outcome struct {
	whole, part, none int
	brokenTraces      int // traces of which other than all the spans sent arrived: some, or duplicates
}

func (o outcome) String() string { return fmt.Sprintf("%3d / %3d / %3d", o.whole, o.part, o.none) }

func recordedCheckouts(t *testing.T, lanes ...string) []checkout {
	t.Helper()
	var out []checkout
	for _, sc := range compare.Scenarios {
		rec, err := compare.LoadRecording(filepath.Join("..", "compare", "testdata", sc.Name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range rec.Lanes {
			if !slices.Contains(lanes, l.Lane.Name) {
				continue
			}
			r, err := l.Decode()
			if err != nil {
				t.Fatal(err)
			}
			frags := spans.ByTrace(r.Trace)
			for _, related := range compare.Relate(r.Trace, r.Related) {
				for id, sp := range spans.ByTrace(related) {
					frags[id] = append(frags[id], sp...)
				}
			}
			if len(frags) == 0 {
				t.Fatalf("%s %s: no recorded spans", sc.Name, l.Lane.Name)
			}
			out = append(out, checkout{lane: l.Lane.Name, scenario: sc.Name, status: r.Status, fragments: frags})
		}
	}
	return out
}

// writeWithoutPolicy writes the sampler config at src to dst without the policy named name.
func writeWithoutPolicy(t *testing.T, src, name, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	ts := cfg["processors"].(map[string]any)["tail_sampling"].(map[string]any)
	policies := ts["policies"].([]any)
	n := len(policies)
	policies = slices.DeleteFunc(policies, func(p any) bool { return p.(map[string]any)["name"] == name })
	if len(policies) != n-1 {
		t.Fatalf("%s has no policy named %s", src, name)
	}
	ts["policies"] = policies
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sampleCheckouts starts a sampler with samplerCfg and a first tier in front of it, sends every checkout
// samplingCopies times, waits until the sampler has decided every trace and what it kept has arrived, and
// counts what was kept of each copy.
func sampleCheckouts(t *testing.T, samplerCfg string, checkouts []checkout) map[key]outcome {
	bin := collectorUnderTest(t).Bin
	sampler := pipeline.Collector{Bin: bin, Config: samplerCfg, Env: []string{"HOSTNAME=sampler"}}
	var err error
	if sampler.Endpoints, err = pipeline.NewEndpoints(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	sink := listenSink(t, sampler.Tempo)
	start(t, sampler)

	first := collectorUnderTest(t)
	first.Overlays = []string{twoTierConfig}
	host, port, _ := strings.Cut(sampler.OTLPGRPC, ":")
	first.Env = []string{"SAMPLER_HOSTNAME=" + host, "SAMPLER_PORT=" + port}
	start(t, first)

	// Every copy gets fresh trace ids; span ids stay, which no component minds across traces.
	type sent struct {
		key
		traces map[string]int // new trace id: how many spans
	}
	var copies []sent
	client := ptraceotlp.NewGRPCClient(dial(t, first.OTLPGRPC))
	for range samplingCopies {
		for _, c := range checkouts {
			s := sent{key: key{c.lane, c.scenario}, traces: map[string]int{}}
			var batch []spans.Span
			for _, frag := range c.fragments {
				id := newTraceID()
				s.traces[id.String()] = len(frag)
				for _, sp := range frag {
					cp := ptrace.NewSpan()
					sp.CopyTo(cp)
					cp.SetTraceID(id)
					batch = append(batch, spans.Span{Lane: sp.Lane, Service: sp.Service, Span: cp})
				}
			}
			if _, err := client.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(spans.ToTraces(batch))); err != nil {
				t.Fatalf("the first tier refused a checkout: %v", err)
			}
			copies = append(copies, s)
		}
	}
	traces := 0
	for _, s := range copies {
		traces += len(s.traces)
	}

	// Every trace decided (the sampler counts each decision), then what was kept sent on: the sink's
	// count stops growing.
	metrics := "http://" + sampler.Telemetry + "/metrics"
	err = wait.Eventually(context.Background(), fmt.Sprintf("the sampler's decision on %d traces", traces), 90*time.Second, time.Second, func() error {
		fams, err := query.Scrape(context.Background(), http.DefaultClient, metrics)
		if err != nil {
			return err
		}
		f, ok := fams["otelcol_processor_tail_sampling_global_count_traces_sampled"]
		if !ok {
			return fmt.Errorf("no decision yet")
		}
		decided := 0.0
		for _, n := range query.SumBy(f, "sampled") {
			decided += n
		}
		if int(decided) < traces {
			return fmt.Errorf("%.0f decided", decided)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	last := -1
	err = wait.Eventually(context.Background(), "the kept spans to arrive", 30*time.Second, 2*time.Second, func() error {
		n := len(sink.Spans("otel-auto")) + len(sink.Spans("manual"))
		if n != last {
			last = n
			return fmt.Errorf("%d spans so far", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	arrived := map[string]int{}
	for _, lane := range []string{"otel-auto", "manual"} {
		for _, sp := range sink.Spans(lane) {
			arrived[sp.TraceID().String()]++
		}
	}
	out := map[key]outcome{}
	for _, s := range copies {
		o := out[s.key]
		keptFrags := 0
		for id, n := range s.traces {
			switch got := arrived[id]; {
			case got == n:
				keptFrags++
			case got != 0:
				o.brokenTraces++
			}
		}
		switch keptFrags {
		case len(s.traces):
			o.whole++
		case 0:
			o.none++
		default:
			o.part++
		}
		out[s.key] = o
	}
	return out
}

func newTraceID() pcommon.TraceID {
	var id pcommon.TraceID
	rand.Read(id[:])
	return id
}
