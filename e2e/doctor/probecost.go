package doctor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/perf"
	"golang.org/x/arch/x86/x86asm"
)

// ProbeCost is what a uprobe hit costs on this kernel, measured on functions of the doctor's own: a Go
// function with the kind of probes the Go auto agent puts on the functions it instruments, one at the
// entry and one on each return instruction (a Go function cannot take a return probe: its stack moves),
// and an assembly one whose first instruction the kernel emulates (SiteKind).
type ProbeCost struct {
	Calls          int           // calls per round
	Rounds         int           // rounds per mode, interleaved
	Plain          time.Duration // median time of one call of probeTarget without a probe
	Entry          time.Duration // ... with a probe at the entry, an instruction the kernel single-steps
	EntryAndReturn time.Duration // ... with a probe at the entry and on its return
	// EmulatedPlain and EmulatedEntry are the median times of one call of emulatedTarget, without a
	// probe and with one on its first instruction, which the kernel emulates.
	EmulatedPlain, EmulatedEntry time.Duration
	// ColdStepped and ColdEmulated are the cost of one hit of each kind when the core has just run other
	// work that filled its second-level cache (EvictBytes touched before each call), as a busy machine's
	// other processes do; the fields above are warm, measured in a tight loop.
	ColdStepped, ColdEmulated time.Duration
	EvictBytes                int
	Probes                    int    // probes attached in the entry-and-return mode: the entry and each RET
	Hits                      uint64 // hits counted by the eBPF program in the last entry-and-return round
	// Wakeup is what one event costs the probed thread on top of the trap when the probe's program
	// writes it to a perf buffer whose reader sleeps until each event, as the Go auto agent reads its
	// spans: the output and the reader's wakeup. Measured on calls spaced out like requests, so that
	// the reader is asleep at each.
	Wakeup time.Duration
	// Events the reader read in the wakeup measurement, of the calls made with the writing program.
	Events, EventCalls uint64
}

// PerHit is the median cost of one probe hit on an instruction of this kind: a call with the probe,
// less a plain call.
func (c ProbeCost) PerHit(kind SiteKind) time.Duration {
	if kind == Emulated {
		return c.EmulatedEntry - c.EmulatedPlain
	}
	return c.Entry - c.Plain
}

// PerHitCold is the cost of one hit of this kind right after the core's cache was filled with other data.
func (c ProbeCost) PerHitCold(kind SiteKind) time.Duration {
	if kind == Emulated {
		return c.ColdEmulated
	}
	return c.ColdStepped
}

// PerPair is the median cost of an entry and a return probe, as an instrumented function pays.
func (c ProbeCost) PerPair() time.Duration { return c.EntryAndReturn - c.Plain }

// probeTarget is the function the probes attach to. It must stay a function of its own.
//
//go:noinline
func probeTarget(x uint64) uint64 { return x*2 + 1 }

const probeTargetSymbol = "github.com/zerocodelab/lab/e2e/doctor.probeTarget"

const emulatedTargetSymbol = "github.com/zerocodelab/lab/e2e/doctor.emulatedTarget.abi0" // the assembly body, not Go's wrapper

