package native

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// Lanes are the compose file's profiles, one per lane.
var Lanes = []string{"plain", "beyla", "otel-auto", "manual"}

// LoadCompose loads root's docker-compose.yml as docker compose would with every lane on and nothing set
// in the environment, so that a native lane runs with the settings a user's container gets.
func LoadCompose(ctx context.Context, root string) (*types.Project, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	details := types.ConfigDetails{
		WorkingDir:  abs,
		Environment: map[string]string{},
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(abs, "docker-compose.yml")}},
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName("zero-code-lab", true)
		o.Profiles = Lanes
	})
	if err != nil {
		return nil, fmt.Errorf("load docker-compose.yml: %w", err)
	}
	return p, nil
}

// Environment is a compose service's environment as NAME=value lines, less the variables named in
// drop: those a native run sets itself (addresses, targets).
func Environment(p *types.Project, service string, drop ...string) ([]string, error) {
	svc, ok := p.Services[service]
	if !ok {
		return nil, fmt.Errorf("docker-compose.yml has no service %q", service)
	}
	var env []string
	for name, value := range svc.Environment {
		if value == nil || slices.Contains(drop, name) {
			continue
		}
		env = append(env, name+"="+*value)
	}
	return env, nil
}
