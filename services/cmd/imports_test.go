// Package cmd_test checks what the four binaries link.
package cmd_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/zerocodelab/lab/services/internal/shoptest"
)

// otelPrefix is the import path prefix of every OpenTelemetry Go package.
const otelPrefix = "go.opentelemetry.io/"

// deps lists the packages the binary of service depends on, as the go command resolves them.
func deps(t *testing.T, service string, tags string) []string {
	t.Helper()
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	out, err := exec.Command("go", append(args, "./"+service)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", service, err, out)
	}
	return strings.Fields(string(out))
}

func TestDefaultBuildImportsNoOpenTelemetry(t *testing.T) {
	for _, service := range shoptest.Services() {
		for _, pkg := range deps(t, service, "") {
			if strings.HasPrefix(pkg, otelPrefix) {
				t.Errorf("the default build of %s imports %s", service, pkg)
			}
		}
	}
}

// The check above must be able to fail: the otelsdk build of the same binaries does import the SDK.
func TestSDKBuildImportsTheSDK(t *testing.T) {
	for _, service := range shoptest.Services() {
		found := false
		for _, pkg := range deps(t, service, "otelsdk") {
			found = found || pkg == otelPrefix+"otel/sdk/trace"
		}
		if !found {
			t.Errorf("the otelsdk build of %s does not import %s", service, otelPrefix+"otel/sdk/trace")
		}
	}
}
