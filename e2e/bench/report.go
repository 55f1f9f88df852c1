package bench

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/doctor"
)

// Context is what the report says besides the samples.
type Context struct {
	Machine   string            // CPUs, kernel, lockdown
	ProbeCost *doctor.ProbeCost // nil when not measured
	NoProbe   string            // why it was not
	// NotRun are the lanes this machine cannot run, with the doctor's reason.
	NotRun map[string]string
	// Builds labels the agent builds that are not the official ones, by lane (a patched Beyla).
	Builds map[string]string
}

// stat is the median and range of one figure over the rounds.
type stat struct{ med, min, max float64 }

func statOf(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med: med, min: s[0], max: s[len(s)-1]}
}

// of is one figure of the samples of one lane and workload.
func of(samples []Sample, lane, workload string, figure func(Sample) float64) stat {
	var xs []float64
	for _, s := range samples {
		if s.Lane == lane && s.Workload == workload {
			xs = append(xs, figure(s))
		}
	}
	return statOf(xs)
}

func µs(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func throughput(s Sample) float64 { return s.Saturation.Throughput() }
func cpu(part Part) func(Sample) float64 {
	return func(s Sample) float64 { return µs(s.CPU[part]) }
}
func totalCPU(s Sample) float64 {
	var sum time.Duration
	for _, d := range s.CPU {
		sum += d
	}
	return µs(sum)
}
func quantile(rate int, q func(Latency) time.Duration) func(Sample) float64 {
	return func(s Sample) float64 { return µs(q(s.Latency[rate])) }
}

// lanes are the lanes of the samples in the order they were first measured.
func lanes(samples []Sample) []string {
	var names []string
	for _, s := range samples {
		if !slices.Contains(names, s.Lane) {
			names = append(names, s.Lane)
		}
	}
	return names
}

// WriteMarkdown writes the report: per workload, throughput and processor time per request, then
// latency at the fixed rates, each as medians with the rounds' range and as ratios to plain; the agent's
// cost predicted from the probe cost beside the measured one; plain alone against plain with the others.
func WriteMarkdown(out io.Writer, res *Results, c Context) error {
	w := bufio.NewWriter(out)
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }

	p("# What each lane costs (make bench)\n\n")
	p("%s. %d rounds in rotating lane order; each run lasts %s; %d senders at saturation. ", c.Machine, res.Plan.Rounds, res.Duration, res.Workers)
	p("Medians of the rounds, their range in brackets, and ratios to the plain lane's median.\n")
	p("Processor time is the kernel's accounting of each process from the start of the saturation run to the end of the quiet time after it (uprobe traps count to the traced service). ")
	p("The plain lane's Collector column is the Collector's idle work in the same window (it sends plain nothing): the baseline the other lanes' figures include too. ")
	p("The load generator runs on the same machine.\n\n")
	if res.Plan.HTTPSenders {
		p("The otel-auto and manual lanes send OTLP over gRPC, as compose has them (their exporter retries while the Collector restarts); ")
		p("otel-auto-http and manual-http are the same lanes sending OTLP/HTTP instead, which compose used before: the difference is what the protocol costs.\n\n")
	}
	for _, lane := range slices.Sorted(maps.Keys(c.Builds)) {
		p("The %s lane ran %s.\n\n", lane, c.Builds[lane])
	}

	for _, wl := range res.Plan.Workloads {
		p("## %s: %s\n\n", wl.Name, wl.What)
		p("| lane | req/s at saturation | × plain | services CPU/req | agents CPU/req | Collector CPU/req | all CPU/req | × plain | uprobe hits/req | spans/req |\n")
		p("|---|---|---|---|---|---|---|---|---|---|\n")
		base := of(res.Together, "plain", wl.Name, throughput)
		baseCPU := of(res.Together, "plain", wl.Name, totalCPU)
		for _, lane := range lanes(res.Together) {
			tp := of(res.Together, lane, wl.Name, throughput)
			all := of(res.Together, lane, wl.Name, totalCPU)
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %.1f |\n", lane,
				rangeOf(tp, "%.0f", ""), ratio(tp.med, base.med),
				rangeOf(of(res.Together, lane, wl.Name, cpu(Services)), "%.0f", " µs"),
				rangeOf(of(res.Together, lane, wl.Name, cpu(Agents)), "%.0f", " µs"),
				rangeOf(of(res.Together, lane, wl.Name, cpu(Collector)), "%.0f", " µs"),
				rangeOf(all, "%.0f", " µs"), ratio(all.med, baseCPU.med),
				of(res.Together, lane, wl.Name, func(s Sample) float64 { return s.ProbeHits }).med,
				of(res.Together, lane, wl.Name, func(s Sample) float64 { return s.Spans }).med)
		}
		for _, lane := range slices.Sorted(maps.Keys(c.NotRun)) {
			p("| %s | not runnable here: %s |  |  |  |  |  |  |  |  |\n", lane, c.NotRun[lane])
		}
		p("\n")

		p("Latency, open loop (counted from each request's scheduled time):\n\n")
		p("| lane |")
		for _, rate := range res.Rates[wl.Name] {
			p(" %.0f req/s: p50 | p99 | p99.9 | p99 × plain |", rate)
		}
		p("\n|---|")
		p("%s\n", strings.Repeat("---|---|---|---|", len(res.Rates[wl.Name])))
		for _, lane := range lanes(res.Together) {
			p("| %s |", lane)
			for i := range res.Rates[wl.Name] {
				p99 := of(res.Together, lane, wl.Name, quantile(i, func(l Latency) time.Duration { return l.P99 }))
				base99 := of(res.Together, "plain", wl.Name, quantile(i, func(l Latency) time.Duration { return l.P99 }))
				p(" %s | %s | %s | %s |",
					ms(of(res.Together, lane, wl.Name, quantile(i, func(l Latency) time.Duration { return l.P50 })).med),
					ms(p99.med),
					ms(of(res.Together, lane, wl.Name, quantile(i, func(l Latency) time.Duration { return l.P999 })).med),
					ratio(p99.med, base99.med))
			}
			p("\n")
		}
		failed := 0
		for _, s := range res.Together {
			if s.Workload == wl.Name {
				failed += s.Saturation.Failed
				for _, l := range s.Latency {
					failed += l.Failed
				}
			}
		}
		p("\nRequests not answered 2xx in these runs: %d.\n\n", failed)
	}

	p("## The agents' cost, predicted from the probe cost and measured\n\n")
	switch {
	case c.ProbeCost == nil:
		p("The probe cost was not measured here: %s.\n\n", c.NoProbe)
	default:
		cost := c.ProbeCost
		p("The doctor's probe cost (`make doctor`), measured by the bench at its start: a uprobe hit on this kernel, a trap with a program that does nothing, costs ")
		p("%.1f µs where the kernel single-steps the probed instruction (most Go function entries, RET), %.1f µs where it emulates it (PUSHQ, CALL, JMP, NOP), in a tight loop (warm); ",
			µs(cost.PerHit(doctor.Stepped)), µs(cost.PerHit(doctor.Emulated)))
		p("%.1f µs and %.1f µs right after the core touched %d MiB of other data (cold); ", µs(cost.PerHitCold(doctor.Stepped)), µs(cost.PerHitCold(doctor.Emulated)), cost.EvictBytes>>20)
		p("and %.1f µs per event that wakes a reader sleeping on a perf buffer. ", µs(cost.Wakeup))
		p("Predicted: the lane's uprobe hits per request at the cost of their kind (the bench decodes the instruction under each of the agents' uprobes), warm and cold, ")
		p("plus its eBPF programs' own run time per request (the kernel's statistics), ")
		p("plus the wakeups of the agent's reader per request (spans per request, divided by the events its reader lets gather: 1 for the Go auto agent, %d for Beyla); ", beylaWakeupLen)
		p("the estimate is the middle of warm and cold. Measured: its services' processor time per request less plain's. The agents' own processes are not in either.\n\n")
		p("| lane | workload | uprobe hits/req | single-stepped | eBPF program time/req | wakeups/req | predicted, warm | predicted, cold | estimate | measured extra CPU/req | measured / estimate |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		unsorted := 0.0
		for _, lane := range agentLanes(res) {
			counts := ProbesOf(res, lane)
			for _, wl := range res.Plan.Workloads {
				predicted, measured := c.ProbeCost.Extra(counts, wl.Name), counts.Measured[wl.Name]
				p("| %s | %s | %.1f | %.1f | %.0f µs | %.2f | %.0f µs | %.0f µs | %.0f µs | %.0f µs | %s |\n", lane, wl.Name, counts.Hits[wl.Name], counts.Stepped[wl.Name],
					counts.ProgramTime[wl.Name], counts.Wakeups[wl.Name], µs(predicted.Warm), µs(predicted.Cold), µs(predicted.Estimate()), measured, ratio(measured, µs(predicted.Estimate())))
				unsorted = max(unsorted, of(res.Together, lane, wl.Name, func(s Sample) float64 { return s.UnsortedHits }).med)
			}
		}
		if unsorted > 0 {
			p("\nUp to %.1f hits a request came from programs attached at both kinds of site, or at none the kernel lists; they are counted as single-stepped.\n", unsorted)
		}
		p("\n")
	}

	p("## Ground truth stays clean: plain alone, then with the other lanes running\n\n")
	p("| workload | req/s alone | req/s with the others | ratio | services CPU/req alone | with the others | ratio | uprobe hits/req in plain |\n|---|---|---|---|---|---|---|---|\n")
	for _, wl := range res.Plan.Workloads {
		alone, together := of(res.Alone, "plain", wl.Name, throughput), of(res.Together, "plain", wl.Name, throughput)
		cpuAlone, cpuTogether := of(res.Alone, "plain", wl.Name, cpu(Services)), of(res.Together, "plain", wl.Name, cpu(Services))
		p("| %s | %.0f | %.0f | %s | %.0f µs | %.0f µs | %s | %.3f |\n", wl.Name, alone.med, together.med, ratio(together.med, alone.med),
			cpuAlone.med, cpuTogether.med, ratio(cpuTogether.med, cpuAlone.med),
			of(res.Together, "plain", wl.Name, func(s Sample) float64 { return s.ProbeHits }).med)
	}
	p("\nPlain alone ran before any agent, Collector or other lane started; the others were idle while plain was measured.\n\n")

	if len(res.Capacity) > 0 {
		p("## The Collector's capacity (telemetrygen, the project's config)\n\n")
		p("telemetrygen sends traces of %d spans over OTLP/gRPC for %s at each rate, rising until spans are lost; the spans go through every pipeline of collector/config.yaml (transforms, span metrics, service graph, persistent queues) to a trace backend that counts them. ", spansPerTrace, res.Duration)
		p("Made is telemetrygen's count, accepted and refused the Collector's own, delivered what reached the backend within 20 s.\n\n")
		p("| spans/s asked | made | accepted | refused | delivered | Collector CPU/span | Collector cores | RSS |\n|---|---|---|---|---|---|---|---|\n")
		best := -1
		for i, s := range res.Capacity {
			perSpan := 0.0
			if s.Delivered > 0 {
				perSpan = µs(s.CPU) / float64(s.Delivered)
			}
			p("| %.0f | %d | %d | %d | %d | %.1f µs | %.2f | %s |\n", s.Rate, s.Generated, s.Accepted, s.Refused, s.Delivered,
				perSpan, s.CPU.Seconds()/s.Elapsed.Seconds(), mib(s.RSS))
			if s.Lossless() {
				best = i
			}
		}
		switch {
		case best < 0:
			p("\nNo rate was lossless.\n")
		default:
			p("\nThe highest rate with no loss: %.0f spans/s.", res.Capacity[best].Rate)
		}
		last := res.Capacity[len(res.Capacity)-1]
		switch {
		case last.Lossless():
			p(" No rate asked lost spans: the capacity is higher still.")
		case last.Refused == 0 && last.Delivered == last.Accepted:
			p(" At %.0f spans/s the Collector delivered every span it accepted and refused none, but %d of the %d telemetrygen made never reached its receiver: "+
				"the sender, on the same cores, dropped them (its exporter's queue full or its export timed out). What limits the rate here is the machine, not the Collector's pipelines alone.",
				last.Rate, last.Generated-last.Accepted, last.Generated)
		default:
			p(" At %.0f spans/s the Collector refused %d and did not deliver %d of the %d it accepted.", last.Rate, last.Refused, last.Accepted-last.Delivered, last.Accepted)
		}
		p("\n\n")
	}

	p("## Memory and attach time\n\n| lane | services RSS | agents RSS |\n|---|---|---|\n")
	for _, lane := range lanes(res.Together) {
		rss := res.RSS[lane]
		p("| %s | %s | %s |\n", lane, mib(rss[Services]), mib(rss[Agents]))
	}
	if col, ok := res.RSS[""]; ok {
		p("\nThe Collector: %s resident at the end.\n", mib(col[Collector]))
	}
	if len(res.Attach) > 0 {
		var secs []float64
		for _, d := range res.Attach {
			secs = append(secs, d.Seconds())
		}
		a := statOf(secs)
		p("\nThe Go auto agents took %.1f s [%.1f–%.1f] from their start to their loaded line (%d agents).\n", a.med, a.min, a.max, len(secs))
	}
	if res.Beyla != nil {
		p("\nBeyla took %.1f s from its start to instrumenting the beyla lane's last process.\n", res.Beyla.Attach.Seconds())
	}
	return w.Flush()
}

