package shoptest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zerocodelab/lab/services/internal/loadgen"
)

func TestLoadgenDrivesEveryScenarioAndSurvivesADownLane(t *testing.T) {
	shop := Start(t, Options{})
	dead := "http://" + FreeAddr(t) // nothing listens there

	cfg, err := loadgen.LoadConfig(func(k string) string {
		return map[string]string{"TARGETS": "plain=" + shop.URL["gateway"] + ",off=" + dead, "RATE": "40", "DURATION": "2s"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stats := loadgen.Run(context.Background(), cfg, &http.Client{Timeout: 5 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if elapsed := time.Since(start); elapsed > 4*time.Second {
		t.Errorf("a 2 s run took %v", elapsed)
	}
	for _, want := range []struct {
		kind, status string
	}{
		{"products", "200"}, {"normal", "201"}, {"slow", "201"}, {"fanout", "201"},
		{"error", "502"}, {"out_of_stock", "409"}, {"not_found", "404"},
	} {
		if stats.Count("plain", want.kind, want.status) == 0 {
			t.Errorf("no %s request answered %s", want.kind, want.status)
		}
	}
	if stats.Count("off", "normal", "error") == 0 {
		t.Error("the lane that is down was not tried")
	}
	// Every request carried its own traceparent: the gateway logged a trace id on each access line.
	lines, traced := 0, 0
	for _, line := range shop.Log("gateway").Lines() {
		if strings.Contains(line, `"msg":"request"`) {
			lines++
			if strings.Contains(line, `"trace_id":"`) {
				traced++
			}
		}
	}
	if lines < 40 || traced != lines {
		t.Errorf("%d of %d access lines carry a trace id; want all of at least 40", traced, lines)
	}
}

func TestLoadgenConfigNamesTheBadVariable(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"TARGETS": "plain"},
		{"TARGETS": "plain=ftp://x"},
		{"TARGETS": "plain=http://x:8080", "RATE": "0"},
		{"TARGETS": "plain=http://x:8080", "DURATION": "soon"},
	} {
		_, err := loadgen.LoadConfig(func(k string) string { return env[k] })
		if err == nil {
			t.Errorf("LoadConfig(%v) accepted it", env)
			continue
		}
		named := false
		for k := range env {
			named = named || strings.Contains(err.Error(), k)
		}
		if len(env) == 0 {
			named = strings.Contains(err.Error(), "TARGETS")
		}
		if !named {
			t.Errorf("LoadConfig(%v) = %v; want the variable named", env, err)
		}
	}
}
