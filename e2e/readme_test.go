package e2e

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README starts with the two commands, run it and test it, and nothing before them: no password to
// set, no doctor to run first.
func TestReadmeStartsWithRunAndTest(t *testing.T) {
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(readFile(t, "README.md"))
	if block == nil {
		t.Fatal("README.md has no sh block")
	}
	var commands []string
	for _, line := range strings.Split(strings.TrimSpace(block[1]), "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		commands = append(commands, strings.Join(strings.Fields(cmd), " "))
	}
	if want := []string{"docker compose up -d", "make test"}; !slices.Equal(commands, want) {
		t.Errorf("README.md's first block runs %q; want exactly %q", commands, want)
	}
}

// The lane commands the README gives act on one lane's services by name: "docker compose --profile X
// stop" alone would stop the stack too, whose services belong to every profile.
func TestLaneCommandsNameTheLanesServices(t *testing.T) {
	readme, makefile := readFile(t, "README.md"), readFile(t, "Makefile")
	if regexp.MustCompile(`docker compose --profile \S+ (stop|down|restart)\s*(#|$)`).MatchString(readme) {
		t.Error("README.md switches a lane off with a bare profile command, which stops the whole stack")
	}
	for _, target := range []string{"lane-off:", "lane-on:"} {
		if !strings.Contains(makefile, "\n"+target) {
			t.Errorf("the Makefile has no %s target", target)
		}
	}
	if !strings.Contains(makefile, "stop $$($(LANE_SERVICES))") || !strings.Contains(makefile, "grep -E '^$(LANE)(-|$$)'") {
		t.Error("make lane-off does not name the lane's services")
	}
}
