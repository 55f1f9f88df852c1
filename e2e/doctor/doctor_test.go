package doctor

import (
	"os"
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
		feat          Feature
		want          bool
		whyContaining string
	}{
		{"lockdown refuses header writing", facts("integrity", true), AutoPropagation, false, "bpf_probe_write_user"},
		{"no lockdown allows it", facts("none", true), AutoPropagation, true, ""},
		{"unknown lockdown is not trusted", facts("unknown", true), AutoPropagation, false, "securityfs"},
		{"spans under lockdown", facts("integrity", false), AutoSpans, true, ""},
		{"Beyla needs kprobes", facts("none", false), BeylaDiscovery, false, "kprobes"},
		{"a Beyla build that polls /proc needs none", func() Facts { f := facts("integrity", false); f.BeylaPollsProc = true; return f }(), BeylaDiscovery, true, "patched"},
		{"and links services under lockdown at the socket", func() Facts { f := facts("integrity", false); f.BeylaPollsProc = true; return f }(), BeylaHeaderAtSocket, true, ""},
		{"Beyla's in-process header write under lockdown", facts("integrity", true), BeylaHeaderInProcess, false, "lockdown=integrity"},
		{"Beyla's in-process header write without lockdown", facts("none", true), BeylaHeaderInProcess, true, ""},
		{"Beyla's socket-level header under lockdown", facts("integrity", true), BeylaHeaderAtSocket, true, ""},
		{"Beyla's TCP option under lockdown", facts("integrity", true), BeylaTCPOption, true, ""},
		{"Beyla 3.28+ under lockdown where FIONREAD is misreported", func() Facts { f := facts("integrity", true); f.FIONREAD = "misreported"; return f }(), BeylaNewerLinks, false, "lockdown=integrity refuses"},
		{"Beyla 3.28+ compensates without lockdown", func() Facts { f := facts("none", true); f.FIONREAD = "misreported"; return f }(), BeylaNewerLinks, true, "compensation"},
		{"Beyla 3.28+ where FIONREAD is right", func() Facts { f := facts("integrity", true); f.FIONREAD = "correct"; return f }(), BeylaNewerLinks, true, ""},
		{"Beyla's network-level propagation needs cgroup v2", func() Facts { f := facts("integrity", true); f.CgroupV2 = ""; return f }(), BeylaHeaderAtSocket, false, "cgroup v2"},
	}
	for _, tt := range tests {
		ok, why := Can(Verdicts(tt.f), tt.feat)
		if ok != tt.want || (tt.whyContaining != "" && !strings.Contains(why, tt.whyContaining)) {
			t.Errorf("%s: %s = %v (%s); want %v with %q", tt.name, tt.feat, ok, why, tt.want, tt.whyContaining)
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

// The FIONREAD measure runs on the real kernel: as root it answers, either way; it is the fact Beyla
// 3.28+ acts on.
func TestSockhashFIONREADAnswers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a BPF sockhash needs root")
	}
	broken, err := SockhashFIONREAD()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("this kernel misreports FIONREAD for a socket in a sockhash: %v", broken)
}
