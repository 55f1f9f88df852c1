package native

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The native Beyla runs the project's beyla-config.yml with only what differs from a container changed:
// the lane's binaries, the Collector's and Prometheus's addresses, the batch timeout.
func TestBeylaConfigKeepsTheProjectsAndPointsAtThisMachine(t *testing.T) {
	root := filepath.Join("..", "..")
	spec := BeylaSpec{Root: root, LaneDir: "/tmp/lane/beyla", Traces: "http://127.0.0.1:4318", Metrics: "127.0.0.1:9499", BatchTimeout: 500 * time.Millisecond}
	data, err := beylaConfig(spec)
	if err != nil {
		t.Fatal(err)
	}
	var got, orig map[string]any
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "beyla", "beyla-config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &orig); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, sel := range got["discovery"].(map[string]any)["instrument"].([]any) {
		paths = append(paths, sel.(map[string]any)["exe_path"].(string))
	}
	if want := "/tmp/lane/beyla/gateway /tmp/lane/beyla/catalog /tmp/lane/beyla/inventory /tmp/lane/beyla/orders"; strings.Join(paths, " ") != want {
		t.Errorf("exe_path selectors %v; want %s", paths, want)
	}
	traces := got["otel_traces_export"].(map[string]any)
	if traces["endpoint"] != spec.Traces || traces["batch_timeout"] != "500ms" {
		t.Errorf("otel_traces_export = %v; want the native Collector and 500ms", traces)
	}
	if port := got["prometheus_export"].(map[string]any)["port"]; port != 9499 {
		t.Errorf("prometheus_export.port = %v; want 9499", port)
	}
	routes, _ := yaml.Marshal(got["routes"])
	origRoutes, _ := yaml.Marshal(orig["routes"])
	if string(routes) != string(origRoutes) {
		t.Errorf("routes changed:\n%s\nwant\n%s", routes, origRoutes)
	}

	// Without a batch timeout of its own, the file's stays: the bench runs compose's.
	spec.BatchTimeout = 0
	data, err = beylaConfig(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "batch_timeout: 5s") {
		t.Errorf("the file's batch_timeout is gone:\n%s", data)
	}
}

// A BEYLA_BIN that names no executable is an error naming the variable; without it and without
// build/beyla, the run has no Beyla and says how to give one.
func TestFindBeyla(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BEYLA_BIN", filepath.Join(dir, "missing"))
	if _, _, err := FindBeyla(dir); err == nil || !strings.Contains(err.Error(), "BEYLA_BIN") {
		t.Errorf("a missing BEYLA_BIN gave %v; want an error naming it", err)
	}
	t.Setenv("BEYLA_BIN", "")
	path, why, err := FindBeyla(dir)
	if err != nil || path != "" || !strings.Contains(why, "BEYLA_BIN") {
		t.Errorf("no binary gave %q, %q, %v; want none and how to give one", path, why, err)
	}
	bin := filepath.Join(dir, BeylaBin)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if path, _, err := FindBeyla(dir); err != nil || path != bin {
		t.Errorf("with %s present: %q, %v", BeylaBin, path, err)
	}
}

// A Beyla of another version than .env's is refused: its figures would carry the pinned version's name.
func TestPinnedBeyla(t *testing.T) {
	root := filepath.Join("..", "..")
	env, err := DotEnv(root)
	if err != nil {
		t.Fatal(err)
	}
	pinned := env["BEYLA_VERSION"]
	for version, ok := range map[string]bool{
		"v" + pinned + " (revision 1f27f8399)":         true,
		"v" + pinned + "-patched (revision 1f27f8399)": true,
		"v3.33.0 (revision 0000000)":                   false,
		"v" + pinned + "1 (revision 0000000)":          false,
		"":                                             false,
	} {
		if err := PinnedBeyla(root, version); (err == nil) != ok {
			t.Errorf("PinnedBeyla(%q) = %v; want accepted %v", version, err, ok)
		}
	}
}

// The lane's services count as instrumented once Beyla logs their binary's path.
func TestNotInstrumented(t *testing.T) {
	log := `time=x level=INFO msg="instrumenting process" component=discover.traceAttacher cmd=/app/orders pid=1 type=go
time=x level=INFO msg="instrumenting process" component=discover.traceAttacher cmd=/app/gateway pid=2 type=go
time=x level=INFO msg="instrumenting process" component=discover.traceAttacher cmd=/other/catalog pid=3 type=go`
	if got := strings.Join(NotInstrumented(log, "/app"), " "); got != "catalog inventory" {
		t.Errorf("NotInstrumented = %q; want catalog inventory", got)
	}
}
