package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/zerocodelab/lab/e2e/native"
	"github.com/zerocodelab/lab/e2e/stack"
)

// Docker gives an empty named volume the owner and mode of the image's directory it is mounted on, or
// root:root 0755 where the image has none. Every service must be able to write each of its named
// volumes as the user it runs as, with the capabilities it keeps.
func TestEveryNamedVolumeIsWritableByItsUser(t *testing.T) {
	for name, p := range loadAll(t) {
		for _, s := range p.Services {
			img, ok := stack.ImageOf(s.Image)
			if !ok {
				t.Errorf("%s: %s runs %s, which stack.Images does not describe", name, s.Name, s.Image)
				continue
			}
			user := img.User
			if s.User != "" {
				user = s.User
			}
			uid, err := userID(user)
			if err != nil {
				t.Errorf("%s: %s: %v", name, s.Name, err)
				continue
			}
			// Root bypasses file permissions only with CAP_DAC_OVERRIDE, which cap_drop may take away.
			override := uid == 0 && (s.Privileged || !slices.Contains(s.CapDrop, "ALL") && !slices.Contains(s.CapDrop, "DAC_OVERRIDE"))
			for _, v := range s.Volumes {
				if v.Type != types.VolumeTypeVolume || v.ReadOnly {
					continue
				}
				dir, fromImage := img.Dirs[v.Target]
				if !fromImage {
					dir = stack.Dir{UID: 0, GID: 0, Mode: 0o755}
				}
				writable := override || dir.UID == uid && dir.Mode&0o200 != 0 || dir.Mode&0o002 != 0
				if !writable {
					t.Errorf("%s: %s runs as %q (uid %d) and cannot write its volume %s on %s, owned by %d:%d mode %o",
						name, s.Name, user, uid, v.Source, v.Target, dir.UID, dir.GID, dir.Mode)
				}
			}
		}
	}
}

func userID(user string) (int, error) {
	name, _, _ := strings.Cut(user, ":")
	if id, ok := stack.UserIDs[name]; ok {
		return id, nil
	}
	id, err := strconv.Atoi(name)
	if err != nil {
		return 0, fmt.Errorf("user %q is neither a number nor a known name", user)
	}
	return id, nil
}

// Uprobes attach to a file: each lane must run binaries of its own, which the lane stamped into each
// image's binary guarantees (services/Dockerfile), or the agents' probes would trap in the plain lane too.
func TestEachLaneRunsBinariesOfItsOwn(t *testing.T) {
	p := mustLoad(t)
	seen := map[string]string{} // image -> service
	for _, lane := range native.Lanes {
		for _, svc := range native.Services {
			s := p.Services[lane+"-"+svc]
			if want := "zero-code-lab/" + svc + ":" + lane; s.Image != want {
				t.Errorf("%s runs image %q; want %q", s.Name, s.Image, want)
			}
			if s.Build == nil || value(s.Build.Args["LANE"]) != lane {
				t.Errorf("%s is not built with build-arg LANE=%s, so its binary is not its lane's own", s.Name, lane)
			}
			if other, ok := seen[s.Image]; ok {
				t.Errorf("%s and %s run the same image %s, hence the same binary file", s.Name, other, s.Image)
			}
			seen[s.Image] = s.Name
		}
	}
}

// PID 1 of a PID namespace takes every process of the namespace with it when it exits: no namespace
// that services join may belong to an agent, which can fail or be restarted on its own.
func TestNoPIDNamespaceBelongsToAnAgent(t *testing.T) {
	for name, p := range loadAll(t) {
		for _, s := range p.Services {
			owner, ok := strings.CutPrefix(s.Pid, "service:")
			if !ok {
				continue
			}
			if isAgent(owner) {
				t.Errorf("%s: %s joins the PID namespace of the agent %s: when it exits, the kernel kills %s", name, s.Name, owner, s.Name)
			}
			if o, ok := p.Services[owner]; ok && o.Pid != "" {
				t.Errorf("%s: %s joins %s, which itself joins %s", name, s.Name, owner, o.Pid)
			}
		}
	}
}
