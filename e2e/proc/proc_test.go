package proc

import (
	"testing"
	"time"
)

// The kernel's accounting of a busy child: its processor time grows while it spins, it holds memory,
// and once killed it is reaped and its state says so.
func TestAccountingOfARealProcess(t *testing.T) {
	p, err := Start(Command{Path: "/bin/sh", Args: []string{"-c", "while :; do :; done"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	before, err := p.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	after, err := p.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	if spun := after - before; spun < 10*time.Millisecond || spun > time.Second {
		t.Errorf("a spinning shell used %s of processor time in 500 ms", spun)
	}
	if rss, err := p.RSS(); err != nil || rss < 64<<10 {
		t.Errorf("RSS = %d, %v", rss, err)
	}
	if p.State() != nil {
		t.Fatal("a running process has an exit state")
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.State() == nil || p.State().Success() {
		t.Errorf("after Kill the state is %v; want killed", p.State())
	}
	if err := p.Kill(); err != nil {
		t.Errorf("killing an exited process: %v", err)
	}
	if _, err := p.CPUTime(); err == nil {
		t.Error("the accounting of a reaped process reads without error")
	}
}
