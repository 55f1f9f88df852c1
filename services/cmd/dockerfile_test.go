package cmd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// The image must compile the services with the Go of go.mod, static and unstripped, as the native build does.
func TestDockerfileBuildsLikeTheNativeBuild(t *testing.T) {
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	m := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("the Dockerfile has no ARG GO_VERSION=")
	}
	if string(m[1]) != string(goVersion[1]) {
		t.Errorf("the Dockerfile builds with Go %s, go.mod says %s: keep them equal", m[1], goVersion[1])
	}
	build := regexp.MustCompile(`(?s)go build [^\n]*`).Find(dockerfile)
	switch {
	case build == nil:
		t.Fatal("the Dockerfile has no go build line")
	case strings.Contains(string(build), "-s") && strings.Contains(string(build), "ldflags"):
		t.Errorf("the image's binaries are stripped (%s): the agents need their symbols", build)
	case !strings.Contains(string(dockerfile), "CGO_ENABLED=0"):
		t.Error("the image's binaries are not built with CGO_ENABLED=0 (static)")
	case !strings.Contains(string(build), `-tags "${GO_BUILD_TAGS}"`):
		t.Error("the image's go build ignores GO_BUILD_TAGS: the manual lane would get the plain build")
	}
	// Every lane's binary is a file of its own: the lane is stamped into it (config.BuildLane).
	if !strings.Contains(string(dockerfile), "ARG LANE") || !strings.Contains(string(dockerfile), "internal/config.BuildLane=${LANE}") {
		t.Error("the Dockerfile does not stamp the lane into the binary: lanes would share one file, and every agent's uprobes")
	}
	// A "# syntax=" line makes BuildKit pull a frontend image, which fails where no registry is reachable.
	if regexp.MustCompile(`(?mi)^#\s*syntax\s*=`).Match(dockerfile) {
		t.Error("the Dockerfile has a # syntax= line: BuildKit would pull a frontend image to build it")
	}
	for _, want := range []string{"ARG SERVICE", "USER 65532:65532", `ENTRYPOINT ["/app/service"]`} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}

// Every file the binaries compile from this module, in both builds, is in the images' build context:
// services/.dockerignore, read as Docker reads it, keeps none of them out.
func TestBuildContextHoldsEverySourceTheBinariesCompile(t *testing.T) {
	f, err := os.Open("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	ignored, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, tags := range []string{"", "otelsdk"} {
		// Each package of this module the binaries depend on: its directory, Go files and embedded files.
		out, err := exec.Command("go", "list", "-deps", "-tags", tags, "-f",
			`{{if .Module}}{{if eq .Module.Path "github.com/zerocodelab/lab/services"}}{{.Dir}}|{{join .GoFiles ","}},{{join .EmbedFiles ","}}{{end}}{{end}}`,
			"./...").CombinedOutput()
		if err != nil {
			t.Fatalf("go list (tags %q): %v\n%s", tags, err, out)
		}
		for line := range strings.Lines(strings.TrimSpace(string(out))) {
			dir, files, _ := strings.Cut(strings.TrimSpace(line), "|")
			for _, name := range strings.Split(files, ",") {
				if name == "" {
					continue
				}
				rel, err := filepath.Rel(root, filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				needed = append(needed, filepath.ToSlash(rel))
			}
		}
	}
	if len(needed) < 20 {
		t.Fatalf("only %d files found: %v", len(needed), needed)
	}
	for _, file := range needed {
		if out, err := ignored.MatchesOrParentMatches(file); err != nil || out {
			t.Errorf("services/.dockerignore leaves %s out of the images' build context (%v)", file, err)
		}
	}
}
