package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/stack"
)

// Showcase is what Deploy runs of k8s/: which upstream images the engine has decides, as for the
// compose run, whether Tempo is Tempo or the stand-in, and whether Grafana and Beyla run.
type Showcase struct {
	Root    string // the repository
	Tempo   bool   // the engine has a Tempo image; otherwise the stand-in of e2e/cluster/components
	Grafana bool   // the engine has a Grafana image; otherwise Grafana is left out
	Beyla   bool   // the engine has a Beyla image; otherwise k8s/beyla is only validated by the API server
}

// ShowcaseFor decides from the images the engine has what of k8s/ runs: as for the compose run,
// Tempo's own image or the stand-in, and Grafana and Beyla where their images are.
func ShowcaseFor(ctx context.Context, root string) (Showcase, error) {
	env, err := native.DotEnv(root)
	if err != nil {
		return Showcase{}, err
	}
	comps, err := stack.Components(ctx, env)
	if err != nil {
		return Showcase{}, err
	}
	has := func(name string) bool { return stack.ComponentNamed(comps, name).Origin != stack.Missing }
	return Showcase{Root: root, Tempo: has("Tempo"), Grafana: has("Grafana"), Beyla: has("Beyla")}, nil
}

// Namespaces are the showcase's namespaces: the stack's, then one per lane.
func (s Showcase) Namespaces() []string {
	ns := []string{StackNamespace}
	for _, lane := range s.Lanes() {
		ns = append(ns, StackNamespace+"-"+lane)
	}
	return ns
}

// Lanes are the lanes Deploy runs.
func (s Showcase) Lanes() []string {
	if s.Beyla {
		return []string{"plain", "beyla", "otel-auto", "manual"}
	}
	return []string{"plain", "otel-auto", "manual"}
}

// StackNamespace is the namespace of the stack; each lane's is StackNamespace-<lane>.
const StackNamespace = "zero-code-lab"

// TempoStandInDir is the node's folder where the Tempo stand-in writes traces.jsonl.
const TempoStandInDir = "/var/lib/zerocode-lab-k8s/tempo-standin"

// overlay writes build/k8s/overlay/kustomization.yaml: k8s/ as s runs it.
func (s Showcase) overlay() (string, error) {
	dir := filepath.Join(s.Root, "build/k8s/overlay")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("# Written by make k8s-up: k8s/ as this host runs it.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, r := range []string{"k8s/stack", "k8s/lanes/plain", "k8s/lanes/otel-auto", "k8s/lanes/manual"} {
		fmt.Fprintf(&b, "  - ../../../%s\n", r)
	}
	if s.Beyla {
		b.WriteString("  - ../../../k8s/beyla\n")
	}
	var components []string
	if !s.Tempo {
		components = append(components, "tempo-standin")
	}
	if !s.Grafana {
		components = append(components, "no-grafana")
	}
	if len(components) > 0 {
		b.WriteString("components:\n")
		for _, c := range components {
			fmt.Fprintf(&b, "  - ../../../e2e/cluster/components/%s\n", c)
		}
	}
	return dir, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(b.String()), 0o644)
}

// Render is the showcase's manifests as kubectl kustomize renders them for s.
func (c *Cluster) Render(ctx context.Context, s Showcase) (string, error) {
	dir, err := s.overlay()
	if err != nil {
		return "", err
	}
	return c.Kubectl(ctx, "", "kustomize", "--load-restrictor", "LoadRestrictionsNone", dir)
}

var imageLine = regexp.MustCompile(`(?m)^\s+image: (\S+)$`)

// Images lists the images a rendered manifest names, each once.
func Images(manifest string) []string {
	var images []string
	for _, m := range imageLine.FindAllStringSubmatch(manifest, -1) {
		if !slices.Contains(images, m[1]) {
			images = append(images, m[1])
		}
	}
	slices.Sort(images)
	return images
}

