package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/zerocodelab/lab/e2e/native"
)

// otelcol is the natively built Collector (make collector).
func otelcol(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(root, "build", "otelcol", "otelcol-zerocode"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the Collector is not built: run make collector (%v)", err)
	}
	return path
}

// collectorConfigs are the Collector's configurations: the one Collector of the default stack, and the
// two tiers of tail sampling (docker-compose.sampling.yml): config.yaml with two-tier.yaml laid over it,
// the samplers, and the Kubernetes agent (k8s/stack/collector.yaml): config.yaml with collector-k8s.yaml laid over it.
var collectorConfigs = [][]string{
	{"collector/config.yaml"},
	{"collector/config.yaml", "collector/two-tier.yaml"},
	{"collector/sampler.yaml"},
	{"collector/config.yaml", "k8s/stack/collector-k8s.yaml"},
}

func TestCollectorConfigValidates(t *testing.T) {
	for _, files := range collectorConfigs {
		args := []string{"validate"}
		for _, f := range files {
			args = append(args, "--config", filepath.Join(root, f))
		}
		cmd := exec.Command(otelcol(t), args...)
		// The Kubernetes agent's k8s_attributes reads its node's name from the environment, which its
		// DaemonSet sets (downward API): validate with one.
		cmd.Env = append(os.Environ(), "K8S_NODE_NAME=node-1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("otelcol validate %v: %v\n%s", files, err, out)
		}
	}
}

// The native Collector must be the compose image's: every component module at the manifest's version,
// and exactly the components the config uses.
func TestCollectorBuildMatchesManifestAndConfig(t *testing.T) {
	version := pinned(t, "COLLECTOR_VERSION")
	out, err := exec.Command(otelcol(t), "components").Output()
	if err != nil {
		t.Fatal(err)
	}
	var comps map[string]any
	if err := yaml.Unmarshal(out, &comps); err != nil {
		t.Fatalf("otelcol components: %v", err)
	}
	built := map[string]bool{}
	for _, kind := range []string{"receivers", "processors", "exporters", "connectors", "extensions"} {
		list, _ := comps[kind].([]any)
		for _, c := range list {
			m := c.(map[string]any)
			name, module := m["name"].(string), m["module"].(string)
			built[name] = true
			if !strings.HasSuffix(module, " v"+version) {
				t.Errorf("%s %s is built from %s; want v%s, the version .env pins", kind, name, module, version)
			}
		}
	}
	if bi, _ := comps["buildinfo"].(map[string]any); bi["version"] != version {
		t.Errorf("the built Collector says version %v; .env pins %s", bi["version"], version)
	}

	used := map[string]bool{}
	for _, file := range slices.Concat(collectorConfigs...) { // config.yaml twice does no harm
		var cfg map[string]map[string]any
		if err := yaml.Unmarshal([]byte(readFile(t, file)), &cfg); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"receivers", "processors", "exporters", "connectors", "extensions"} {
			for id := range cfg[kind] {
				typ, _, _ := strings.Cut(id, "/")
				used[typ] = true
			}
		}
	}
	for name := range built {
		if !used[name] {
			t.Errorf("the manifest builds %s, which no config uses", name)
		}
	}
	for name := range used {
		if !built[name] {
			t.Errorf("a config uses %s, which the manifest does not build", name)
		}
	}
}

func TestPrometheusConfigIsValid(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is missing: .ci/run must install Debian's prometheus package")
		}
		t.Skip("promtool not found (apt-get install prometheus)")
	}
	out, err := exec.Command(promtool, "check", "config", filepath.Join(root, "observability/prometheus/prometheus.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

// The shop job scrapes exactly the compose services of every lane, on the ports they listen on, and
// gives them no lane label: the services label their metrics with their lane themselves (a second
// source would be renamed exported_lane). Beyla and the Collector are scraped where compose runs them.
func TestPrometheusScrapesEveryLaneOfCompose(t *testing.T) {
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Labels  map[string]string `yaml:"labels"`
				Targets []string          `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "observability/prometheus/prometheus.yml")), &prom); err != nil {
		t.Fatal(err)
	}
	project := mustLoad(t)
	ports := map[string]string{"gateway": "8080", "catalog": "8081", "inventory": "8082", "orders": "8083"}
	jobs := map[string]map[string]string{} // job -> target -> lane
	for _, sc := range prom.ScrapeConfigs {
		jobs[sc.JobName] = map[string]string{}
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				jobs[sc.JobName][tg] = st.Labels["lane"]
			}
		}
	}
	for _, lane := range native.Lanes {
		for _, svc := range native.Services {
			name := lane + "-" + svc
			if _, ok := project.Services[name]; !ok {
				t.Errorf("compose has no %s", name)
			}
			if got, ok := jobs["shop"][name+":"+ports[svc]]; !ok || got != "" {
				t.Errorf("prometheus job shop: target %s:%s has lane label %q (present %v); want the target, with no lane label", name, ports[svc], got, ok)
			}
		}
	}
	if len(jobs["shop"]) != len(native.Lanes)*len(native.Services) {
		t.Errorf("prometheus job shop has %d targets; want %d", len(jobs["shop"]), len(native.Lanes)*len(native.Services))
	}
	if jobs["beyla"]["beyla:9400"] != "beyla" || !strings.Contains(readFile(t, "beyla/beyla-config.yml"), "port: 9400") {
		t.Error("prometheus does not scrape Beyla on the port beyla-config.yml exports")
	}
	if _, ok := jobs["otel-collector"]["otel-collector:8888"]; !ok || !strings.Contains(readFile(t, "collector/config.yaml"), "TELEMETRY_PORT:-8888") {
		t.Error("prometheus does not scrape the Collector's own metrics where the Collector serves them")
	}
	cmd := project.Services["prometheus"].Command
	for _, flag := range []string{"--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage"} {
		if !slices.Contains(cmd, flag) {
			t.Errorf("compose runs prometheus without %s", flag)
		}
	}
}
