package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Probes counts uprobe hits across the kernel: the runs of every loaded eBPF program of the kprobe type,
// which uprobes are. The bench loads one lane at a time, so the hits during a measurement are that
// lane's, and a lane without an agent shows that no probe of another lane fires in it.
type Probes struct {
	stats io.Closer // the kernel counts runs while this is open
}

// CountProbes asks the kernel to count eBPF program runs (BPF_ENABLE_STATS, Linux 5.8, root).
func CountProbes() (*Probes, error) {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enable eBPF run statistics: %w", err)
	}
	return &Probes{stats: stats}, nil
}

// Close stops the counting.
func (p *Probes) Close() error { return p.stats.Close() }

// ProbeRuns is a snapshot of the kernel's counters.
type ProbeRuns struct {
	Hits    uint64        // runs of kprobe-type programs so far
	Runtime time.Duration // the time those programs ran, the trap around them not included
}

// Read sums the counters of every kprobe-type program loaded now.
func (p *Probes) Read() (ProbeRuns, error) {
	var runs ProbeRuns
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, unix.ENOENT) {
			return runs, nil
		}
		if err != nil {
			return runs, fmt.Errorf("list eBPF programs: %w", err)
		}
		id = next
		prog, err := ebpf.NewProgramFromID(id)
		if errors.Is(err, unix.ENOENT) {
			continue // unloaded in between
		}
		if err != nil {
			return runs, fmt.Errorf("open eBPF program %d: %w", id, err)
		}
		if prog.Type() == ebpf.Kprobe {
			stats, err := prog.Stats()
			if err != nil {
				prog.Close()
				return runs, fmt.Errorf("eBPF program %d: %w", id, err)
			}
			runs.Hits += stats.RunCount
			runs.Runtime += stats.Runtime
		}
		prog.Close()
	}
}