// Deploy renders k8s/ for s, loads every image it names into the cluster's containerd, applies it and
// waits until every Deployment is Available and the Collector runs on the node. Without Beyla, the API
// server still validates k8s/beyla (kubectl apply --dry-run=server).
func (c *Cluster) Deploy(ctx context.Context, s Showcase) error {
	if c.running("kube-apiserver") == 0 {
		return errNotUp
	}
	manifest, err := c.Render(ctx, s)
	if err != nil {
		return err
	}
	if !s.Tempo {
		// The stand-in runs as Tempo's user, 10001, in a folder of that owner and mode, as Tempo's
		// image makes /var/tempo.
		if err := os.MkdirAll(TempoStandInDir, 0o700); err != nil {
			return err
		}
		if err := os.Chown(TempoStandInDir, 10001, 10001); err != nil {
			return err
		}
	}
	if err := c.LoadImages(ctx, Images(manifest)...); err != nil {
		return err
	}
	if _, err := c.Kubectl(ctx, manifest, "apply", "-f", "-"); err != nil {
		return err
	}
	if !s.Beyla {
		if err := c.validateBeyla(ctx, s.Root); err != nil {
			return err
		}
	}
	for _, ns := range s.Namespaces() {
		if _, err := c.Kubectl(ctx, "", "-n", ns, "wait", "--for=condition=Available", "deployment", "--all", "--timeout=5m"); err != nil {
			return fmt.Errorf("namespace %s: %w\n%s", ns, err, c.describeNotReady(ctx, ns))
		}
	}
	if _, err := c.Kubectl(ctx, "", "-n", StackNamespace, "rollout", "status", "daemonset/otel-collector", "--timeout=3m"); err != nil {
		return err
	}
	c.Log.Info("the showcase runs", "namespaces", s.Namespaces())
	return nil
}

// validateBeyla has the API server check k8s/beyla without running it: every object passes admission
// and schema validation. Its lane's namespace is made for real, since a dry-run namespace holds nothing.
func (c *Cluster) validateBeyla(ctx context.Context, root string) error {
	manifest, err := c.Kubectl(ctx, "", "kustomize", "--load-restrictor", "LoadRestrictionsNone", filepath.Join(root, "k8s/beyla"))
	if err != nil {
		return err
	}
	if _, err := c.Kubectl(ctx, "", "create", "namespace", StackNamespace+"-beyla"); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
		return err
	}
	out, err := c.Kubectl(ctx, manifest, "apply", "--dry-run=server", "-f", "-")
	if err != nil {
		return fmt.Errorf("k8s/beyla does not validate: %w", err)
	}
	c.Log.Info("no Beyla image: k8s/beyla validated by the API server, not run", "objects", strings.Count(out, "(server dry run)"))
	return nil
}

// describeNotReady says, for a namespace whose Deployments are not Available, each pod's phase and
// why its containers wait.
func (c *Cluster) describeNotReady(ctx context.Context, ns string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out, _ := c.Kubectl(ctx, "", "-n", ns, "get", "pods", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.status.phase} {range .status.containerStatuses[*]}{.name}={.ready}/{.state.waiting.reason}{.state.terminated.reason} {end}{"\n"}{end}`)
	return out
}

// ServiceAddr is a Service's cluster address and first port, which this host, the node, reaches.
func (c *Cluster) ServiceAddr(ctx context.Context, namespace, name string) (string, error) {
	out, err := c.Kubectl(ctx, "", "-n", namespace, "get", "service", name, "-o", "jsonpath={.spec.clusterIP}:{.spec.ports[0].port}")
	if err != nil {
		return "", err
	}
	return out, nil
}

// A pod of the cluster, with each container's state.
type pod struct {
	Namespace, Name string
	Containers      []string // name=ready, or name=reason it waits
	Ready           bool     // Running, every container ready
}

// pods lists every pod of the cluster.
func (c *Cluster) pods(ctx context.Context) ([]pod, error) {
	out, err := c.Kubectl(ctx, "", "get", "pods", "--all-namespaces", "-o", "json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata struct{ Namespace, Name string }
			Status   struct {
				Phase             string
				ContainerStatuses []struct {
					Name  string
					Ready bool
					State map[string]struct{ Reason string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("kubectl get pods: %w", err)
	}
	var pods []pod
	for _, it := range list.Items {
		p := pod{Namespace: it.Metadata.Namespace, Name: it.Metadata.Name, Ready: it.Status.Phase == "Running"}
		for _, cs := range it.Status.ContainerStatuses {
			state := "ready"
			if !cs.Ready {
				p.Ready = false
				state = "not-ready"
				for s, detail := range cs.State {
					state = s + ":" + detail.Reason
				}
			}
			p.Containers = append(p.Containers, cs.Name+"="+state)
		}
		pods = append(pods, p)
	}
	return pods, nil
}
