// Package stack runs the real compose file on the real Docker engine and checks what the stack does:
// containers healthy, every lane's checkouts and spans, Prometheus targets, Loki streams, lanes switched
// off and on alone, and faults under load (a backend stopped, the Collector restarted, a service killed).
package stack

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
)

// Dir is a directory an image creates, with its owner and mode. Docker copies both onto an empty named
// volume mounted there, so they decide who can write that volume.
type Dir struct {
	UID, GID int
	Mode     fs.FileMode
}

// Image is what an image of the compose file is, as its upstream sources build it (Dockerfiles and
// release workflows at the pinned version): the user it runs as, its entrypoint and default command,
// and the directories it creates. The stand-ins built where images cannot be pulled must match it.
type Image struct {
	User       string
	Entrypoint []string
	Cmd        []string
	Dirs       map[string]Dir
}

// Images are the images of docker-compose.yml by repository (the tag is the compose file's).
var Images = map[string]Image{
	"otel/opentelemetry-collector-contrib": {
		User: "10001", Entrypoint: []string{"/otelcol-contrib"}, Cmd: []string{"--config", "/etc/otelcol-contrib/config.yaml"},
	},
	"grafana/tempo": {
		User: "10001:10001", Entrypoint: []string{"/tempo"},
		Dirs: map[string]Dir{"/var/tempo": {10001, 10001, 0o700}},
	},
	"grafana/loki": {
		User: "10001", Entrypoint: []string{"/usr/bin/loki"}, Cmd: []string{"-config.file=/etc/loki/local-config.yaml"},
		Dirs: map[string]Dir{"/loki": {10001, 10001, 0o755}},
	},
	"prom/prometheus": {
		User: "nobody", Entrypoint: []string{"/bin/prometheus"},
		Cmd:  []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"},
		Dirs: map[string]Dir{"/prometheus": {65534, 65534, 0o755}},
	},
	"grafana/grafana": {
		User: "472", Entrypoint: []string{"/run.sh"},
		Dirs: map[string]Dir{"/var/lib/grafana": {472, 0, 0o777}},
	},
	"grafana/beyla": {User: "", Entrypoint: []string{"/beyla"}},
	"ghcr.io/open-telemetry/opentelemetry-go-instrumentation/autoinstrumentation-go": {
		User: "", Cmd: []string{"/otel-go-instrumentation"},
	},
	// The compose run's stand-in for Tempo (compose.tempo-standin.yml): Tempo's user and data directory.
	"zero-code-lab/tempo-standin": {
		User: "10001:10001", Entrypoint: []string{"/otelcol"}, Cmd: []string{"--config", "/etc/tempo-standin.yaml"},
		Dirs: map[string]Dir{"/var/tempo": {10001, 10001, 0o700}},
	},
	// The lab page, built by compose from e2e/Dockerfile: no data directory.
	"zero-code-lab/lab": {
		User: "65532:65532", Entrypoint: []string{"/app/lab"},
	},
	// Built by compose from services/Dockerfile.
	"zero-code-lab/*": {
		User: "65532:65532", Entrypoint: []string{"/app/service"},
		Dirs: map[string]Dir{"/data": {65532, 65532, 0o755}},
	},
}

// ImageOf returns the facts of an image reference (name:tag).
func ImageOf(ref string) (Image, bool) {
	repo, _, _ := strings.Cut(ref, ":")
	if img, ok := Images[repo]; ok {
		return img, true
	}
	if strings.HasPrefix(repo, "zero-code-lab/") {
		return Images["zero-code-lab/*"], true
	}
	return Image{}, false
}

// UserIDs maps the user names the images use to their ids.
var UserIDs = map[string]int{"": 0, "root": 0, "nobody": 65534}

// InspectImage reads what a local image is: its user, entrypoint and default command, and the owner and
// mode of each of dirs (read from a created, never started, container: the images have no shell).
func (p *Project) InspectImage(ctx context.Context, ref string, dirs []string) (Image, error) {
	out, err := p.Docker(ctx, "image", "inspect", "--format", "{{json .Config}}", ref)
	if err != nil {
		return Image{}, err
	}
	var cfg struct {
		User       string
		Entrypoint []string
		Cmd        []string
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		return Image{}, fmt.Errorf("inspect %s: %w", ref, err)
	}
	img := Image{User: cfg.User, Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Dirs: map[string]Dir{}}
	if len(dirs) == 0 {
		return img, nil
	}
	id, err := p.Docker(ctx, "create", ref)
	if err != nil {
		return Image{}, err
	}
	id = strings.TrimSpace(id)
	defer p.Docker(context.WithoutCancel(ctx), "rm", id)
	for _, dir := range dirs {
		archive, err := p.Docker(ctx, "cp", id+":"+dir, "-")
		if err != nil {
			return Image{}, err
		}
		h, err := tar.NewReader(strings.NewReader(archive)).Next()
		if err != nil {
			return Image{}, fmt.Errorf("%s:%s: %w", ref, dir, err)
		}
		img.Dirs[dir] = Dir{UID: h.Uid, GID: h.Gid, Mode: fs.FileMode(h.Mode).Perm()}
	}
	return img, nil
}

// Origin is where the engine's image of an upstream component comes from.
type Origin string

const (
	Missing   Origin = "not on the engine"
	Upstream  Origin = "upstream"   // not built by make images: pulled, or loaded by the user
	BuiltHere Origin = "built here" // by e2e/stack/images/build.sh, which labels what it builds lab.inputs
)

// Component is an upstream program of the compose file and the image the engine has for it.
type Component struct {
	Name, Image string
	Origin      Origin
}

// Components lists the upstream programs of docker-compose.yml, each with its image at the version
// env (.env) pins and where the engine's image comes from.
func Components(ctx context.Context, env map[string]string) ([]Component, error) {
	images := []Component{
		{Name: "OpenTelemetry Collector", Image: "otel/opentelemetry-collector-contrib:" + env["COLLECTOR_VERSION"]},
		{Name: "Tempo", Image: "grafana/tempo:" + env["TEMPO_VERSION"]},
		{Name: "Loki", Image: "grafana/loki:" + env["LOKI_VERSION"]},
		{Name: "Prometheus", Image: "prom/prometheus:" + env["PROMETHEUS_VERSION"]},
		{Name: "Grafana", Image: "grafana/grafana:" + env["GRAFANA_VERSION"]},
		{Name: "Beyla", Image: "grafana/beyla:" + env["BEYLA_VERSION"]},
		{Name: "Go auto agent", Image: "ghcr.io/open-telemetry/opentelemetry-go-instrumentation/autoinstrumentation-go:" + env["OTEL_GO_AUTO_VERSION"]},
	}
	for i, c := range images {
		if strings.HasSuffix(c.Image, ":") {
			return nil, fmt.Errorf("%s: .env pins no version of %s", c.Name, c.Image)
		}
		var stderr strings.Builder
		cmd := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", `{{index .Config.Labels "lab.inputs"}}`, c.Image)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		switch {
		case err != nil && strings.Contains(strings.ToLower(stderr.String()), "no such image"):
			images[i].Origin = Missing
		case err != nil:
			return nil, fmt.Errorf("docker image inspect %s: %v: %s", c.Image, err, stderr.String())
		case strings.TrimSpace(string(out)) == "":
			images[i].Origin = Upstream
		default:
			images[i].Origin = BuiltHere
		}
	}
	return images, nil
}

// ComponentNamed returns the component of that name in cs, Missing if cs has none.
func ComponentNamed(cs []Component, name string) Component {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return Component{Name: name, Origin: Missing}
}
