package cluster

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/zerocodelab/lab/e2e/native"
)

// object is one rendered Kubernetes object, as generic YAML.
type object map[string]any

func (o object) get(path ...string) any {
	var v any = map[string]any(o)
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func (o object) str(path ...string) string { s, _ := o.get(path...).(string); return s }
func (o object) kind() string              { return o.str("kind") }
func (o object) name() string              { return o.str("metadata", "name") }
func (o object) namespace() string         { return o.str("metadata", "namespace") }

// containers are the containers of a workload's pod template.
func (o object) containers() []object {
	list, _ := o.get("spec", "template", "spec", "containers").([]any)
	var out []object
	for _, c := range list {
		out = append(out, object(c.(map[string]any)))
	}
	return out
}

// env is a container's environment: value, or "fieldRef:<path>" for the downward API.
func (o object) env() map[string]string {
	env := map[string]string{}
	list, _ := o["env"].([]any)
	for _, e := range list {
		e := object(e.(map[string]any))
		if ref := e.str("valueFrom", "fieldRef", "fieldPath"); ref != "" {
			env[e.str("name")] = "fieldRef:" + ref
			continue
		}
		env[e.str("name")] = e.str("value")
	}
	return env
}

// render renders a kustomization as kubectl kustomize --load-restrictor LoadRestrictionsNone does.
func render(t *testing.T, dir string) []object {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	res, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("render %s: %v", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var objs []object
	dec := yaml.NewDecoder(strings.NewReader(string(out)))
	for {
		var o map[string]any // not object: yaml.v3 would make every nested mapping an object too
		err := dec.Decode(&o)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("render %s: %v", dir, err)
		}
		objs = append(objs, object(o))
	}
	return objs
}

func find(objs []object, kind, namespace, name string) (object, bool) {
	for _, o := range objs {
		if o.kind() == kind && o.namespace() == namespace && o.name() == name {
			return o, true
		}
	}
	return nil, false
}

const repoRoot = "../.."

// Every form make k8s-up can deploy renders, names only the images .env pins (or the lab's own), keeps
// each object in the showcase's namespaces, and runs the stand-in, Grafana and Beyla exactly when the
// engine's images say so.
func TestEveryShowcaseFormRendersWithThePinnedImages(t *testing.T) {
	env, err := native.DotEnv(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs(repoRoot)
	pinned := map[string]string{
		"otel/opentelemetry-collector-contrib": env["COLLECTOR_VERSION"],
		"grafana/tempo":                        env["TEMPO_VERSION"],
		"grafana/loki":                         env["LOKI_VERSION"],
		"prom/prometheus":                      env["PROMETHEUS_VERSION"],
		"grafana/grafana":                      env["GRAFANA_VERSION"],
		"grafana/beyla":                        env["BEYLA_VERSION"],
		"ghcr.io/open-telemetry/opentelemetry-go-instrumentation/autoinstrumentation-go": env["OTEL_GO_AUTO_VERSION"],
	}
	for _, s := range []Showcase{
		{Root: root},
		{Root: root, Tempo: true, Grafana: true, Beyla: true},
		{Root: root, Beyla: true},
	} {
		t.Run(fmt.Sprintf("tempo=%v,grafana=%v,beyla=%v", s.Tempo, s.Grafana, s.Beyla), func(t *testing.T) {
			dir, err := s.overlay()
			if err != nil {
				t.Fatal(err)
			}
			objs := render(t, dir)
			var images []string
			for _, o := range objs {
				if ns := o.namespace(); ns != "" && !slices.Contains(s.Namespaces(), ns) {
					t.Errorf("%s %s is in namespace %s; want one of %v", o.kind(), o.name(), ns, s.Namespaces())
				}
				for _, c := range o.containers() {
					images = append(images, c.str("image"))
				}
			}
			for _, img := range images {
				name, tag, _ := strings.Cut(img, ":")
				switch want, ok := pinned[name]; {
				case ok && tag != want:
					t.Errorf("%s: .env pins %s", img, want)
				case !ok && !regexp.MustCompile(`^zero-code-lab/[a-z-]+:(plain|beyla|otel-auto|manual|local)$`).MatchString(img):
					t.Errorf("%s is neither an image .env pins nor one the lab builds", img)
				}
			}
			has := func(img string) bool {
				return slices.ContainsFunc(images, func(i string) bool { return strings.HasPrefix(i, img+":") })
			}
			for img, want := range map[string]bool{
				"grafana/tempo": s.Tempo, "zero-code-lab/tempo-standin": !s.Tempo,
				"grafana/grafana": s.Grafana, "grafana/beyla": s.Beyla,
			} {
				if has(img) != want {
					t.Errorf("image %s runs: %v; want %v", img, has(img), want)
				}
			}
			tempo, _ := find(objs, "Deployment", StackNamespace, "tempo")
			if !s.Tempo && !strings.Contains(fmt.Sprint(tempo.get("spec", "template", "spec", "volumes")), TempoStandInDir) {
				t.Errorf("the stand-in does not write to %s, where the test reads its spans", TempoStandInDir)
			}
		})
	}
}

// Each lane is a namespace of the four services with its own images, its lane in the environment as in
// compose, and the otel-auto lane's pods are what the OpenTelemetry Operator would make of them.
func TestEachLaneIsTheShopWithItsInstrumentation(t *testing.T) {
	objs := render(t, filepath.Join(repoRoot, "k8s"))
	for _, lane := range []string{"plain", "beyla", "otel-auto", "manual"} {
		ns := StackNamespace + "-" + lane
		for _, svc := range native.Services {
			d, ok := find(objs, "Deployment", ns, svc)
			if !ok {
				t.Errorf("no Deployment %s in %s", svc, ns)
				continue
			}
			if _, ok := find(objs, "Service", ns, svc); !ok {
				t.Errorf("no Service %s in %s", svc, ns)
			}
			shop := d.containers()[0]
			env := shop.env()
			if shop.str("name") != "service" || shop.str("image") != "zero-code-lab/"+svc+":"+lane {
				t.Errorf("%s/%s runs %s %s; want container service, image zero-code-lab/%s:%s", ns, svc, shop.str("name"), shop.str("image"), svc, lane)
			}
			if env["LANE"] != lane || env["OTEL_RESOURCE_ATTRIBUTES"] != "service.namespace="+lane || env["OTEL_SERVICE_NAME"] != svc {
				t.Errorf("%s/%s: LANE=%q OTEL_RESOURCE_ATTRIBUTES=%q OTEL_SERVICE_NAME=%q", ns, svc, env["LANE"], env["OTEL_RESOURCE_ATTRIBUTES"], env["OTEL_SERVICE_NAME"])
			}
			exe := d.str("spec", "template", "metadata", "annotations", "instrumentation.opentelemetry.io/otel-go-auto-target-exe")
			if exe != "/app/"+svc {
				t.Errorf("%s/%s: the target-exe annotation is %q; want /app/%s, the binary's path in its image", ns, svc, exe, svc)
			}
			sidecars := d.containers()[1:]
			if lane != "otel-auto" {
				if len(sidecars) > 0 {
					t.Errorf("%s/%s has sidecars; only the otel-auto lane has one", ns, svc)
				}
				continue
			}
			if len(sidecars) != 1 || sidecars[0].str("name") != "opentelemetry-auto-instrumentation" {
				t.Errorf("%s/%s: want the one sidecar opentelemetry-auto-instrumentation", ns, svc)
				continue
			}
			agent := sidecars[0].env()
			if d.get("spec", "template", "spec", "shareProcessNamespace") != true {
				t.Errorf("%s/%s: the agent cannot see the service without shareProcessNamespace", ns, svc)
			}
			if agent["OTEL_GO_AUTO_TARGET_EXE"] != "fieldRef:metadata.annotations['instrumentation.opentelemetry.io/otel-go-auto-target-exe']" ||
				agent["OTEL_SERVICE_NAME"] != "fieldRef:metadata.labels['app.kubernetes.io/name']" ||
				!strings.HasSuffix(agent["OTEL_RESOURCE_ATTRIBUTES"], ",service.namespace=otel-auto") {
				t.Errorf("%s/%s: the agent's target, name or lane: %v", ns, svc, agent)
			}
		}
	}
}

// The lab, the load generator and prometheus.yml reach every lane under its compose name: each is a
// Service of the stack's namespace aliasing the lane's own, on the port compose uses.
func TestComposeNamesReachTheLanes(t *testing.T) {
	objs := render(t, filepath.Join(repoRoot, "k8s"))
	var targets [][]string
	for _, m := range regexp.MustCompile(`\b(plain|beyla|otel-auto|manual)-(gateway|catalog|inventory|orders):(\d+)`).
		FindAllStringSubmatch(readText(t, "observability/prometheus/prometheus.yml"), -1) {
		if !slices.ContainsFunc(targets, func(t []string) bool { return t[0] == m[0] }) {
			targets = append(targets, m) // once each: a comment may name one too
		}
	}
	if len(targets) != 16 {
		t.Fatalf("prometheus.yml names %d shop targets; want 16", len(targets))
	}
	for _, m := range targets {
		alias, ok := find(objs, "Service", StackNamespace, m[1]+"-"+m[2])
		if !ok {
			t.Errorf("no Service %s in %s for prometheus.yml's target %s", m[1]+"-"+m[2], StackNamespace, m[0])
			continue
		}
		want := fmt.Sprintf("%s.%s-%s.svc.cluster.local", m[2], StackNamespace, m[1])
		if alias.str("spec", "externalName") != want {
			t.Errorf("%s aliases %q; want %s", alias.name(), alias.str("spec", "externalName"), want)
		}
		svc, _ := find(objs, "Service", StackNamespace+"-"+m[1], m[2])
		if ports := fmt.Sprint(svc.get("spec", "ports")); !strings.Contains(ports, "port:"+m[3]) {
			t.Errorf("%s serves %s; prometheus.yml scrapes port %s", m[0], ports, m[3])
		}
	}
	compose, err := native.LoadCompose(context.Background(), repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ deployment, service string }{{"lab", "lab"}, {"loadgen", "loadgen"}} {
		d, ok := find(objs, "Deployment", StackNamespace, c.deployment)
		if !ok {
			t.Fatalf("no Deployment %s", c.deployment)
		}
		k8sEnv := d.containers()[0].env()
		for name, value := range compose.Services[c.service].Environment {
			if name == "LAB_ADDR" || name == "GRAFANA_URL" {
				continue
			}
			if value != nil && k8sEnv[name] != *value {
				t.Errorf("%s: %s=%q on Kubernetes, %q in compose", c.deployment, name, k8sEnv[name], *value)
			}
		}
	}
}

// Beyla's DaemonSet takes the same route patterns as compose's Beyla (which a test keeps equal to the
// services' routes) and finds the beyla lane by its namespace.
func TestBeylaOnKubernetesFindsItsLane(t *testing.T) {
	var compose, k8s struct {
		Routes    map[string]any
		Discovery struct {
			Instrument []map[string]any
		}
	}
	if err := yaml.Unmarshal([]byte(readText(t, "beyla/beyla-config.yml")), &compose); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(readText(t, "k8s/beyla/beyla-config.yml")), &k8s); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(compose.Routes) != fmt.Sprint(k8s.Routes) {
		t.Errorf("k8s/beyla/beyla-config.yml routes %v; compose's Beyla has %v", k8s.Routes, compose.Routes)
	}
	if len(k8s.Discovery.Instrument) != 1 || k8s.Discovery.Instrument[0]["k8s_namespace"] != StackNamespace+"-beyla" {
		t.Errorf("Beyla instruments %v; want the namespace %s-beyla", k8s.Discovery.Instrument, StackNamespace)
	}
	objs := render(t, filepath.Join(repoRoot, "k8s/beyla"))
	ds, ok := find(objs, "DaemonSet", StackNamespace, "beyla")
	if !ok {
		t.Fatal("no DaemonSet beyla")
	}
	if ds.get("spec", "template", "spec", "hostPID") != true {
		t.Error("Beyla cannot see the lane's processes without hostPID")
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