// MeasureProbeCost attaches uprobes to probeTarget and emulatedTarget in this very process and times
// calls rounds times over for each mode (probeTarget with no probe, at its entry, at its entry and
// return; emulatedTarget without and with a probe; then both functions without and with the entry probe,
// cold, with the core's cache emptied before each call), interleaved so that a noisy machine disturbs
// every mode alike. It needs root and an amd64 kernel that allows uprobes.
func MeasureProbeCost(calls, rounds int) (ProbeCost, error) {
	if runtime.GOARCH != "amd64" {
		return ProbeCost{}, fmt.Errorf("the return probe is placed on x86-64 RET instructions; this is %s", runtime.GOARCH)
	}
	exe, err := os.Executable()
	if err != nil {
		return ProbeCost{}, err
	}
	rets, err := returnOffsets(exe, probeTargetSymbol)
	if err != nil {
		return ProbeCost{}, err
	}
	// The two targets must be of the kinds they stand for, by the rule the bench sorts the agents' hits with.
	for symbol, want := range map[string]SiteKind{probeTargetSymbol: Stepped, emulatedTargetSymbol: Emulated} {
		off, err := fileOffset(exe, symbol)
		if err != nil {
			return ProbeCost{}, err
		}
		if kind, err := KindAt(exe, off); err != nil || kind != want {
			return ProbeCost{}, fmt.Errorf("the first instruction of %s is %s (%v), not %s as measured here", symbol, kind, err, want)
		}
	}
	counter, prog, err := countingProgram()
	if err != nil {
		return ProbeCost{}, err
	}
	defer counter.Close()
	defer prog.Close()
	ex, err := link.OpenExecutable(exe)
	if err != nil {
		return ProbeCost{}, fmt.Errorf("open %s: %w", exe, err)
	}

	emulated := func(x uint64) uint64 { emulatedTarget(); return x }
	evict := make([]byte, 2*cacheSize(2))
	modes := []struct {
		call    func(uint64) uint64
		symbol  string
		offsets []uint64
		cold    bool
	}{
		{probeTarget, probeTargetSymbol, nil, false},
		{probeTarget, probeTargetSymbol, []uint64{0}, false},
		{probeTarget, probeTargetSymbol, append([]uint64{0}, rets...), false},
		{emulated, emulatedTargetSymbol, nil, false},
		{emulated, emulatedTargetSymbol, []uint64{0}, false},
		{probeTarget, probeTargetSymbol, nil, true},
		{probeTarget, probeTargetSymbol, []uint64{0}, true},
		{emulated, emulatedTargetSymbol, nil, true},
		{emulated, emulatedTargetSymbol, []uint64{0}, true},
	}
	cost := ProbeCost{Calls: calls, Rounds: rounds, Probes: 1 + len(rets), EvictBytes: len(evict)}
	times := make([][]time.Duration, len(modes))
	for r := range rounds {
		for i := range modes {
			m := (i + r) % len(modes)
			links, err := attach(ex, prog, modes[m].symbol, modes[m].offsets)
			if err != nil {
				return ProbeCost{}, err
			}
			if err := counter.Put(uint32(0), uint64(0)); err != nil {
				closeAll(links)
				return ProbeCost{}, fmt.Errorf("reset the hit counter: %w", err)
			}
			if modes[m].cold {
				times[m] = append(times[m], timeColdCalls(modes[m].call, calls/coldCallsDivisor, evict))
			} else {
				times[m] = append(times[m], timeCalls(modes[m].call, calls))
			}
			if m == 2 {
				if err := counter.Lookup(uint32(0), &cost.Hits); err != nil {
					closeAll(links)
					return ProbeCost{}, fmt.Errorf("read the hit counter: %w", err)
				}
			}
			closeAll(links)
		}
	}
	cost.Plain, cost.Entry, cost.EntryAndReturn = median(times[0]), median(times[1]), median(times[2])
	cost.EmulatedPlain, cost.EmulatedEntry = median(times[3]), median(times[4])
	cost.ColdStepped, cost.ColdEmulated = median(times[6])-median(times[5]), median(times[8])-median(times[7])
	if err := cost.measureWakeup(ex, prog, calls/10, rounds); err != nil {
		return ProbeCost{}, err
	}
	return cost, nil
}

// wakeupPause is the pause between two calls when the wakeup is measured: long enough for the reader
// to go back to sleep after each event.
const wakeupPause = 50 * time.Microsecond

// measureWakeup times spaced calls of probeTarget with an entry probe whose program counts (counting),
// and with one whose program writes an event to a perf buffer that a goroutine reads instead, rounds
// times interleaved, and sets Wakeup to the median difference per call, Events and EventCalls.
func (c *ProbeCost) measureWakeup(ex *link.Executable, counting *ebpf.Program, calls, rounds int) error {
	events, output, err := outputProgram()
	if err != nil {
		return err
	}
	defer events.Close()
	defer output.Close()
	// The reader as the Go auto agent opens it (cilium/ebpf's defaults): woken at every event.
	rd, err := perf.NewReader(events, 64*os.Getpagesize())
	if err != nil {
		return fmt.Errorf("open a perf reader: %w", err)
	}
	var read atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			rec, err := rd.Read()
			if errors.Is(err, perf.ErrClosed) {
				return
			}
			if err == nil && rec.LostSamples == 0 {
				read.Add(1)
			}
		}
	}()

	times := map[int][]time.Duration{}
	for r := range rounds {
		for i := range 2 {
			mode := (i + r) % 2 // 0 counting, 1 counting and output
			p := counting
			if mode == 1 {
				p = output
			}
			l, err := ex.Uprobe(probeTargetSymbol, p, nil)
			if err != nil {
				rd.Close()
				<-done
				return fmt.Errorf("attach a uprobe at %s: %w", probeTargetSymbol, err)
			}
			times[mode] = append(times[mode], timeSpacedCalls(calls))
			l.Close()
		}
	}
	c.Wakeup = median(times[1]) - median(times[0])
	c.EventCalls = uint64(calls * rounds)
	// Every event written is in the buffer by now; the reader gets a moment to read the last ones.
	for deadline := time.Now().Add(time.Second); read.Load() < c.EventCalls && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	rd.Close()
	<-done
	c.Events = read.Load()
	return nil
}

