package native

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// DefaultScheduleDelay is OTEL_BSP_SCHEDULE_DELAY where a sender does not set it: the OpenTelemetry
// specification's default for the batch span processor, which the SDK and the Go auto agent use.
const DefaultScheduleDelay = 5 * time.Second

// ExportDelay is how long after a request ends its spans can still be on their way to Tempo in the stack
// p describes, read from the compose files and the Collector configs they mount: the longest batch
// delay of the services that send OTLP (OTEL_BSP_SCHEDULE_DELAY), then, for each Collector on the way
// (the Collector, and the samplers where docker-compose.sampling.yml runs them), the longest a span
// waits in it: a tail sampler's decision_wait and its queues' flush_timeout.
func ExportDelay(p *types.Project) (time.Duration, error) {
	var senders, collectors time.Duration
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if _, ok := s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]; ok {
			d := DefaultScheduleDelay
			if v := s.Environment["OTEL_BSP_SCHEDULE_DELAY"]; v != nil {
				ms, err := strconv.Atoi(*v)
				if err != nil || ms < 0 {
					return 0, fmt.Errorf("%s: OTEL_BSP_SCHEDULE_DELAY=%q is not a number of milliseconds", name, *v)
				}
				d = time.Duration(ms) * time.Millisecond
			}
			senders = max(senders, d)
		}
		if strings.HasPrefix(s.Image, "otel/opentelemetry-collector-contrib:") {
			d, err := collectorDelay(s)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
			collectors += d
		}
	}
	return senders + collectors, nil
}

// collectorDelay is the longest a span waits in one Collector: the decision_wait of its tail sampler, if
// it has one, and the longest flush_timeout of its exporters' queues, from every config file it loads.
func collectorDelay(s types.ServiceConfig) (time.Duration, error) {
	var wait, flush time.Duration
	for _, arg := range s.Command {
		path, ok := strings.CutPrefix(arg, "--config=")
		if !ok {
			continue
		}
		file := ""
		for _, v := range s.Volumes {
			if v.Target == path {
				file = v.Source
			}
		}
		if file == "" {
			return 0, fmt.Errorf("loads %s, which no volume mounts", path)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return 0, err
		}
		var cfg struct {
			Processors map[string]struct {
				DecisionWait string `yaml:"decision_wait"`
			} `yaml:"processors"`
			Exporters map[string]struct {
				SendingQueue struct {
					Batch struct {
						FlushTimeout string `yaml:"flush_timeout"`
					} `yaml:"batch"`
				} `yaml:"sending_queue"`
			} `yaml:"exporters"`
		}
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			return 0, fmt.Errorf("%s: %w", file, err)
		}
		for id, p := range cfg.Processors {
			if p.DecisionWait == "" {
				continue
			}
			d, err := time.ParseDuration(p.DecisionWait)
			if err != nil {
				return 0, fmt.Errorf("%s: processor %s: decision_wait: %w", file, id, err)
			}
			wait = max(wait, d)
		}
		for id, e := range cfg.Exporters {
			if e.SendingQueue.Batch.FlushTimeout == "" {
				continue
			}
			d, err := time.ParseDuration(e.SendingQueue.Batch.FlushTimeout)
			if err != nil {
				return 0, fmt.Errorf("%s: exporter %s: flush_timeout: %w", file, id, err)
			}
			flush = max(flush, d)
		}
	}
	return wait + flush, nil
}
