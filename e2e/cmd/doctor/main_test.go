package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// The doctor, built as make doctor builds it and run as root, measures the probe cost with probes that
// really fire: its eBPF program counts one hit per probe per call. A hit where the kernel emulates the
// instruction costs less than one where it single-steps it: the emulation saves a trap.
func TestDoctorMeasuresTheProbeCost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the doctor attaches uprobes only as root; make doctor and CI run it as root")
	}
	bin := filepath.Join(t.TempDir(), "doctor")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, _ := exec.Command(bin).CombinedOutput() // exit 1 only says no agent works here
	cost := regexp.MustCompile(`uprobe cost on this kernel: ([0-9.-]+) µs per hit where the kernel single-steps the probed instruction, ([0-9.-]+) µs where it emulates it`).FindSubmatch(out)
	pairCost := regexp.MustCompile(`([0-9.-]+) µs per entry and return probe pair`).FindSubmatch(out)
	hits := regexp.MustCompile(`(\d+) of (\d+) hits counted`).FindSubmatch(out)
	if cost == nil || pairCost == nil || hits == nil {
		t.Fatalf("the doctor printed no probe cost:\n%s", out)
	}
	if string(hits[1]) != string(hits[2]) || string(hits[1]) == "0" {
		t.Errorf("hits counted %s of %s: the probes did not fire once per call", hits[1], hits[2])
	}
	// The wakeup is measured with events that really reach the reader, one per call.
	wakeup := regexp.MustCompile(`and ([0-9.-]+) µs per event`).FindSubmatch(out)
	events := regexp.MustCompile(`(\d+) of (\d+) events read`).FindSubmatch(out)
	if wakeup == nil || events == nil {
		t.Fatalf("the doctor printed no wakeup cost:\n%s", out)
	}
	if string(events[1]) != string(events[2]) || string(events[1]) == "0" {
		t.Errorf("events read %s of %s: the writing probe did not fire once per call, or the reader lost some", events[1], events[2])
	}
	if w, _ := strconv.ParseFloat(string(wakeup[1]), 64); w <= 0 {
		t.Errorf("a wakeup costs %v µs: want a positive cost", w)
	}
	hit, _ := strconv.ParseFloat(string(cost[1]), 64)
	emulated, _ := strconv.ParseFloat(string(cost[2]), 64)
	pair, _ := strconv.ParseFloat(string(pairCost[1]), 64)
	if hit <= 0 || pair <= hit {
		t.Errorf("per hit %v µs, per pair %v µs: want a positive cost, larger for two probes", hit, pair)
	}
	if emulated <= 0 || emulated >= hit {
		t.Errorf("per emulated hit %v µs, per single-stepped hit %v µs: want a positive cost, smaller when emulated", emulated, hit)
	}
	t.Logf("%s", out)
}