// timeSpacedCalls returns the time of one call of probeTarget, averaged over n calls wakeupPause apart.
func timeSpacedCalls(n int) time.Duration {
	return timeEachCall(probeTarget, n, func() {
		for pause := time.Now(); time.Since(pause) < wakeupPause; {
		}
	})
}

// timeEachCall returns the time of one call of f, averaged over n calls timed one by one, each made
// right after before, whose own time is not counted.
func timeEachCall(f func(uint64) uint64, n int, before func()) time.Duration {
	var total time.Duration
	var sink uint64
	for i := range n {
		before()
		start := time.Now()
		sink += f(uint64(i))
		total += time.Since(start)
	}
	if sink == 1 { // never true: keeps the calls' results alive
		fmt.Fprint(os.Stderr, "")
	}
	return total / time.Duration(n)
}

// timeCalls returns the time of one call of f, averaged over n calls.
func timeCalls(f func(uint64) uint64, n int) time.Duration {
	var sink uint64
	start := time.Now()
	for i := range n {
		sink += f(uint64(i))
	}
	elapsed := time.Since(start)
	if sink == 1 { // never true: keeps the loop's result alive
		fmt.Fprint(os.Stderr, "")
	}
	return elapsed / time.Duration(n)
}

// coldCallsDivisor makes the cold rounds shorter: each of their calls first sweeps the eviction buffer.
const coldCallsDivisor = 40

// timeColdCalls returns the time of one call of f, averaged over n calls, each made right after a
// sweep over evict, which pushes out of the core's cache what the previous call used.
func timeColdCalls(f func(uint64) uint64, n int, evict []byte) time.Duration {
	return timeEachCall(f, n, func() {
		for j := 0; j < len(evict); j += 64 { // a write per cache line
			evict[j]++
		}
	})
}

// cacheSize is the size of the first CPU's cache at level, as sysfs tells it, or 2 MiB.
func cacheSize(level int) int {
	const fallback = 2 << 20
	for i := range 8 {
		dir := fmt.Sprintf("/sys/devices/system/cpu/cpu0/cache/index%d/", i)
		l, err := os.ReadFile(dir + "level")
		if err != nil {
			break
		}
		if strings.TrimSpace(string(l)) != strconv.Itoa(level) {
			continue
		}
		size, err := os.ReadFile(dir + "size") // "2048K"
		if err != nil {
			return fallback
		}
		if kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(string(size)), "K")); err == nil {
			return kib << 10
		}
	}
	return fallback
}

func attach(ex *link.Executable, prog *ebpf.Program, symbol string, offsets []uint64) ([]link.Link, error) {
	var links []link.Link
	for _, off := range offsets {
		l, err := ex.Uprobe(symbol, prog, &link.UprobeOptions{Offset: off})
		if err != nil {
			closeAll(links)
			return nil, fmt.Errorf("attach a uprobe at %s+%d: %w", symbol, off, err)
		}
		links = append(links, l)
	}
	return links, nil
}

func closeAll(links []link.Link) {
	for _, l := range links {
		l.Close()
	}
}

