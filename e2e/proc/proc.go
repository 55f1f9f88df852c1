// Package proc runs the lab's programs (the shop's binaries, the agents, the Collector, the backends) as
// child processes, and reads what the kernel accounts to a process: its processor time and its memory.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zerocodelab/lab/e2e/report"
)

// Command is how to start one program.
type Command struct {
	Path string
	Args []string
	Env  []string // the whole environment; nil means this process's
	// Stdout, when set, receives a copy of the program's standard output; Output has all of it either way.
	Stdout io.Writer
}

// Process is one running program.
type Process struct {
	cmd    *exec.Cmd
	out    report.Log
	exited chan struct{} // closed once the process has exited and state is set
	state  *os.ProcessState
}

// Start starts c. The process runs until it exits or is killed; Kill also reaps it.
func Start(c Command) (*Process, error) {
	p := &Process{cmd: exec.Command(c.Path, c.Args...), exited: make(chan struct{})}
	p.cmd.Env = c.Env
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if c.Stdout != nil {
		p.cmd.Stdout = io.MultiWriter(&p.out, c.Stdout)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Path, err)
	}
	go func() {
		p.cmd.Wait() // the exit status is read from ProcessState
		p.state = p.cmd.ProcessState
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL, as a crash or the OOM killer would: no shutdown, nothing flushed. It returns once
// the process is gone. Killing a process that has already exited is not an error.
func (p *Process) Kill() error {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.cmd.Path, err)
	}
	<-p.exited
	return nil
}

// Stop asks the process to end (SIGTERM), as docker stop does, and kills it if it has not exited after
// grace. It returns once the process is gone.
func (p *Process) Stop(grace time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.cmd.Path, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
		return p.Kill()
	}
}

// Exited is closed once the process has exited; State then says how.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// State is how the process exited, nil while it runs.
func (p *Process) State() *os.ProcessState {
	select {
	case <-p.exited:
		return p.state
	default:
		return nil
	}
}

// Output is what the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// CPUTime is the processor time (user and system) the process has used so far.
func (p *Process) CPUTime() (time.Duration, error) { return CPUTime(p.Pid()) }

// RSS is the process's resident memory now.
func (p *Process) RSS() (int64, error) { return RSS(p.Pid()) }

// CPUTime is the processor time (user and system) process pid has used so far, all its threads
// included, from the kernel's accounting (/proc/<pid>/stat, in USER_HZ ticks: 100 a second on Linux).
// It includes the time the kernel spends in the process's context, such as uprobe traps.
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields that follow are counted after it.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", data)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", data)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15 of the line
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat field %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// RSS is the resident memory of process pid in bytes (VmRSS of /proc/<pid>/status).
func RSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		value, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmRSS %q: %w", value, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("process %d has no VmRSS (a zombie?)", pid)
}
