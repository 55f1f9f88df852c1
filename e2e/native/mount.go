package native

import (
	"fmt"
	"syscall"

	"github.com/zerocodelab/lab/e2e/doctor"
)

// MountIfMissing mounts a pseudo filesystem the agents need (tracefs, bpf) where it is missing. It
// returns how to unmount it, nil when it was there already, so that the host is left as it was.
func MountIfMissing(fstype, target string) (unmount func() error, err error) {
	if doctor.Mounted(fstype, target) {
		return nil, nil
	}
	if err := syscall.Mount(fstype, target, fstype, 0, ""); err != nil {
		return nil, fmt.Errorf("mount %s on %s: %w", fstype, target, err)
	}
	return func() error { return syscall.Unmount(target, 0) }, nil
}
