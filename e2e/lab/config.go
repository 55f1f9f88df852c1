// Package lab is the lab page: pick a scenario, click once, and the same checkout goes to every lane of
// the running stack; the page then shows each lane's span tree on one time axis and the capability
// matrix side by side (the compare package does the work).
package lab

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/zerocodelab/lab/e2e/compare"
)

// Config is the lab's configuration, from its environment.
type Config struct {
	Addr       string         // LAB_ADDR: where the page listens
	Lanes      []compare.Lane // LAB_LANES: name=gateway URL, separated by commas
	Tempo      string         // TEMPO_URL: Tempo's HTTP API
	Loki       string         // LOKI_URL
	Prometheus string         // PROMETHEUS_URL
	Grafana    string         // GRAFANA_URL: the browser follows it, so it is an address the user reaches
	Timeout    time.Duration  // LAB_TIMEOUT: how long to wait for a lane's trace, logs and metrics
	// LAB_SPAN_DELAY: how long after a checkout its spans can take to be found in Tempo (compare.Lab's
	// SpanDelay); docker-compose.yml sets what its senders, Collector and Tempo add up to.
	SpanDelay time.Duration
}

// ConfigFromEnv reads the configuration; a bad setting is an error that names it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Addr:       get("LAB_ADDR", "127.0.0.1:8090"),
		Tempo:      get("TEMPO_URL", "http://127.0.0.1:3200"),
		Loki:       get("LOKI_URL", "http://127.0.0.1:3100"),
		Prometheus: get("PROMETHEUS_URL", "http://127.0.0.1:9090"),
		Grafana:    get("GRAFANA_URL", "http://127.0.0.1:3000"),
	}
	var errs []error
	lanes, err := compare.ParseLanes(get("LAB_LANES", "plain=http://127.0.0.1:8080,beyla=http://127.0.0.1:8081,otel-auto=http://127.0.0.1:8082,manual=http://127.0.0.1:8083"))
	if err != nil {
		errs = append(errs, fmt.Errorf("LAB_LANES: %w", err))
	}
	c.Lanes = lanes
	for name, v := range map[string]string{"TEMPO_URL": c.Tempo, "LOKI_URL": c.Loki, "PROMETHEUS_URL": c.Prometheus, "GRAFANA_URL": c.Grafana} {
		if err := compare.CheckURL(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	c.Timeout, err = time.ParseDuration(get("LAB_TIMEOUT", "30s"))
	if err != nil || c.Timeout < time.Second || c.Timeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("LAB_TIMEOUT: %q is not a duration from 1s to 5m", getenv("LAB_TIMEOUT")))
	}
	c.SpanDelay, err = time.ParseDuration(get("LAB_SPAN_DELAY", "16s")) // docker-compose.yml's
	switch {
	case err != nil || c.SpanDelay < 0:
		errs = append(errs, fmt.Errorf("LAB_SPAN_DELAY: %q is not a duration of 0s or more", getenv("LAB_SPAN_DELAY")))
	case c.SpanDelay >= c.Timeout && c.Timeout > 0:
		errs = append(errs, fmt.Errorf("LAB_SPAN_DELAY: %s leaves nothing of LAB_TIMEOUT (%s): the wait would always run out", c.SpanDelay, c.Timeout))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("LAB_ADDR: %w", err))
	}
	return c, errors.Join(errs...)
}
