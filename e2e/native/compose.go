package native

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// Lanes are the compose file's profiles, one per lane.
var Lanes = []string{"plain", "beyla", "otel-auto", "manual"}

// LoadCompose loads root's docker-compose.yml as docker compose would with every lane on, .env read and
// nothing else set in the environment, so that a native lane runs with the settings a user's container gets.
func LoadCompose(ctx context.Context, root string) (*types.Project, error) {
	return Load(ctx, root, []string{"docker-compose.yml"}, Lanes, nil)
}

// Load loads root's compose files as docker compose would: with root's .env, then env on top of it (a
// variable set in the shell beats .env), and the given profiles on.
func Load(ctx context.Context, root string, files, profiles []string, env map[string]string) (*types.Project, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	vars, err := DotEnv(root)
	if err != nil {
		return nil, err
	}
	maps.Copy(vars, env)
	details := types.ConfigDetails{WorkingDir: abs, Environment: vars}
	for _, f := range files {
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: filepath.Join(abs, f)})
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName("zero-code-lab", true)
		o.Profiles = profiles
	})
	if err != nil {
		return nil, fmt.Errorf("load %v: %w", files, err)
	}
	return p, nil
}

// DotEnv reads root's .env, the file docker compose reads by itself: the lanes it turns on and every
// pinned upstream version.
func DotEnv(root string) (map[string]string, error) {
	vars, err := dotenv.GetEnvFromFile(nil, []string{filepath.Join(root, ".env")})
	if err != nil {
		return nil, fmt.Errorf("read .env: %w", err)
	}
	return vars, nil
}

// Pinned returns the version root's .env pins under name, like COLLECTOR_VERSION.
func Pinned(root, name string) (string, error) {
	vars, err := DotEnv(root)
	if err != nil {
		return "", err
	}
	if vars[name] == "" {
		return "", fmt.Errorf(".env pins no %s", name)
	}
	return vars[name], nil
}

// Environment is a compose service's environment as NAME=value lines, less the variables named in
// drop: those a native run sets itself (addresses, targets). A name ending in * drops every variable
// it begins, like OTEL_EXPORTER_OTLP_* for the exporter settings a native run points elsewhere.
func Environment(p *types.Project, service string, drop ...string) ([]string, error) {
	svc, ok := p.Services[service]
	if !ok {
		return nil, fmt.Errorf("docker-compose.yml has no service %q", service)
	}
	dropped := func(name string) bool {
		return slices.ContainsFunc(drop, func(d string) bool {
			prefix, isPrefix := strings.CutSuffix(d, "*")
			return name == d || isPrefix && strings.HasPrefix(name, prefix)
		})
	}
	var env []string
	for name, value := range svc.Environment {
		if value == nil || dropped(name) {
			continue
		}
		env = append(env, name+"="+*value)
	}
	return env, nil
}

// ExporterVars names, for Environment's drop, the OTLP exporter settings that pipeline.Endpoints.Sender
// gives a native process instead.
const ExporterVars = "OTEL_EXPORTER_OTLP_*"
