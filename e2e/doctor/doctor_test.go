package doctor

import (
	"strings"
	"testing"
)

func facts(lockdown string, kprobes bool) Facts {
	return Facts{
		BTF: true, Uprobes: true, Kprobes: kprobes, Lockdown: lockdown, CgroupV2: "/sys/fs/cgroup", Root: true,
		Caps: map[string]bool{"CAP_BPF": true, "CAP_PERFMON": true, "CAP_SYS_ADMIN": true},
	}
}

func TestVerdicts(t *testing.T) {
	tests := []struct {
		name          string
		f             Facts
		agent, feat   string
		want          bool
		whyContaining string
	}{
		{"lockdown refuses header writing", facts("integrity", true), "Go auto agent", "cross-service context propagation", false, "bpf_probe_write_user"},
		{"no lockdown allows it", facts("none", true), "Go auto agent", "cross-service context propagation", true, ""},
		{"unknown lockdown is not trusted", facts("unknown", true), "Go auto agent", "cross-service context propagation", false, "securityfs"},
		{"spans under lockdown", facts("integrity", false), "Go auto agent", "spans (SERVER, CLIENT, database/sql)", true, ""},
		{"Beyla needs kprobes", facts("none", false), "Beyla", "process discovery", false, "kprobes"},
		{"Beyla's in-process header write under lockdown", facts("integrity", true), "Beyla", "traceparent written in the process", false, "lockdown=integrity"},
		{"Beyla's in-process header write without lockdown", facts("none", true), "Beyla", "traceparent written in the process", true, ""},
		{"Beyla's socket-level header under lockdown", facts("integrity", true), "Beyla", "traceparent added at the socket (sk_msg)", true, ""},
		{"Beyla's TCP option under lockdown", facts("integrity", true), "Beyla", "trace context as a TCP option (sockops)", true, ""},
		{"Beyla's network-level propagation needs cgroup v2", func() Facts { f := facts("integrity", true); f.CgroupV2 = ""; return f }(), "Beyla", "traceparent added at the socket (sk_msg)", false, "cgroup v2"},
	}
	for _, tt := range tests {
		ok, why := Can(Verdicts(tt.f), tt.agent, tt.feat)
		if ok != tt.want || (tt.whyContaining != "" && !strings.Contains(why, tt.whyContaining)) {
			t.Errorf("%s: %s %s = %v (%s); want %v with %q", tt.name, tt.agent, tt.feat, ok, why, tt.want, tt.whyContaining)
		}
	}
	noBTF := facts("none", true)
	noBTF.BTF = false
	if !NothingWorks(Verdicts(noBTF)) {
		t.Error("without BTF no agent can work, and doctor must say so")
	}
	if NothingWorks(Verdicts(facts("integrity", false))) {
		t.Error("the Go auto agent works without kprobes")
	}
}
