package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/zerocodelab/lab/e2e/native"
)

// Every upstream image of the compose file takes its tag from .env: the one file that pins versions.
func TestComposeImagesTakeTheirTagFromDotEnv(t *testing.T) {
	vars, err := native.DotEnv(root)
	if err != nil {
		t.Fatal(err)
	}
	tag := regexp.MustCompile(`^\$\{([A-Z_]+_VERSION):\?set in \.env\}$`)
	images := regexp.MustCompile(`(?m)^\s*image: (.+)$`).FindAllStringSubmatch(readFile(t, "docker-compose.yml"), -1)
	upstream := 0
	for _, m := range images {
		name, version, _ := strings.Cut(m[1], ":")
		if strings.HasPrefix(name, "zero-code-lab/") {
			continue // built here from this repository
		}
		upstream++
		v := tag.FindStringSubmatch(version)
		switch {
		case v == nil:
			t.Errorf("docker-compose.yml: image %s has its tag written inline; want ${NAME_VERSION:?set in .env}", m[1])
		case vars[v[1]] == "":
			t.Errorf("docker-compose.yml: image %s reads %s, which .env does not pin", name, v[1])
		}
	}
	if upstream != 7 {
		t.Errorf("docker-compose.yml names %d upstream images; want 7 (Collector, Tempo, Loki, Prometheus, Grafana, Beyla, the Go auto agent)", upstream)
	}
}

// Where a tool cannot read .env, its copy of a pinned version must equal it.
func TestCopiesOfPinnedVersionsMatchDotEnv(t *testing.T) {
	goVersion, collector := pinned(t, "GO_VERSION"), pinned(t, "COLLECTOR_VERSION")
	copies := []struct {
		file    string
		pattern string // its one submatch is the copy of the version
		want    string
	}{
		{"collector/builder-config.yaml", `(?m)^  version: (\S+)$`, collector},
		{"e2e/stack/tempo-standin/builder-config.yaml", `(?m)^  version: (\S+)$`, collector},
		{"services/Dockerfile", `(?m)^ARG GO_VERSION=(\S+)$`, goVersion},
		{"e2e/Dockerfile", `(?m)^ARG GO_VERSION=(\S+)$`, goVersion},
		{"services/go.mod", `(?m)^go (\S+)$`, goVersion},
		{"e2e/go.mod", `(?m)^go (\S+)$`, goVersion},
		{"go.work", `(?m)^go (\S+)$`, goVersion},
	}
	for _, c := range copies {
		m := regexp.MustCompile(c.pattern).FindStringSubmatch(readFile(t, c.file))
		switch {
		case m == nil:
			t.Errorf("%s: no version found by %s", c.file, c.pattern)
		case m[1] != c.want:
			t.Errorf("%s is at %s, .env pins %s: keep them equal", c.file, m[1], c.want)
		}
	}
	// Its component modules are checked on the built Collector (TestCollectorBuildMatchesManifestAndConfig).
}

// The Makefile and the build scripts read .env rather than keep their own copies.
func TestBuildsReadTheirVersionsFromDotEnv(t *testing.T) {
	if !regexp.MustCompile(`(?m)^include \.env$`).MatchString(readFile(t, "Makefile")) {
		t.Error("the Makefile does not include .env")
	}
	if m := regexp.MustCompile(`(?m)^[A-Z_]+_VERSION\s*:?=.*$`).FindString(readFile(t, "Makefile")); m != "" {
		t.Errorf("the Makefile pins a version of its own: %q; put it in .env", m)
	}
	for script, names := range map[string][]string{
		"otel-auto/build.sh":                {"OTEL_GO_AUTO_VERSION"},
		"observability/loki/build.sh":       {"LOKI_VERSION"},
		"observability/prometheus/build.sh": {"PROMETHEUS_VERSION"},
		"e2e/stack/images/build.sh":         {"GO_VERSION", "COLLECTOR_VERSION", "LOKI_VERSION", "PROMETHEUS_VERSION", "OTEL_GO_AUTO_VERSION", "BEYLA_VERSION", "PAUSE_VERSION", "COREDNS_VERSION"},
		"e2e/cluster/build.sh":              {"KUBERNETES_VERSION", "ETCD_VERSION", "CNI_PLUGINS_VERSION", "COREDNS_VERSION", "PAUSE_VERSION", "CRI_TOOLS_VERSION"},
	} {
		text := readFile(t, script)
		if !strings.Contains(text, "\nsource .env ") {
			t.Errorf("%s does not read .env", script)
		}
		for _, name := range names {
			if !strings.Contains(text, "${"+name+":?.env pins no "+name+"}") {
				t.Errorf("%s does not read %s from .env", script, name)
			}
		}
	}
}

// go.work (for editors) builds both modules with one version of each module they share, the higher one:
// it must be the version each go.mod names, or the workspace builds what no test ran (and may not compile).
func TestModulesShareTheirDependenciesVersions(t *testing.T) {
	requires := func(file string) map[string]string {
		out := map[string]string{}
		for _, m := range regexp.MustCompile(`(?m)^\s+(\S+) (v\S+)`).FindAllStringSubmatch(readFile(t, file), -1) {
			out[m[1]] = m[2]
		}
		return out
	}
	e2e, services := requires("e2e/go.mod"), requires("services/go.mod")
	if len(e2e) == 0 || len(services) == 0 {
		t.Fatal("no require lines read")
	}
	for mod, v := range e2e {
		if w, ok := services[mod]; ok && w != v {
			t.Errorf("%s: e2e/go.mod requires %s, services/go.mod %s", mod, v, w)
		}
	}
}
