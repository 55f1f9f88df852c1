package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/zerocodelab/lab/e2e/doctor"
)

// Probes counts uprobe hits across the kernel: the runs of every loaded eBPF program of the kprobe type,
// which uprobes are. The bench loads one lane at a time, so the hits during a measurement are that
// lane's, and a lane without an agent shows that no probe of another lane fires in it.
type Probes struct {
	stats io.Closer                // the kernel counts runs while this is open
	kinds map[site]doctor.SiteKind // the instructions read so far
}

// site is where a uprobe is attached: a file and an offset in it.
type site struct {
	file   string
	offset uint64
}

// CountProbes asks the kernel to count eBPF program runs (BPF_ENABLE_STATS, Linux 5.8, root).
func CountProbes() (*Probes, error) {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enable eBPF run statistics: %w", err)
	}
	return &Probes{stats: stats, kinds: map[site]doctor.SiteKind{}}, nil
}

// Close stops the counting.
func (p *Probes) Close() error { return p.stats.Close() }

// ProbeRuns is a snapshot of the kernel's counters.
type ProbeRuns struct {
	Hits uint64 // runs of kprobe-type programs so far
	// Stepped are the runs of programs attached where the kernel single-steps the probed instruction
	// (doctor.SiteKind), and of programs attached at both kinds of site or at none the kernel lists
	// (Unsorted counts those too): single-stepping is the rule, emulation the exception.
	Stepped, Unsorted uint64
	Runtime           time.Duration // the time those programs ran, the trap around them not included
}

// Read sums the counters of every kprobe-type program loaded now, and sorts them by the kinds of their
// uprobes' sites.
func (p *Probes) Read() (ProbeRuns, error) {
	sites, err := p.uprobeSites()
	if err != nil {
		return ProbeRuns{}, err
	}
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
			switch kinds := sites[id]; {
			case kinds[doctor.Emulated] > 0 && kinds[doctor.Stepped] == 0:
			case kinds[doctor.Stepped] > 0 && kinds[doctor.Emulated] == 0:
				runs.Stepped += stats.RunCount
			default:
				runs.Stepped += stats.RunCount
				runs.Unsorted += stats.RunCount
			}
		}
		prog.Close()
	}
}

// uprobeSites reads every uprobe link of the kernel: which program it runs, and the kind of the
// instruction it replaced in its file, counted by program.
func (p *Probes) uprobeSites() (map[ebpf.ProgramID]map[doctor.SiteKind]int, error) {
	sites := map[ebpf.ProgramID]map[doctor.SiteKind]int{}
	add := func(prog ebpf.ProgramID, file string, offset uint64) error {
		kind, ok := p.kinds[site{file, offset}]
		if !ok {
			var err error
			if kind, err = doctor.KindAt(file, offset); err != nil {
				return fmt.Errorf("the uprobe of eBPF program %d: %w", prog, err)
			}
			p.kinds[site{file, offset}] = kind
		}
		if sites[prog] == nil {
			sites[prog] = map[doctor.SiteKind]int{}
		}
		sites[prog][kind]++
		return nil
	}
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil {
			continue // a link of a type without info: no uprobe
		}
		if pe := info.PerfEvent(); pe != nil && pe.Uprobe() != nil {
			if err := add(info.Program, pe.Uprobe().File, uint64(pe.Uprobe().Offset)); err != nil {
				return nil, err
			}
		}
		if um := info.UprobeMulti(); um != nil {
			offsets, _ := um.Offsets()
			for _, o := range offsets {
				if err := add(info.Program, um.File, o.Offset); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("list eBPF links: %w", err)
	}
	return sites, nil
}
