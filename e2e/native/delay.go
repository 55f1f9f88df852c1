package native

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// DefaultScheduleDelay is OTEL_BSP_SCHEDULE_DELAY where a sender does not set it: the OpenTelemetry
// specification's default for the batch span processor, which the SDK and the Go auto agent use.
const DefaultScheduleDelay = 5 * time.Second

// SpanDelay is how long after a request ends its spans can take to be found in Tempo, by trace id and by
// search, in the stack p describes, read from the compose files and the configs they mount: the longest
// batch delay of the services that send OTLP (OTEL_BSP_SCHEDULE_DELAY, and what Beyla holds, by the
// beyla-config.yml it mounts: beylaDelay), then, for each Collector on the
// way (the Collector, and the samplers where docker-compose.sampling.yml runs them), the longest a span
// waits in it (a tail sampler's decision_wait, its queues' flush_timeout), then Tempo's ingester, whose
// search sees a trace only once it went trace_idle_period without a span, at its next flush check.
func SpanDelay(p *types.Project) (time.Duration, error) {
	tempo, ok := p.Services["tempo"]
	if !ok {
		return 0, fmt.Errorf("no service tempo")
	}
	searchable, err := tempoDelay(tempo)
	if err != nil {
		return 0, fmt.Errorf("tempo: %w", err)
	}
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
		if strings.HasPrefix(s.Image, "grafana/beyla:") {
			d, err := beylaDelay(s)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
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
	return senders + collectors + searchable, nil
}

// Beyla's defaults where its config sets none (obi.DefaultConfig at the pinned version): its exporter's
// otel_traces_export.batch_timeout, and ebpf.batch_timeout, how long its first stage gathers events.
const (
	DefaultBeylaBatchTimeout     = 15 * time.Second
	DefaultBeylaEBPFBatchTimeout = time.Second
)

// BeylaRingBufferHold is how long an event can wait in Beyla's ring buffer. The buffer wakes Beyla's
// reader only once ebpf.wakeup_len events (500 by default) wait in it; fewer are read when a flusher,
// every 3 s, finds the reader idle for over 3 s: up to two rounds (flushInterval in OBI's
// pkg/ebpf/common/ringbuf.go at the pinned version, not configurable). A wakeup_len of 1 wakes the
// reader at each event.
const BeylaRingBufferHold = 6 * time.Second

// beylaDelay is how long Beyla can hold spans before it sends them: its ring buffer's hold, then
// ebpf.batch_timeout, then otel_traces_export.batch_timeout, from the config file its
// BEYLA_CONFIG_PATH names, read from the host file mounted there.
func beylaDelay(s types.ServiceConfig) (time.Duration, error) {
	path := s.Environment["BEYLA_CONFIG_PATH"]
	if path == nil {
		return 0, fmt.Errorf("no BEYLA_CONFIG_PATH")
	}
	i := slices.IndexFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == *path })
	if i < 0 {
		return 0, fmt.Errorf("BEYLA_CONFIG_PATH=%s is not mounted", *path)
	}
	data, err := os.ReadFile(s.Volumes[i].Source)
	if err != nil {
		return 0, err
	}
	var cfg struct {
		Traces struct {
			BatchTimeout string `yaml:"batch_timeout"`
		} `yaml:"otel_traces_export"`
		EBPF struct {
			BatchTimeout string `yaml:"batch_timeout"`
			WakeupLen    *int   `yaml:"wakeup_len"`
		} `yaml:"ebpf"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return 0, fmt.Errorf("%s: %w", *path, err)
	}
	export, err := durationOr(cfg.Traces.BatchTimeout, DefaultBeylaBatchTimeout)
	if err != nil {
		return 0, fmt.Errorf("%s: otel_traces_export.batch_timeout: %w", *path, err)
	}
	gather, err := durationOr(cfg.EBPF.BatchTimeout, DefaultBeylaEBPFBatchTimeout)
	if err != nil {
		return 0, fmt.Errorf("%s: ebpf.batch_timeout: %w", *path, err)
	}
	hold := BeylaRingBufferHold
	if cfg.EBPF.WakeupLen != nil && *cfg.EBPF.WakeupLen <= 1 {
		hold = 0
	}
	return hold + gather + export, nil
}

// durationOr parses v, or returns def where v is empty.
func durationOr(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	return time.ParseDuration(v)
}

// Tempo's own defaults (modules/ingester/config.go at the pinned version) where its config sets none.
const (
	tempoTraceIdle  = 5 * time.Second
	tempoFlushCheck = 10 * time.Second
)

// tempoDelay is how long after its last span Tempo's search can take to see a trace: the ingester's
// trace_idle_period and flush_check_period, from the config file its command names.
func tempoDelay(s types.ServiceConfig) (time.Duration, error) {
	files, err := configFiles(s, "-config.file=")
	if err != nil {
		return 0, err
	}
	if len(files) != 1 {
		return 0, fmt.Errorf("its command %q names %d -config.file; want one", s.Command, len(files))
	}
	data := files[0].data
	var cfg struct {
		Ingester struct {
			TraceIdle  string `yaml:"trace_idle_period"`
			FlushCheck string `yaml:"flush_check_period"`
		} `yaml:"ingester"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return 0, err
	}
	idle, check := tempoTraceIdle, tempoFlushCheck
	for _, setting := range []struct {
		name, value string
		d           *time.Duration
	}{{"trace_idle_period", cfg.Ingester.TraceIdle, &idle}, {"flush_check_period", cfg.Ingester.FlushCheck, &check}} {
		if setting.value == "" {
			continue
		}
		d, err := time.ParseDuration(setting.value)
		if err != nil {
			return 0, fmt.Errorf("ingester.%s: %w", setting.name, err)
		}
		*setting.d = d
	}
	return idle + check, nil
}

