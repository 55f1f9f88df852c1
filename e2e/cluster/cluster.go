// Package cluster starts and stops a real single-node Kubernetes cluster on this host, from the
// programs e2e/cluster/build.sh builds (etcd, the control plane, kubelet, kube-proxy, CoreDNS) and
// Debian's containerd, run as a private instance with its CRI plugin on. There is no systemd here:
// Up starts every daemon itself, detached, with its log under the logs folder, and Down stops them all,
// stops every pod through the CRI, unmounts what they mounted and removes their network rules.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The cluster's fixed names and address ranges. The ranges lie in 10.0.0.0/8, which Docker never gives
// its networks by default (172.17-31.0.0/16, 192.168.0.0/16), so they cannot collide with the compose
// stack's network; Up checks that no interface of this host is in them.
const (
	clusterName = "zerocode-lab"
	// NodeName is the one node's name.
	NodeName = "zerocode-node"
	// PodCIDR is the pods' range (the node's bridge takes its first /24); ServiceCIDR the Services'.
	PodCIDR     = "10.244.0.0/16"
	nodePodCIDR = "10.244.0.0/24"
	ServiceCIDR = "10.96.0.0/16"
	// The first address of ServiceCIDR is the API's Service (kubernetes.default); the tenth, by custom,
	// is the DNS Service's.
	apiServiceIP = "10.96.0.1"
	DNSServiceIP = "10.96.0.10"
	bridge       = "zerocode0"    // the node's pod bridge, named for this project so Down removes only it
	cniNetwork   = "zerocode-lab" // the CNI network's name, found again in host-local's state folder
	// ruleComment marks the FORWARD rules Up adds, so Down removes exactly those.
	ruleComment = "zerocode-lab k8s"
)

// Ports the cluster's programs listen on; Up refuses to start if another program holds one.
var ports = map[string]int{
	"etcd clients": 2379, "etcd peers": 2380, "etcd metrics": 2381, "kube-apiserver": 6443,
	"kubelet": 10250, "kubelet healthz": 10248, "kube-proxy metrics": 10249, "kube-proxy healthz": 10256,
	"kube-controller-manager": 10257, "kube-scheduler": 10259,
}

// hostDirs are folders outside the state folder that the cluster's programs make at fixed paths:
// kubelet's device-plugin socket, the CNI results containerd caches, runc's state of the CRI's
// namespace (k8s.io); and folders they share with others: the pods' network namespaces, and the
// shims' sockets and runc's state, which Docker's containerd keeps there too. Up notes those that do
// not exist yet (hostDirsFile); Down removes exactly those, a shared one only if it is empty. Children
// come before their parents.
var hostDirs = []hostDir{
	{"/var/lib/kubelet", true},
	{"/var/lib/cni", true},
	{"/run/containerd/runc/k8s.io", true},
	{"/run/netns", false},
	{"/run/containerd/runc", false},
	{"/run/containerd/s", false},
	{"/run/containerd", false},
}

// A hostDir is one of hostDirs.
type hostDir struct {
	path string
	ours bool // only the cluster writes in it
}

// hostDirsFile, in the logs folder (which outlives Down), lists the hostDirs that Up made.
const hostDirsFile = "host-dirs-made"

// Cluster is where the cluster's programs and state live.
type Cluster struct {
	Bin  string // the programs build.sh built: kube-*, kubelet, kubectl, etcd, coredns, cni/
	Dir  string // state: certificates, etcd's data, kubelet's and containerd's roots (all removed by Down)
	Logs string // one log per daemon, kept after Down for reading
	// Kubeconfig is the administrator's kubeconfig, written by Up for kubectl and the tests.
	Kubeconfig string
	Log        *slog.Logger
}

// New is the cluster of the repository at root: programs in build/k8s/bin, logs in build/k8s/logs,
// the kubeconfig at build/k8s/kubeconfig, the state under /var/lib/zerocode-lab-k8s (outside the
// repository, since kubelet and containerd mount filesystems inside it).
func New(root string, log *slog.Logger) *Cluster {
	return &Cluster{
		Bin:        filepath.Join(root, "build/k8s/bin"),
		Dir:        "/var/lib/zerocode-lab-k8s",
		Logs:       filepath.Join(root, "build/k8s/logs"),
		Kubeconfig: filepath.Join(root, "build/k8s/kubeconfig"),
		Log:        log,
	}
}

func (c *Cluster) path(parts ...string) string {
	return filepath.Join(append([]string{c.Dir}, parts...)...)
}

// containerdSocket is the private containerd's API socket, apart from Docker's containerd.
func (c *Cluster) containerdSocket() string { return c.path("containerd", "run", "containerd.sock") }

// kubectl runs kubectl as the administrator and returns its standard output.
func (c *Cluster) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// run runs a host command (mount, iptables, ip) and wraps its output into the error.
func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// preflight says, before anything is changed, each reason this host cannot run the cluster.
func (c *Cluster) preflight() error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("the cluster's kubelet, containerd and kube-proxy need root: sudo make k8s-up"))
	}
	for _, p := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "coredns", "pause", "cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"} {
		if _, err := os.Stat(filepath.Join(c.Bin, p)); err != nil {
			errs = append(errs, fmt.Errorf("%s is not built (make k8s-build builds it): %w", p, err))
		}
	}
	for _, p := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip", "mount", "umount"} {
		if _, err := exec.LookPath(p); err != nil {
			errs = append(errs, fmt.Errorf("%s is missing (Debian: apt-get install containerd runc iptables iproute2)", p))
		}
	}
	for what, port := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			errs = append(errs, fmt.Errorf("port %d (%s) is taken: %w", port, what, err))
			continue
		}
		l.Close()
	}
	if err := noOverlap(); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(c.Dir); err == nil {
		errs = append(errs, fmt.Errorf("%s exists: a cluster is up or was not taken down (make k8s-down)", c.Dir))
	}
	return errors.Join(errs...)
}

// noOverlap checks that no address of this host, Docker's networks included, is in the pods' or the
// Services' range.
func noOverlap() error {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("list this host's addresses: %w", err)
	}
	var errs []error
	for _, cidr := range []string{PodCIDR, ServiceCIDR} {
		_, r, _ := net.ParseCIDR(cidr)
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if ok && (r.Contains(n.IP) || n.Contains(r.IP)) {
				errs = append(errs, fmt.Errorf("this host's network %s overlaps the cluster's range %s", n, cidr))
			}
		}
	}
	return errors.Join(errs...)
}

// nodeIP is the address of the interface of this host's default route: the node's InternalIP, where
// the API server is advertised to pods.
func nodeIP() (string, error) {
	conn, err := net.Dial("udp", "192.0.2.255:9") // no packet is sent: this only picks a source address
	if err != nil {
		return "", fmt.Errorf("find the node's address (is there a default route?): %w", err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String(), nil
}
