package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerocodelab/lab/e2e/pipeline"
	"github.com/zerocodelab/lab/e2e/wait"
)

// BenchmarkCollector sends b.N requests from 8 senders, as fast as the real Collector with the project's
// config (transforms, span metrics, service graph, persistent queues) answers, with its trace backend up.
// Requests of 512 spans are what the SDK's batch processor sends by default; requests of 50, a sender
// exporting small batches. It reports spans a second acknowledged, the Collector's CPU per 1,000 spans
// (the kernel's accounting of the process) and the acknowledged spans that never reached the backend.
func BenchmarkCollector(b *testing.B) {
	for _, perRequest := range []int{50, 512} {
		b.Run(fmt.Sprintf("spans-per-request=%d", perRequest), func(b *testing.B) { benchCollector(b, perRequest) })
	}
}

func benchCollector(b *testing.B, perRequest int) {
	c := collectorUnderTest(b)
	sink := listenSink(b, c.Tempo)
	p := start(b, c)
	load := pipeline.NewLoad(dial(b, c.OTLPGRPC), "bench", perRequest)

	cpuBefore, err := p.CPUTime()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var requests atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for requests.Add(1) <= int64(b.N) {
				load.Send(context.Background()) // a refusal is counted by the load, and reported below
			}
		})
	}
	wg.Wait()
	elapsed := b.Elapsed()
	b.StopTimer()

	var tally pipeline.Tally
	err = wait.Eventually(context.Background(), "every acknowledged span at the backend", time.Minute, 100*time.Millisecond, func() error {
		tally = load.Count(sink.Spans("bench"))
		if tally.Lost > 0 {
			return fmt.Errorf("%v", tally)
		}
		return nil
	})
	cpu, cpuErr := p.CPUTime()
	if cpuErr != nil {
		b.Fatal(cpuErr)
	}
	acked := float64(load.Acknowledged())
	b.ReportMetric(acked/elapsed.Seconds(), "spans/s")
	b.ReportMetric(float64(cpu-cpuBefore)/float64(time.Microsecond)/acked*1000, "cpu-µs/1000spans")
	b.ReportMetric(float64(tally.Lost), "lost")
	b.ReportMetric(float64(tally.Refused), "refused")
	if err != nil {
		b.Errorf("acknowledged and never delivered: %v", err)
	}
}
