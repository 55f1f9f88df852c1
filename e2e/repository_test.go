package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/zerocodelab/lab/e2e/native"
)

// What the configuration checks share: the repository, read and loaded as docker compose loads it.

// root is the repository root, seen from this package.
const root = ".."

// load loads the compose files as docker compose would, with .env, env on top and the given profiles.
func load(t *testing.T, env map[string]string, profiles []string, files ...string) (*types.Project, error) {
	t.Helper()
	return native.Load(context.Background(), root, files, profiles, env)
}

// loadAll loads every file combination with every lane on, and with each lane alone.
func loadAll(t *testing.T) map[string]*types.Project {
	t.Helper()
	projects := map[string]*types.Project{}
	for _, files := range combos {
		for _, profiles := range append([][]string{native.Lanes}, [][]string{{"plain"}, {"beyla"}, {"otel-auto"}, {"manual"}}...) {
			p, err := load(t, testEnv, profiles, files...)
			if err != nil {
				t.Fatalf("load %v with profiles %v: %v", files, profiles, err)
			}
			projects[strings.Join(files, "+")+" "+strings.Join(profiles, ",")] = p
		}
	}
	return projects
}

func isAgent(name string) bool { return name == "beyla" || strings.HasSuffix(name, "-agent") }

func imageTag(t *testing.T, p *types.Project, service string) string {
	t.Helper()
	s, ok := p.Services[service]
	if !ok {
		t.Fatalf("no service %s", service)
	}
	_, tag, _ := strings.Cut(s.Image, ":")
	return tag
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// pinned is the version .env pins under name.
func pinned(t *testing.T, name string) string {
	t.Helper()
	v, err := native.Pinned(root, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// value is the string a compose mapping holds, "" when unset.
func value(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

// mustLoad loads the Linux compose file with every lane on.
func mustLoad(t *testing.T) *types.Project {
	t.Helper()
	p, err := load(t, testEnv, native.Lanes, "docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// combos are the file sets a user runs: Linux alone, macOS with its override, tail sampling in two tiers.
var combos = [][]string{
	{"docker-compose.yml"},
	{"docker-compose.yml", "docker-compose.mac.yml"},
	{"docker-compose.yml", "docker-compose.sampling.yml"},
}

// testEnv is what a user has by default: nothing to set before "docker compose up".
var testEnv = map[string]string{}
