// Package native runs the lab's lanes as processes on this machine, the way the compose file runs them
// as containers: the shop's four binaries per lane, each lane with copies of its own, and the Go auto
// agent attached to a lane's processes. The end-to-end run and the bench start lanes through it.
package native

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Services are the shop's services in the order a lane starts them: each one's upstreams first.
var Services = []string{"catalog", "orders", "inventory", "gateway"}

// BuildShop compiles the shop's four binaries from root/services into dir, with the given build tags
// ("" for the plain build, "otelsdk" for the manual lane's).
func BuildShop(root, dir, tags string) error { return Build(root, dir, tags, Services...) }

// Build compiles programs of root/services/cmd (the services, loadgen) into dir, with the given build tags.
func Build(root, dir, tags string, programs ...string) error {
	for _, name := range programs {
		cmd := exec.Command("go", "build", "-trimpath", "-tags", tags, "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = filepath.Join(root, "services")
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOWORK=off") // as the Makefile and the images build them
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s (tags %q): %w\n%s", name, tags, err, out)
		}
	}
	return nil
}

// Built returns the absolute path of root/rel, a binary a make target builds, or an error saying which
// command builds it.
func Built(root, rel, how string) (string, error) {
	path, err := filepath.Abs(filepath.Join(root, rel))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s is missing: %s builds it (make e2e runs it)", rel, how)
	}
	return path, nil
}

// FreeAddrs returns n distinct loopback host:ports nothing listens on right now: all are held open until
// the last is picked, so none is handed out twice. They lie below the kernel's ephemeral range
// (ip_local_port_range), where it never picks a port for a program that binds port 0, as the shop's
// services do: a port picked here stays free, until its program binds it, however many services start
// in between. Two calls could give the same port only if the first's is still unbound and a draw among
// some 20,000 hits it.
func FreeAddrs(n int) ([]string, error) {
	low, err := ephemeralLow()
	if err != nil {
		return nil, err
	}
	var addrs []string
	for attempt := 0; len(addrs) < n; attempt++ {
		if attempt == 1000 {
			return nil, fmt.Errorf("pick a free port below %d: 1000 draws found %d of %d", low, len(addrs), n)
		}
		port := freePortsFrom + rand.IntN(low-freePortsFrom)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// freePortsFrom is the lowest port FreeAddrs draws: above the well-known ports of common servers.
const freePortsFrom = 10000

// ephemeralLow reads the first port the kernel picks from for port 0.
func ephemeralLow() (int, error) {
	const file = "/proc/sys/net/ipv4/ip_local_port_range"
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return 0, fmt.Errorf("pick a free port: %s says %q; want two ports", file, data)
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil || low <= freePortsFrom+1000 {
		return 0, fmt.Errorf("pick a free port: %s says %q; want a range starting above %d", file, data, freePortsFrom+1000)
	}
	return low, nil
}

// ShopMetrics reads services/metrics.txt: the names of the metrics the services expose, which a test of
// the services keeps equal to their real /metrics.
func ShopMetrics(root string) (map[string]bool, error) {
	data, err := os.ReadFile(filepath.Join(root, "services", "metrics.txt"))
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		service, name, ok := strings.Cut(line, " ")
		if !ok || !slices.Contains(Services, service) || name == "" {
			return nil, fmt.Errorf("services/metrics.txt: %q is not \"service metric\"", line)
		}
		names[name] = true
	}
	return names, nil
}