// agentLanes are the lanes of the run whose eBPF agents probe the services: the Go auto agent's, Beyla's.
func agentLanes(res *Results) []string {
	var out []string
	for _, lane := range lanes(res.Together) {
		if lane == "beyla" || strings.HasPrefix(lane, "otel-auto") {
			out = append(out, lane)
		}
	}
	return out
}

// beylaWakeupLen is how many events Beyla's ring buffer gathers before it wakes Beyla's reader: its
// ebpf.wakeup_len, 500 unless configured (beyla-config.yml leaves it). The Go auto agent's perf reader
// is woken at every event, one per span.
const beylaWakeupLen = 500

// ProbesOf is what a request of each workload cost lane in uprobe hits (all, and single-stepped), eBPF
// program run time (µs) and wakeups of the agent's reader, and what its services spent more than
// plain's (µs), medians of the rounds.
func ProbesOf(res *Results, lane string) doctor.LaneProbes {
	l := doctor.LaneProbes{Hits: map[string]float64{}, Stepped: map[string]float64{}, ProgramTime: map[string]float64{},
		Wakeups: map[string]float64{}, Measured: map[string]float64{}}
	eventsPerWakeup := 1.0
	if lane == "beyla" {
		eventsPerWakeup = beylaWakeupLen
	}
	for _, wl := range res.Plan.Workloads {
		l.Hits[wl.Name] = of(res.Together, lane, wl.Name, func(s Sample) float64 { return s.ProbeHits }).med
		l.Stepped[wl.Name] = of(res.Together, lane, wl.Name, func(s Sample) float64 { return s.SteppedHits }).med
		l.ProgramTime[wl.Name] = of(res.Together, lane, wl.Name, func(s Sample) float64 { return µs(s.ProbeTime) }).med
		l.Wakeups[wl.Name] = of(res.Together, lane, wl.Name, func(s Sample) float64 { return s.Spans }).med / eventsPerWakeup
		l.Measured[wl.Name] = of(res.Together, lane, wl.Name, cpu(Services)).med - of(res.Together, "plain", wl.Name, cpu(Services)).med
	}
	return l
}

func rangeOf(s stat, format, unit string) string {
	return fmt.Sprintf(format+"%s ["+format+"–"+format+"]", s.med, unit, s.min, s.max)
}

func ratio(x, base float64) string {
	if base == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", x/base)
}

func ms(us float64) string { return fmt.Sprintf("%.1f ms", us/1000) }

func mib(b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
