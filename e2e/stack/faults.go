package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/pipeline"
	"github.com/zerocodelab/lab/e2e/report"
	"github.com/zerocodelab/lab/e2e/wait"
)

// collectorCrash is what crashCollector saw.
type collectorCrash struct {
	port      string        // the published fluent forward address the bytes went to
	survived  string        // why the Collector lives on, "" when it crashed
	fatal     string        // the Collector's last words
	restarted time.Duration // from the bytes to the engine's restart
}

func (c collectorCrash) String() string {
	if c.survived != "" {
		return fmt.Sprintf("Collector not crashed: 11 bytes on its fluent forward port (%s, contrib#48519) did not kill it:\n"+
			"  this kernel grants the 32 GiB it asks for (%s).", c.port, c.survived)
	}
	return fmt.Sprintf("Collector crashed: 11 bytes on its fluent forward port (%s, contrib#48519) killed it (%s);\n"+
		"  the engine restarted it %.1f s later (restart: unless-stopped). It acknowledged nothing it had not\n"+
		"  written to its queues on disk, and the senders retried until it was back: the same budget, none.",
		c.port, c.fatal, c.restarted.Seconds())
}

// crashCollector sends the eleven bytes of pipeline.HugeForwardEntries to the Collector's published fluent
// forward port and, where this kernel refuses the allocation they cause, waits until the engine has
// restarted the Collector, its crash in its log.
func crashCollector(ctx context.Context, run *Run) (collectorCrash, error) {
	var c collectorCrash
	port, err := run.HostAddr(ctx, "otel-collector", 24224)
	if err != nil {
		return c, err
	}
	c.port = port
	refuses, why, err := pipeline.KernelRefuses(pipeline.HugeForwardAlloc)
	if err != nil {
		return c, err
	}
	before, err := run.RestartCount(ctx, "otel-collector")
	if err != nil {
		return c, err
	}
	sent := time.Now()
	if err := pipeline.SendFluent(port, pipeline.HugeForwardEntries()); err != nil {
		return c, err
	}
	if !refuses {
		c.survived = why
		return c, nil
	}
	err = wait.Eventually(ctx, "the engine restarting the Collector after its crash", time.Minute, 200*time.Millisecond, func() error {
		n, err := run.RestartCount(ctx, "otel-collector")
		if err != nil {
			return err
		}
		if n <= before {
			return errors.New("not restarted yet")
		}
		cs, err := run.Containers(ctx)
		if err != nil {
			return err
		}
		if st := cs["otel-collector"].State; st != "running" {
			return fmt.Errorf("it is %s", st)
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	c.restarted = time.Since(sent)
	logs, err := run.Logs(ctx, "otel-collector")
	if err != nil {
		return c, err
	}
	for line := range strings.Lines(logs) {
		if strings.HasPrefix(line, "fatal error:") {
			c.fatal = strings.TrimSpace(line)
		}
	}
	if c.fatal == "" {
		return c, fmt.Errorf("the Collector was restarted, but its log has no fatal error:\n%s", report.Tail(logs, 3000))
	}
	return c, nil
}

// drainLine reports how long the spans queued during Tempo's outage took to arrive.
func drainLine(took time.Duration, err error) string {
	if err != nil {
		return fmt.Sprintf("  %.0f s after Tempo started again some were still queued (%v); the table counts what arrived in the end.", took.Seconds(), err)
	}
	return fmt.Sprintf("  All of them had arrived %.0f s after Tempo started again (the exporter retries with a backoff of up to 30 s).", took.Seconds())
}

// reattachSteps says when each step of a Go auto agent's return after its target service was killed
// happened, counted from the kill: the engine starting the service's container and the agent's again,
// then the agent's first log line, finding its process and loading its probes.
func reattachSteps(ctx context.Context, run *Run, service, agent string, killed time.Time) (string, error) {
	since := func(t time.Time) string { return fmt.Sprintf("+%.1f s", t.Sub(killed).Seconds()) }
	var steps []string
	for _, s := range []struct{ service, what string }{{service, "the service started"}, {agent, "its agent's container started"}} {
		at, err := run.StartedAt(ctx, s.service)
		if err != nil {
			return "", err
		}
		steps = append(steps, since(at)+" "+s.what)
	}
	logs, err := run.Logs(ctx, agent)
	if err != nil {
		return "", err
	}
	first := true
	for line := range strings.Lines(logs) {
		var l struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Time.Before(killed) {
			continue
		}
		switch {
		case first:
			steps = append(steps, fmt.Sprintf("%s its first line (%q)", since(l.Time), l.Msg))
			first = false
		case strings.HasPrefix(l.Msg, "process found"), strings.HasPrefix(l.Msg, "instrumentation loaded"):
			steps = append(steps, fmt.Sprintf("%s %q", since(l.Time), l.Msg))
		}
	}
	return strings.Join(steps, ", "), nil
}

// exportErrors are the lines of each sender's log (a Go auto agent's, or an SDK service's: the SDK's
// default error handler writes to stderr) that report an export that failed, by service, with the last
// of them; senders without any are left out. A retried export logs nothing; one given up on does.
func exportErrors(ctx context.Context, run *Run, services []string) ([]string, error) {
	var out []string
	for _, svc := range services {
		logs, err := run.Logs(ctx, svc)
		if err != nil {
			return nil, err
		}
		var n int
		var last string
		for line := range strings.Lines(logs) {
			l := strings.ToLower(line)
			failed := strings.Contains(l, "error") || strings.Contains(l, "fail") || strings.Contains(l, "drop") ||
				strings.Contains(l, "refused") || strings.Contains(l, "deadline")
			if strings.Contains(l, "export") && failed {
				n++
				last = strings.TrimSpace(line)
			}
		}
		if len(last) > 300 {
			last = last[:300] + "..."
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s: %d, the last: %s", svc, n, last))
		}
	}
	return out, nil
}

// waitDelivered waits until every answered checkout that sent returns has its gateway span at the trace
// backend, asking every poll; it gives up after timeout, saying what is still missing.
func waitDelivered(ctx context.Context, run *Run, what string, timeout, poll time.Duration, sent func() []Sent) error {
	return wait.Eventually(ctx, what, timeout, poll, func() error {
		received, err := run.Spans()
		if err != nil {
			return err
		}
		for _, l := range Losses(sent(), received) {
			if l.Lost() > 0 {
				return fmt.Errorf("%s: %d of %d not received yet", l.Lane, l.Lost(), l.Answered)
			}
		}
		return nil
	})
}
