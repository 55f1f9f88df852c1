// Package doctor inspects the kernel it runs on and says what each eBPF agent can do there.
package doctor

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Facts are what the kernel and this process allow, as read from /proc and /sys.
type Facts struct {
	Kernel   string
	Arch     string
	BTF      bool
	Lockdown string // none, integrity, confidentiality, or "unknown" when securityfs is not mounted
	Uprobes  bool
	Kprobes  bool
	Tracefs  bool
	Bpffs    bool
	CgroupV2 string // where the unified hierarchy is mounted, "" if nowhere
	Root     bool
	Caps     map[string]bool
	// FIONREAD is what ioctl(FIONREAD) says of a socket in a BPF sockhash: "correct", "misreported"
	// (the kernel bug Beyla 3.28+ checks for), or "unknown: " and why it could not be measured.
	FIONREAD string
	// BeylaPollsProc is not read from the kernel: a run sets it once it has seen the Beyla binary at hand
	// instrument processes on a kernel without kprobes, which only a build whose discovery falls back to
	// polling /proc does (the official one stops when its kprobe watcher cannot load).
	BeylaPollsProc bool
}

// capability numbers from linux/capability.h
var capNumbers = map[string]uint{
	"CAP_DAC_READ_SEARCH": 2, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24, "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

// SecurityfsPath is where the kernel shows its lockdown mode, and where the agents read it.
const SecurityfsPath = "/sys/kernel/security"

// MountSecurityfs mounts securityfs read-only where it is missing (root only), because the lockdown mode
// can be read nowhere else. It reports whether it mounted it, so that the caller can unmount it.
func MountSecurityfs() (bool, error) {
	if readMounts().has("securityfs", SecurityfsPath) {
		return false, nil
	}
	if err := syscall.Mount("securityfs", SecurityfsPath, "securityfs", syscall.MS_RDONLY, ""); err != nil {
		return false, fmt.Errorf("mount securityfs on %s to read the lockdown mode: %w", SecurityfsPath, err)
	}
	return true, nil
}

// Inspect reads the facts; it changes nothing (see MountSecurityfs for the lockdown mode). As root it
// measures FIONREAD on a loopback socket in a sockhash it creates and closes.
func Inspect() Facts {
	f := Facts{Arch: runtime.GOARCH, Caps: map[string]bool{}}
	f.Kernel = strings.TrimSpace(readString("/proc/sys/kernel/osrelease"))
	f.BTF = exists("/sys/kernel/btf/vmlinux")
	f.Uprobes = exists("/sys/bus/event_source/devices/uprobe")
	f.Kprobes = exists("/sys/bus/event_source/devices/kprobe") || kernelConfig("CONFIG_KPROBES") == "y"
	mounts := readMounts()
	f.Tracefs = mounts.has("tracefs", "")
	f.Bpffs = mounts.has("bpf", "")
	for _, m := range mounts {
		if m.fstype == "cgroup2" {
			f.CgroupV2 = m.target
			break
		}
	}
	f.Root = os.Geteuid() == 0
	switch broken, err := SockhashFIONREAD(); {
	case err != nil:
		f.FIONREAD = "unknown: " + err.Error()
	case broken:
		f.FIONREAD = "misreported"
	default:
		f.FIONREAD = "correct"
	}
	eff := capEff()
	for name, bit := range capNumbers {
		f.Caps[name] = eff&(1<<bit) != 0
	}

	f.Lockdown = "unknown"
	if raw := readString(SecurityfsPath + "/lockdown"); raw != "" {
		f.Lockdown = "none"
		// The active mode is the bracketed one: "none [integrity] confidentiality".
		if i, j := strings.Index(raw, "["), strings.Index(raw, "]"); i >= 0 && j > i {
			f.Lockdown = raw[i+1 : j]
		}
	} else if mounts.has("securityfs", SecurityfsPath) {
		f.Lockdown = "none" // securityfs without a lockdown file: the kernel has no lockdown LSM
	}
	return f
}

// Agent is an eBPF agent of the lab.
type Agent string

const (
	AutoAgent Agent = "Go auto agent"
	Beyla     Agent = "Beyla"
)

// Feature is one thing an agent can or cannot do on a kernel; its value is how the report names it.
type Feature string

const (
	AutoSpans            Feature = "spans (SERVER, CLIENT, database/sql)"
	AutoReadTraceparent  Feature = "reading an incoming traceparent"
	AutoPropagation      Feature = "cross-service context propagation"
	BeylaDiscovery       Feature = "process discovery"
	BeylaSpans           Feature = "spans and RED metrics"
	BeylaHeaderInProcess Feature = "traceparent written in the process"
	BeylaHeaderAtSocket  Feature = "traceparent added at the socket (sk_msg)"
	BeylaTCPOption       Feature = "trace context as a TCP option (sockops)"
	// Beyla 3.28 and later check the kernel's FIONREAD bug before they put sockets in a sockhash.
	BeylaNewerLinks Feature = "sk_msg and sockops links in Beyla 3.28+"
)

// Verdict is what one agent can do with one feature.
type Verdict struct {
	Agent   Agent
	Feature Feature
	OK      bool
	Why     string
}

// Verdicts turns the facts into plain answers, per agent and per feature.
func Verdicts(f Facts) []Verdict {
	privileged := f.Root && (f.Caps["CAP_SYS_ADMIN"] || f.Caps["CAP_BPF"] && f.Caps["CAP_PERFMON"])
	var out []Verdict
	add := func(agent Agent, feature Feature, ok bool, why string) {
		out = append(out, Verdict{agent, feature, ok, why})
	}

	// The Go auto agent: uprobes on the target binary, CO-RE programs (BTF), and to link services it
	// writes a traceparent header into outgoing requests with bpf_probe_write_user.
	autoSpans := privileged && f.BTF && f.Uprobes
	add(AutoAgent, AutoSpans, autoSpans, why(
		!privileged, "needs root with CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)",
		!f.BTF, "needs BTF (/sys/kernel/btf/vmlinux) for its CO-RE programs",
		!f.Uprobes, "needs uprobes (the uprobe PMU)",
	))
	add(AutoAgent, AutoReadTraceparent, autoSpans, why(!autoSpans, "needs spans first"))
	switch {
	case !autoSpans:
		add(AutoAgent, AutoPropagation, false, "needs spans first")
	case f.Lockdown == "integrity" || f.Lockdown == "confidentiality":
		add(AutoAgent, AutoPropagation, false,
			"lockdown="+f.Lockdown+" refuses bpf_probe_write_user, so the agent cannot write traceparent into outgoing requests: each service starts its own trace")
	case f.Lockdown == "unknown":
		add(AutoAgent, AutoPropagation, false,
			"lockdown mode unknown (securityfs not mounted): the agent would assume none and fail if the kernel is locked down; mount securityfs")
	default:
		add(AutoAgent, AutoPropagation, true, "lockdown=none: traceparent headers can be written")
	}

	// Beyla: discovers processes with a kprobe (its watcher's program on sys_bind is required), then
	// attaches uprobes to Go binaries.
	beylaDiscovery := privileged && f.BTF && (f.Kprobes || f.BeylaPollsProc)
	discoveryWhy := why(
		!privileged, "needs root with CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)",
		!f.BTF, "needs BTF (/sys/kernel/btf/vmlinux)",
		!f.Kprobes && !f.BeylaPollsProc, "needs kprobes (CONFIG_KPROBES): not available, so Beyla finds no process to instrument",
	)
	if beylaDiscovery && !f.Kprobes {
		discoveryWhy = "no kprobes, but the Beyla build at hand polls /proc instead (a patched build: the official one stops)"
	}
	add(Beyla, BeylaDiscovery, beylaDiscovery, discoveryWhy)
	beylaSpans := beylaDiscovery && f.Uprobes
	add(Beyla, BeylaSpans, beylaSpans, why(!beylaDiscovery, "needs process discovery first", !f.Uprobes, "needs uprobes"))
	// Beyla links services three ways. Only the first writes into the process's memory, which lockdown
	// refuses; the other two work in the kernel's network stack, from programs attached to the cgroup v2
	// tree: sk_msg adds the traceparent header to the outgoing bytes, sockops a TCP option.
	add(Beyla, BeylaHeaderInProcess, beylaSpans && f.Lockdown == "none", why(
		!beylaSpans, "needs spans first",
		f.Lockdown != "none", "lockdown="+f.Lockdown+" refuses bpf_probe_write_user; the two ways below still link services",
	))
	add(Beyla, BeylaHeaderAtSocket, beylaSpans && f.CgroupV2 != "", why(
		!beylaSpans, "needs spans first",
		f.CgroupV2 == "", "needs a cgroup v2 hierarchy (mounted into Beyla's container) for its sk_msg and sockops programs",
	))
	add(Beyla, BeylaTCPOption, beylaSpans && f.CgroupV2 != "", why(
		!beylaSpans, "needs spans first",
		f.CgroupV2 == "", "needs a cgroup v2 hierarchy (mounted into Beyla's container) for its sockops programs",
	))
	// From 3.28 Beyla measures FIONREAD as the doctor does. Where the kernel misreports it, Beyla keeps
	// sockets out of its sockhash unless a compensation loads, and that one writes user memory.
	fionreadOK := f.FIONREAD == "correct"
	// The kernel's answer comes first: it holds whatever else keeps Beyla from running here.
	add(Beyla, BeylaNewerLinks, beylaSpans && f.CgroupV2 != "" && (fionreadOK || f.Lockdown == "none"), why(
		!fionreadOK && f.Lockdown != "none", "FIONREAD "+f.FIONREAD+" for sockets in a sockhash here: Beyla 3.28+ turns both off, as its compensation needs "+
			"bpf_probe_write_user, which lockdown="+f.Lockdown+" refuses (3.14, pinned, does not check: Go's net/http never sizes reads with FIONREAD)",
		!beylaSpans, "needs spans first",
		f.CgroupV2 == "", "needs a cgroup v2 hierarchy",
		!fionreadOK, "FIONREAD "+f.FIONREAD+" for sockets in a sockhash here: Beyla 3.28+ keeps both with its compensation",
	))
	return out
}

// why returns the first reason whose condition holds, or "available".
func why(pairs ...any) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].(bool) {
			return pairs[i+1].(string)
		}
	}
	return "available"
}

