package pipeline

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// HugeForwardEntries is a Fluent Forward message in forward mode, [tag, entries], whose entries array
// claims 2^32-1 elements and holds none: eleven bytes. The fluent_forward receiver of v0.159.0 reserves
// room for every claimed entry before reading one (plog.LogRecordSlice.EnsureCapacity, 8 bytes each):
// a 32 GiB allocation (opentelemetry-collector-contrib#48519).
func HugeForwardEntries() []byte {
	return []byte{
		0x92,                     // fixarray of 2: tag, entries
		0xa4, 't', 'e', 's', 't', // fixstr "test"
		0xdd, 0xff, 0xff, 0xff, 0xff, // array32 of 4294967295 entries
	}
}

// HugeForwardAlloc is what the Collector tries to allocate on reading HugeForwardEntries.
const HugeForwardAlloc = (1<<32 - 1) * 8

// SendFluent writes msg to a Fluent Forward endpoint and closes the connection.
func SendFluent(addr string, msg []byte) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial fluent forward %s: %w", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("write to fluent forward %s: %w", addr, err)
	}
	return nil
}

// KernelRefuses says whether this kernel refuses a process an anonymous mapping of size bytes, and why,
// from its overcommit policy (Documentation/mm/overcommit-accounting.rst): where it refuses, the Go
// runtime cannot map the memory and the process dies ("fatal error: runtime: out of memory"); where it
// grants it, the pages are never touched and the process may well live.
func KernelRefuses(size uint64) (bool, string, error) {
	raw, err := os.ReadFile("/proc/sys/vm/overcommit_memory")
	if err != nil {
		return false, "", fmt.Errorf("read the overcommit policy: %w", err)
	}
	mode := strings.TrimSpace(string(raw))
	mem, err := meminfo()
	if err != nil {
		return false, "", err
	}
	switch mode {
	case "0": // heuristic: refuses one request larger than all RAM and swap
		total := mem["MemTotal"] + mem["SwapTotal"]
		return size > total, fmt.Sprintf("vm.overcommit_memory=0 and RAM+swap is %.1f GiB", gib(total)), nil
	case "1": // always grants
		return false, "vm.overcommit_memory=1", nil
	case "2": // strict: refuses beyond the commit limit
		free := mem["CommitLimit"] - min(mem["CommitLimit"], mem["Committed_AS"])
		return size > free, fmt.Sprintf("vm.overcommit_memory=2 and %.1f GiB left to commit", gib(free)), nil
	default:
		return false, "", fmt.Errorf("unknown vm.overcommit_memory %q", mode)
	}
}

// meminfo reads /proc/meminfo, in bytes.
func meminfo() (map[string]uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return nil, fmt.Errorf("read memory sizes: %w", err)
	}
	defer f.Close()
	mem := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(rest)
		if !ok || len(fields) == 0 {
			continue
		}
		kib, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			continue
		}
		mem[name] = kib * 1024
	}
	return mem, sc.Err()
}

func gib(b uint64) float64 { return float64(b) / (1 << 30) }
