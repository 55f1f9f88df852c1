package doctor

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// SockhashFIONREAD measures whether this kernel misreports ioctl(FIONREAD) for a socket that sits in a
// BPF sockhash (kernel commit 929e30f93125, in 6.6.128+, 6.12.75+, 6.18.14+ and 6.19+ until its fix).
// Beyla's socket-level propagation (sk_msg) puts every tracked socket in a sockhash; from 3.28 on Beyla
// checks for this bug and turns that propagation off where it cannot compensate. The measure: a loopback
// connection in a fresh sockhash, 4096 bytes waiting to be read, and what FIONREAD says of them.
// It needs root (a BPF map) and loads no program.
func SockhashFIONREAD() (broken bool, err error) {
	hash, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.SockHash, KeySize: 8, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return false, fmt.Errorf("create a sockhash: %w", err)
	}
	defer hash.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, err
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return false, err
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		return false, err
	}
	defer server.Close()
	raw, err := client.(*net.TCPConn).SyscallConn()
	if err != nil {
		return false, err
	}
	var fd int
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return false, err
	}
	if err := hash.Update(uint64(1), uint32(fd), ebpf.UpdateAny); err != nil {
		return false, fmt.Errorf("put the socket in the sockhash: %w", err)
	}
	const size = 4096
	if _, err := server.Write(make([]byte, size)); err != nil {
		return false, err
	}
	// FIONREAD is what is measured, so whether the bytes arrived is asked with a peek.
	buf := make([]byte, size)
	for deadline := time.Now().Add(2 * time.Second); ; {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err == nil && n == size {
			break
		}
		if time.Now().After(deadline) {
			return false, errors.New("the 4096 bytes written never became readable")
		}
		time.Sleep(5 * time.Millisecond)
	}
	queued, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD's value on Linux
	if err != nil {
		return false, fmt.Errorf("ioctl(FIONREAD): %w", err)
	}
	return queued != size, nil
}