// Can reports whether the verdict on a feature is yes, and why.
func Can(vs []Verdict, feature Feature) (bool, string) {
	for _, v := range vs {
		if v.Feature == feature {
			return v.OK, v.Why
		}
	}
	return false, "no such verdict"
}

// CanLink reports whether the agent can carry the trace context from service to service here, by any
// of its ways, and why: the working way, or every way's reason. The manual SDK always can.
func CanLink(vs []Verdict, a Agent) (bool, string) {
	features := map[Agent][]Feature{
		AutoAgent: {AutoPropagation},
		Beyla:     {BeylaHeaderInProcess, BeylaHeaderAtSocket, BeylaTCPOption},
	}[a]
	var why []string
	for _, f := range features {
		ok, reason := Can(vs, f)
		if ok {
			return true, string(f) + ": " + reason
		}
		why = append(why, reason)
	}
	return false, strings.Join(why, "; ")
}

// NothingWorks reports whether no agent can produce a single span here.
func NothingWorks(vs []Verdict) bool {
	auto, _ := Can(vs, AutoSpans)
	beyla, _ := Can(vs, BeylaSpans)
	return !auto && !beyla
}

// Report writes the facts and verdicts in plain words.
func Report(w io.Writer, f Facts, vs []Verdict) {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(w, "Kernel %s (%s)\n", f.Kernel, f.Arch)
	fmt.Fprintf(w, "  BTF                %s\n", yes(f.BTF))
	fmt.Fprintf(w, "  lockdown           %s\n", f.Lockdown)
	fmt.Fprintf(w, "  uprobes            %s\n", yes(f.Uprobes))
	fmt.Fprintf(w, "  kprobes            %s\n", yes(f.Kprobes))
	fmt.Fprintf(w, "  tracefs mounted    %s\n", yes(f.Tracefs))
	fmt.Fprintf(w, "  bpffs mounted      %s\n", yes(f.Bpffs))
	cg := f.CgroupV2
	if cg == "" {
		cg = "no"
	}
	fmt.Fprintf(w, "  cgroup v2          %s\n", cg)
	fmt.Fprintf(w, "  FIONREAD, sockhash %s\n", f.FIONREAD)
	var caps []string
	for _, name := range []string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"} {
		caps = append(caps, name+"="+yes(f.Caps[name]))
	}
	fmt.Fprintf(w, "  root               %s (%s)\n", yes(f.Root), strings.Join(caps, " "))
	fmt.Fprintln(w)
	for _, v := range vs {
		answer := "yes"
		if !v.OK {
			answer = "no"
		}
		fmt.Fprintf(w, "%-14s %-40s %-3s  %s\n", v.Agent+":", v.Feature, answer, v.Why)
	}
	fmt.Fprintf(w, "%-14s %-40s %-3s  %s\n", "Manual SDK:", "everything", "yes", "compiled into the binary: no kernel feature needed")
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readString(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(data)
}

type mount struct{ source, target, fstype string }
type mountList []mount

func (ms mountList) has(fstype, target string) bool {
	for _, m := range ms {
		if m.fstype == fstype && (target == "" || m.target == target) {
			return true
		}
	}
	return false
}

// Mounted reports whether a filesystem of type fstype is mounted on target.
func Mounted(fstype, target string) bool { return readMounts().has(fstype, target) }

func readMounts() mountList {
	var ms mountList
	for _, line := range strings.Split(readString("/proc/self/mounts"), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 3 {
			ms = append(ms, mount{fields[0], fields[1], fields[2]})
		}
	}
	return ms
}

func capEff() uint64 {
	for _, line := range strings.Split(readString("/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n
		}
	}
	return 0
}

// kernelConfig reads one option from /proc/config.gz or /boot/config-<release>: "y", "m" or "".
func kernelConfig(option string) string {
	var r io.Reader
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if gz, err := gzip.NewReader(f); err == nil {
			r = gz
		}
	}
	if r == nil {
		release := strings.TrimSpace(readString("/proc/sys/kernel/osrelease"))
		f, err := os.Open(filepath.Join("/boot", "config-"+release))
		if err != nil {
			return ""
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), option+"="); ok {
			return v
		}
	}
	return ""
}
