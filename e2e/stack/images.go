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
	// The compose run's stand-in for Tempo (compose.test.yml): Tempo's user and data directory.
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
