package native

import (
	"net"
	"strconv"
	"testing"
)

// FreeAddrs gives distinct ports that nothing listens on, below the range the kernel picks from for
// port 0, so that no service the harness starts in between can take one.
func TestFreeAddrsAreBelowTheKernelsEphemeralRange(t *testing.T) {
	low, err := ephemeralLow()
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := FreeAddrs(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, addr := range addrs {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		if port, _ := strconv.Atoi(p); port < freePortsFrom || port >= low {
			t.Errorf("%s: want a port in [%d, %d)", addr, freePortsFrom, low)
		}
		if seen[addr] {
			t.Errorf("%s given twice", addr)
		}
		seen[addr] = true
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s is not free: %v", addr, err)
			continue
		}
		ln.Close()
	}
}
