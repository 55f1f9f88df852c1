package cmd_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
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
