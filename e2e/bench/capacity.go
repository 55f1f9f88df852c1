package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/wait"
)

// capacityLane is the service.namespace of telemetrygen's spans, so that they are counted apart.
const capacityLane = "capacity"

// spansPerTrace is what telemetrygen sends per trace: a root and its children.
const spansPerTrace = 10

// Step is the Collector under telemetrygen at one rate.
type Step struct {
	Rate              float64 // spans a second asked of telemetrygen
	Generated         int     // spans telemetrygen says it made
	Accepted, Refused int     // spans the Collector's OTLP receiver accepted and refused
	Delivered         int     // spans that reached the trace backend
	Elapsed           time.Duration
	CPU               time.Duration // the Collector's processor time, until delivery ended
	RSS               int64         // the Collector's resident memory after the step
}

// Lossless reports whether every span made was accepted and delivered.
func (s Step) Lossless() bool {
	return s.Refused == 0 && s.Accepted == s.Generated && s.Delivered == s.Accepted && s.Generated > 0
}

// Capacity sends telemetrygen's spans to the lab's Collector (the project's config: transforms, span
// metrics, service graph, persistent queues) at each rate in turn for d, and stops after the first rate
// that loses spans. Delivery is awaited up to drain after each step.
func (lab *Lab) Capacity(ctx context.Context, telemetrygen string, rates []float64, d, drain time.Duration) ([]Step, error) {
	var steps []Step
	for _, rate := range rates {
		step, err := lab.capacityStep(ctx, telemetrygen, rate, d, drain)
		if err != nil {
			return steps, fmt.Errorf("%.0f spans/s: %w", rate, err)
		}
		steps = append(steps, step)
		if !step.Lossless() {
			break
		}
	}
	return steps, nil
}

func (lab *Lab) capacityStep(ctx context.Context, telemetrygen string, rate float64, d, drain time.Duration) (Step, error) {
	step := Step{Rate: rate}
	// telemetrygen's rate is spans a second per worker, paced span by span: one worker cannot pace much
	// more than a few thousand a second, so the rate is spread over workers of at most 500 each.
	workers := int(math.Ceil(rate / 500))
	before, err := lab.receiverSpans()
	if err != nil {
		return step, err
	}
	deliveredBefore := lab.Spans.Spans(capacityLane)
	cpuBefore, err := lab.Collector.CPUTime()
	if err != nil {
		return step, err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, telemetrygen, "traces",
		"--otlp-endpoint", lab.collector.OTLPGRPC, "--otlp-insecure",
		"--otlp-attributes", `service.namespace="`+capacityLane+`"`, "--service", "telemetrygen",
		"--workers", strconv.Itoa(workers), "--child-spans", strconv.Itoa(spansPerTrace-1),
		"--rate", strconv.FormatFloat(rate/float64(workers), 'f', 2, 64),
		"--duration", d.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return step, fmt.Errorf("telemetrygen: %w\n%s", err, report.Tail(string(out), 2000))
	}
	if step.Generated, err = generated(string(out)); err != nil {
		return step, err
	}
	// Delivered is what reached the backend, awaited until it matches what the receiver accepted.
	wait.Eventually(ctx, "delivery", drain, 200*time.Millisecond, func() error {
		now, err := lab.receiverSpans()
		if err != nil {
			return err
		}
		step.Accepted, step.Refused = now.accepted-before.accepted, now.refused-before.refused
		step.Delivered = lab.Spans.Spans(capacityLane) - deliveredBefore
		if step.Delivered < step.Accepted {
			return fmt.Errorf("%d of %d delivered", step.Delivered, step.Accepted)
		}
		return nil
	}) // what was not delivered by then is the step's loss
	step.Elapsed = time.Since(start)
	cpuAfter, err := lab.Collector.CPUTime()
	if err != nil {
		return step, err
	}
	step.CPU = cpuAfter - cpuBefore
	step.RSS, err = lab.Collector.RSS()
	return step, err
}

var generatedLine = regexp.MustCompile(`traces generated\s+\{"worker": \d+, "traces": (\d+)\}`)

// generated sums telemetrygen's "traces generated" lines, one per worker, into spans.
func generated(out string) (int, error) {
	matches := generatedLine.FindAllStringSubmatch(out, -1)
	if len(matches) == 0 {
		return 0, fmt.Errorf("telemetrygen printed no \"traces generated\" line:\n%s", report.Tail(out, 2000))
	}
	spans := 0
	for _, m := range matches {
		n, _ := strconv.Atoi(m[1]) // the pattern admits digits only
		spans += n * spansPerTrace
	}
	return spans, nil
}

type receiverCounts struct{ accepted, refused int }

// receiverSpans reads the Collector's own counters of spans its receivers accepted and refused.
func (lab *Lab) receiverSpans() (receiverCounts, error) {
	resp, err := http.Get("http://" + lab.collector.Telemetry + "/metrics")
	if err != nil {
		return receiverCounts{}, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return receiverCounts{}, fmt.Errorf("the Collector's metrics: %w", err)
	}
	var c receiverCounts
	for name, f := range families {
		var into *int
		switch strings.TrimSuffix(name, "_total") {
		case "otelcol_receiver_accepted_spans":
			into = &c.accepted
		case "otelcol_receiver_refused_spans":
			into = &c.refused
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			*into += int(m.GetCounter().GetValue())
		}
	}
	if c.accepted == 0 && c.refused == 0 && len(families) == 0 {
		return c, errors.New("the Collector exposes no metrics")
	}
	return c, nil
}
