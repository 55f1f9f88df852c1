package native

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// MountIfMissing mounts a pseudo filesystem the agents need (tracefs, bpf) where it is missing. It
// returns how to unmount it, nil when it was there already, so that the host is left as it was.
func MountIfMissing(fstype, target string) (unmount func() error, err error) {
	if mounted(fstype, target) {
		return nil, nil
	}
	if err := syscall.Mount(fstype, target, fstype, 0, ""); err != nil {
		return nil, fmt.Errorf("mount %s on %s: %w", fstype, target, err)
	}
	return func() error { return syscall.Unmount(target, 0) }, nil
}

func mounted(fstype, target string) bool {
	data, _ := os.ReadFile("/proc/self/mounts")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == target && f[2] == fstype {
			return true
		}
	}
	return false
}