// countingProgram returns an eBPF program that adds one to slot 0 of an array map at every hit: the
// smallest useful work, so that what is measured is the trap into the kernel and back.
func countingProgram() (*ebpf.Map, *ebpf.Program, error) {
	counter, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return nil, nil, fmt.Errorf("create the hit counter map: %w", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:    "probe_cost",
		Type:    ebpf.Kprobe, // uprobes take kprobe programs
		License: "GPL",
		Instructions: asm.Instructions{
			asm.StoreImm(asm.RFP, -4, 0, asm.Word), // key = 0
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.LoadMapPtr(asm.R1, counter.FD()),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "exit"),
			asm.Mov.Imm(asm.R1, 1),
			asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
			asm.Return(),
		},
	})
	if err != nil {
		counter.Close()
		return nil, nil, fmt.Errorf("load the counting program: %w", err)
	}
	return counter, prog, nil
}

// outputProgram returns a perf event array and an eBPF program that counts nothing and writes one
// 8-byte event to it at every hit, as an agent writes a span.
func outputProgram() (*ebpf.Map, *ebpf.Program, error) {
	events, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerfEventArray}) // one ring per CPU
	if err != nil {
		return nil, nil, fmt.Errorf("create the perf event array: %w", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:    "probe_output",
		Type:    ebpf.Kprobe,
		License: "GPL", // bpf_perf_event_output is GPL-only
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1), // the probe's context
			asm.Mov.Imm(asm.R7, 0),
			asm.StoreMem(asm.RFP, -8, asm.R7, asm.DWord), // the event: 8 zero bytes on the stack
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.LoadMapPtr(asm.R2, events.FD()),
			asm.LoadImm(asm.R3, 0xffffffff, asm.DWord), // BPF_F_CURRENT_CPU
			asm.Mov.Reg(asm.R4, asm.RFP),
			asm.Add.Imm(asm.R4, -8),
			asm.Mov.Imm(asm.R5, 8),
			asm.FnPerfEventOutput.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	})
	if err != nil {
		events.Close()
		return nil, nil, fmt.Errorf("load the output program: %w", err)
	}
	return events, prog, nil
}

// returnOffsets finds the RET instructions of symbol in the executable, as offsets from its start.
func returnOffsets(exe, symbol string) ([]uint64, error) {
	f, sym, err := openSymbol(exe, symbol)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	text := f.Sections[sym.Section]
	code := make([]byte, sym.Size)
	if _, err := text.ReadAt(code, int64(sym.Value-text.Addr)); err != nil {
		return nil, fmt.Errorf("read %s: %w", symbol, err)
	}
	var rets []uint64
	for off := 0; off < len(code); {
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			return nil, fmt.Errorf("decode %s at +%d: %w", symbol, off, err)
		}
		if inst.Op == x86asm.RET {
			rets = append(rets, uint64(off))
		}
		off += inst.Len
	}
	if len(rets) == 0 {
		return nil, errors.New(symbol + " has no RET instruction")
	}
	return rets, nil
}

// Report prints the measured cost.
func (c ProbeCost) Report(w io.Writer) {
	fmt.Fprintf(w, "uprobe cost on this kernel: %s per hit where the kernel single-steps the probed instruction, %s where it emulates it\n",
		micros(c.PerHit(Stepped)), micros(c.PerHit(Emulated)))
	fmt.Fprintf(w, "  single-stepped: most Go function entries (the stack check), RET, MOVQ, LEAQ...; emulated: PUSHQ, CALL, JMP, Jcc, NOP\n")
	fmt.Fprintf(w, "  cold, right after the core touched %d MiB of other data (its second-level cache, twice over): %s single-stepped, %s emulated\n",
		c.EvictBytes>>20, micros(c.PerHitCold(Stepped)), micros(c.PerHitCold(Emulated)))
	fmt.Fprintf(w, "  %s per entry and return probe pair (a plain call: %s)\n", micros(c.PerPair()), c.Plain)
	fmt.Fprintf(w, "  median of %d interleaved rounds of %d calls; %d of %d hits counted by the probe's program\n",
		c.Rounds, c.Calls, c.Hits, uint64(c.Calls*c.Probes))
	fmt.Fprintf(w, "  an agent pays this on every call of a function it instruments, in the calling thread\n")
	fmt.Fprintf(w, "  and %s per event its program writes to a perf buffer whose reader it wakes (the Go auto agent: each span);\n",
		micros(c.Wakeup))
	fmt.Fprintf(w, "  %d of %d events read, on calls %s apart\n", c.Events, c.EventCalls, wakeupPause)
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
