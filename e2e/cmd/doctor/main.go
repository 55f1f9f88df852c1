// Command doctor says what the eBPF agents of Zero-code Lab can do on this kernel: BTF, lockdown,
// uprobes, kprobes, tracefs, bpffs, cgroup v2, root and capabilities, then a verdict per agent and
// feature, and what a uprobe hit costs on this kernel (measured on a function of its own). It mounts
// securityfs read-only if it is missing (to read the lockdown mode; the agents read it there too) and
// says so. It exits 1 only when no agent could produce a span here.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"github.com/zerocodelab/lab/e2e/doctor"
)

func main() {
	hitsFile := flag.String("hits", "build/probe-hits.json", "the uprobe hits per request make bench counted, to predict the agent's cost from")
	flag.Parse()
	if runtime.GOOS != "linux" {
		fmt.Fprintf(os.Stderr, "doctor inspects a Linux kernel; this is %s. On macOS the agents run in Docker's Linux VM:\n"+
			"  docker run --rm --privileged --pid=host -v \"$PWD\":/src -w /src/e2e golang:1.26.8 go run ./cmd/doctor\n", runtime.GOOS)
		os.Exit(1)
	}
	var note string
	if os.Geteuid() == 0 {
		switch mounted, err := doctor.MountSecurityfs(); {
		case err != nil:
			note = fmt.Sprintf("could not read the lockdown mode: %v\n", err)
		case mounted:
			note = "mounted securityfs read-only on " + doctor.SecurityfsPath + " to read the lockdown mode (the agents read it there too)\n"
		}
	}
	facts := doctor.Inspect()
	verdicts := doctor.Verdicts(facts)
	fmt.Print(note)
	doctor.Report(os.Stdout, facts, verdicts)
	fmt.Println()
	if facts.Root {
		cost, err := doctor.MeasureProbeCost(20000, 5)
		if err != nil {
			fmt.Printf("uprobe cost: not measured here: %v\n", err)
		} else {
			cost.Report(os.Stdout)
			switch hits, err := doctor.ReadProbeHits(*hitsFile); {
			case errors.Is(err, fs.ErrNotExist):
				fmt.Printf("no prediction per request: make bench counts the uprobe hits a request costs (%s)\n", *hitsFile)
			case err != nil:
				fmt.Printf("no prediction per request: %v\n", err)
			default:
				cost.Predict(os.Stdout, hits, facts.Kernel)
			}
		}
	}
	if !facts.Root {
		fmt.Println("\nNot root: what needs privileges is reported as unavailable; the agents run privileged in compose. Run as root for their view.")
	}
	if doctor.NothingWorks(verdicts) {
		fmt.Println("\nNo eBPF agent can produce spans on this kernel; the manual lane still works.")
		os.Exit(1)
	}
}
