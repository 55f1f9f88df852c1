package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseDefaultsAskTheComposeStack(t *testing.T) {
	cfg, err := parse([]string{"-repo=../../.."})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.delay != 16*time.Second {
		t.Errorf("the wait for a checkout's spans read from docker-compose.yml: %s; want 16s (Beyla's 12 s: ring buffer 6, first stage 1, exporter 5; 1 s Collector queue, 3 s Tempo search)", cfg.delay)
	}
	two, err := parse([]string{"-repo=../../..", "-compose=docker-compose.yml,docker-compose.sampling.yml"})
	if err != nil {
		t.Fatal(err)
	}
	if two.delay != 27*time.Second {
		t.Errorf("with the samplers: %s; want 27s (and their 10 s decision wait, 1 s queue)", two.delay)
	}
	if two.timeout < two.delay+settle {
		t.Errorf("the default -timeout %s ends before the wait and the settling after it (%s + %s)", two.timeout, two.delay, settle)
	}
	if len(cfg.lanes) != 4 || cfg.lanes[0].Gateway != "http://127.0.0.1:8080" || cfg.lanes[3].Name != "manual" {
		t.Errorf("default lanes: %+v", cfg.lanes)
	}
	if len(cfg.scenarios) != 6 {
		t.Errorf("default scenarios: %d, want all 6", len(cfg.scenarios))
	}
}

func TestParseNamesTheBadSetting(t *testing.T) {
	for args, want := range map[string]string{
		"-lanes=nobody=http://127.0.0.1:1": "-lanes",
		"-lanes=plain":                     "-lanes",
		"-lanes=plain=ftp://x":             "-lanes: lane plain",
		"-scenarios=normal,teleport":       "-scenarios",
		"-tempo=127.0.0.1:3200":            "-tempo",
		"-timeout=0s":                      "-timeout",
		"-prometheus=http://":              "-prometheus",
		"-timeout=5s":                      "-timeout",
		"-compose=docker-compose.nope.yml": "-compose",
	} {
		_, err := parse([]string{"-repo=../../..", args})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v; want one naming %s", args, err, want)
		}
	}
}
