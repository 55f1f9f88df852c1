package native

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Beyla holds spans in its ring buffer (up to 6 s, unless its reader is woken at each event), for its
// first stage's ebpf.batch_timeout (1 s by default) and for its exporter's batch_timeout (15 s by
// default): the lab's wait must count all of it like the other senders' OTEL_BSP_SCHEDULE_DELAY.
func TestSpanDelayCountsWhatBeylaHolds(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tempo := write("tempo.yaml", "ingester:\n  trace_idle_period: 2s\n  flush_check_period: 1s\n")
	configPath := "/etc/beyla/config.yml"
	for _, tc := range []struct {
		config  string
		want    time.Duration
		wantErr string
	}{
		{"discovery: {}\n", 6*time.Second + time.Second + 15*time.Second + 3*time.Second, ""},
		{"otel_traces_export:\n  batch_timeout: 5s\n", 6*time.Second + time.Second + 5*time.Second + 3*time.Second, ""},
		{"ebpf:\n  batch_timeout: 2s\n  wakeup_len: 1\notel_traces_export:\n  batch_timeout: 5s\n", 2*time.Second + 5*time.Second + 3*time.Second, ""},
		{"otel_traces_export:\n  batch_timeout: soon\n", 0, "otel_traces_export.batch_timeout"},
		{"ebpf:\n  batch_timeout: soon\n", 0, "ebpf.batch_timeout"},
	} {
		var tempoSvc, beyla types.ServiceConfig
		tempoSvc.Image, tempoSvc.Command = "grafana/tempo:2.9.0", types.ShellCommand{"-config.file=/etc/tempo.yaml"}
		tempoSvc.Volumes = []types.ServiceVolumeConfig{{Source: tempo, Target: "/etc/tempo.yaml"}}
		beyla.Image, beyla.Environment = "grafana/beyla:3.14.0", types.MappingWithEquals{"BEYLA_CONFIG_PATH": &configPath}
		beyla.Volumes = []types.ServiceVolumeConfig{{Source: write("beyla-config.yml", tc.config), Target: configPath}}
		p := &types.Project{Services: types.Services{"tempo": tempoSvc, "beyla": beyla}}
		got, err := SpanDelay(p)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: SpanDelay = %s, %v; want an error naming %s", tc.config, got, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%q: SpanDelay = %s, %v; want %s", tc.config, got, err, tc.want)
		}
	}
}
