package main

import (
	"strings"
	"testing"
)

func TestParseDefaultsAskTheComposeStack(t *testing.T) {
	cfg, err := parse(nil)
	if err != nil {
		t.Fatal(err)
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
	} {
		_, err := parse([]string{args})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v; want one naming %s", args, err, want)
		}
	}
}