// configFile is one config file a service's command names: its path in the container, its content.
type configFile struct {
	path string
	data []byte
}

// configFiles reads the config files a service's command names with flag (flag=path), in order, from
// the host files its volumes mount there.
func configFiles(s types.ServiceConfig, flag string) ([]configFile, error) {
	var files []configFile
	for _, arg := range s.Command {
		path, ok := strings.CutPrefix(arg, flag)
		if !ok {
			continue
		}
		i := slices.IndexFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == path })
		if i < 0 {
			return nil, fmt.Errorf("%s is not mounted", path)
		}
		data, err := os.ReadFile(s.Volumes[i].Source)
		if err != nil {
			return nil, err
		}
		files = append(files, configFile{path, data})
	}
	return files, nil
}

// collectorDelay is the longest a span waits in one Collector: the decision_wait of its tail sampler, if
// it has one, and the longest flush_timeout of its exporters' queues, from every config file it loads.
func collectorDelay(s types.ServiceConfig) (time.Duration, error) {
	files, err := configFiles(s, "--config=")
	if err != nil {
		return 0, err
	}
	var wait, flush time.Duration
	for _, f := range files {
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
		if err := yaml.Unmarshal(f.data, &cfg); err != nil {
			return 0, fmt.Errorf("%s: %w", f.path, err)
		}
		for id, p := range cfg.Processors {
			if p.DecisionWait == "" {
				continue
			}
			d, err := time.ParseDuration(p.DecisionWait)
			if err != nil {
				return 0, fmt.Errorf("%s: processor %s: decision_wait: %w", f.path, id, err)
			}
			wait = max(wait, d)
		}
		for id, e := range cfg.Exporters {
			if e.SendingQueue.Batch.FlushTimeout == "" {
				continue
			}
			d, err := time.ParseDuration(e.SendingQueue.Batch.FlushTimeout)
			if err != nil {
				return 0, fmt.Errorf("%s: exporter %s: flush_timeout: %w", f.path, id, err)
			}
			flush = max(flush, d)
		}
	}
	return wait + flush, nil
}
