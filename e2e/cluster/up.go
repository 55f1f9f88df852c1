package cluster

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/doctor"
	"github.com/zerocodelab/lab/e2e/wait"
)

// Images the cluster itself runs, built locally under their upstream names (e2e/stack/images/build.sh)
// and loaded into its containerd: every pod's sandbox, and CoreDNS.
func PauseImage(version string) string   { return "registry.k8s.io/pause:" + version }
func CoreDNSImage(version string) string { return "registry.k8s.io/coredns/coredns:" + version }

// Versions are the pinned versions the cluster needs to know at run time.
type Versions struct {
	Pause   string // PAUSE_VERSION
	CoreDNS string // COREDNS_VERSION
}

// securityfsMark, in the state folder, says that Up mounted securityfs.
const securityfsMark = "mounted-securityfs"

//go:embed coredns.yaml
var corednsManifest string

// ErrCannotStart is what Up returns, with every reason, when this host cannot start the cluster: it
// then changed nothing (and a cluster already up is left alone).
var ErrCannotStart = errors.New("this host cannot start the cluster")

// Up starts the cluster and returns once its node is Ready and CoreDNS answers. Whatever it started
// before a failure stays, for reading its logs; Down removes it.
func (c *Cluster) Up(ctx context.Context, v Versions) error {
	if err := c.preflight(); err != nil {
		return fmt.Errorf("%w:\n%w", ErrCannotStart, err)
	}
	ip, err := nodeIP()
	if err != nil {
		return err
	}
	c.Log.Info("node", "name", NodeName, "ip", ip, "pods", PodCIDR, "services", ServiceCIDR, "state", c.Dir)
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	if err := c.noteHostDirs(); err != nil {
		return err
	}
	if err := c.writePKI(ip); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	// The agents read the kernel's lockdown mode from securityfs, mounted from the node: without it they
	// assume none, load a probe the kernel refuses and exit. Down unmounts it if Up mounted it.
	mounted, err := doctor.MountSecurityfs()
	if err != nil {
		return err
	}
	if mounted {
		if err := os.WriteFile(c.path(securityfsMark), nil, 0o600); err != nil {
			return err
		}
	}
	// kubelet mounts each pod's volumes with propagation that needs / to be shared.
	if err := run(ctx, "mount", "--make-rshared", "/"); err != nil {
		return err
	}
	if err := c.openForward(ctx); err != nil {
		return err
	}
	if err := c.writeConfigs(ip, v); err != nil {
		return err
	}
	for _, d := range c.daemons(ip) {
		if d.name == "kube-proxy" {
			// kube-proxy reads its node's addresses from the Node object, which kubelet registers.
			if err := c.waitNode(ctx); err != nil {
				return err
			}
		}
		if d.name == "kubelet" {
			// kubelet needs the sandbox image before its first pod; containerd cannot pull it here.
			if err := c.LoadImages(ctx, PauseImage(v.Pause), CoreDNSImage(v.CoreDNS)); err != nil {
				return err
			}
		}
		if err := c.start(ctx, d); err != nil {
			return err
		}
	}
	manifest := strings.NewReplacer("$DNS_SERVICE_IP", DNSServiceIP, "$COREDNS_IMAGE", CoreDNSImage(v.CoreDNS)).Replace(corednsManifest)
	if _, err := c.Kubectl(ctx, manifest, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("CoreDNS: %w", err)
	}
	if _, err := c.Kubectl(ctx, "", "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=3m"); err != nil {
		return fmt.Errorf("CoreDNS: %w", err)
	}
	c.Log.Info("the cluster is up", "kubeconfig", c.Kubeconfig)
	return nil
}

// noteHostDirs writes down which hostDirs do not exist yet, so that Down removes them and no others.
func (c *Cluster) noteHostDirs() error {
	var absent []string
	for _, d := range hostDirs {
		if _, err := os.Stat(d.path); os.IsNotExist(err) {
			absent = append(absent, d.path)
		}
	}
	if err := os.MkdirAll(c.Logs, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Logs, hostDirsFile), []byte(strings.Join(absent, "\n")), 0o644)
}

// writePKI makes the CA, the certificate of every component and the kubeconfigs, as kubeadm would.
func (c *Cluster) writePKI(ip string) error {
	p, err := newPKI(c.Dir)
	if err != nil {
		return err
	}
	loopback, node := net.ParseIP("127.0.0.1"), net.ParseIP(ip)
	ids := []identity{
		{file: "apiserver", cn: "kube-apiserver", server: true, ips: []net.IP{loopback, node, net.ParseIP(apiServiceIP)},
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
		{file: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", groups: []string{"system:masters"}},
		{file: "admin", cn: "kubernetes-admin", groups: []string{"system:masters"}},
		{file: "controller-manager", cn: "system:kube-controller-manager"},
		{file: "controller-manager-serving", cn: "kube-controller-manager", server: true, ips: []net.IP{loopback}, dns: []string{"localhost"}},
		{file: "scheduler", cn: "system:kube-scheduler"},
		{file: "scheduler-serving", cn: "kube-scheduler", server: true, ips: []net.IP{loopback}, dns: []string{"localhost"}},
		{file: "kubelet", cn: "system:node:" + NodeName, groups: []string{"system:nodes"}},
		{file: "kubelet-serving", cn: NodeName, server: true, ips: []net.IP{loopback, node}, dns: []string{NodeName, "localhost"}},
		{file: "kube-proxy", cn: "system:kube-proxy"},
	}
	for _, id := range ids {
		if err := p.issue(id); err != nil {
			return err
		}
	}
	if err := p.serviceAccountKey(); err != nil {
		return err
	}
	server := fmt.Sprintf("https://%s:6443", ip)
	for _, name := range []string{"controller-manager", "scheduler", "kubelet", "kube-proxy"} {
		if err := p.kubeconfig(c.path(name+".conf"), server, name); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(c.Kubeconfig), 0o755); err != nil {
		return err
	}
	return p.kubeconfig(c.Kubeconfig, server, "admin")
}

// openForward lets pod traffic through Docker's FORWARD policy (DROP) in both directions.
func (c *Cluster) openForward(ctx context.Context) error {
	for _, dir := range []string{"-s", "-d"} {
		if err := run(ctx, "iptables", "-I", "FORWARD", dir, PodCIDR, "-m", "comment", "--comment", ruleComment, "-j", "ACCEPT"); err != nil {
			return err
		}
	}
	return nil
}

// writeConfigs writes containerd's, the CNI network's, kubelet's and kube-proxy's configuration files.
func (c *Cluster) writeConfigs(ip string, v Versions) error {
	for _, dir := range []string{"cni/net.d", "cni/ipam", "containerd/run", "kubelet", "etcd"} {
		if err := os.MkdirAll(c.path(dir), 0o700); err != nil {
			return err
		}
	}
	containerd := fmt.Sprintf(containerdConfig, c.path("containerd", "root"), c.path("containerd", "state"),
		c.containerdSocket(), c.path("containerd", "opt"), PauseImage(v.Pause), filepath.Join(c.Bin, "cni"), c.path("cni", "net.d"))
	cni := map[string]any{
		"cniVersion": "1.0.0",
		"name":       cniNetwork,
		"plugins": []map[string]any{
			{"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{"type": "host-local", "dataDir": c.path("cni", "ipam"),
					"ranges": [][]map[string]string{{{"subnet": nodePodCIDR}}}, "routes": []map[string]string{{"dst": "0.0.0.0/0"}}}},
			// hostPort mappings, which DaemonSets may use.
			{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	kubelet := map[string]any{
		"apiVersion": "kubelet.config.k8s.io/v1beta1",
		"kind":       "KubeletConfiguration",
		"authentication": map[string]any{
			"anonymous": map[string]bool{"enabled": false},
			"webhook":   map[string]bool{"enabled": true},
			"x509":      map[string]string{"clientCAFile": c.path("pki", "ca.crt")},
		},
		"authorization":            map[string]string{"mode": "Webhook"},
		"tlsCertFile":              c.path("pki", "kubelet-serving.crt"),
		"tlsPrivateKeyFile":        c.path("pki", "kubelet-serving.key"),
		"containerRuntimeEndpoint": "unix://" + c.containerdSocket(),
		// This host mounts cgroup v1 controllers (cgroup v2 only beside them) and has no systemd.
		"cgroupDriver":  "cgroupfs",
		"failCgroupV1":  false,
		"clusterDNS":    []string{DNSServiceIP},
		"clusterDomain": "cluster.local",
		"readOnlyPort":  0,
		"failSwapOn":    false,
		// Images cannot be pulled here: never collect them.
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		// Evict only when the disk is really full: the lab shares this host's disk with the compose stack.
		"evictionHard": map[string]string{"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%", "nodefs.inodesFree": "2%"},
	}
	proxy := map[string]any{
		"apiVersion":         "kubeproxy.config.k8s.io/v1alpha1",
		"kind":               "KubeProxyConfiguration",
		"clientConnection":   map[string]string{"kubeconfig": c.path("kube-proxy.conf")},
		"hostnameOverride":   NodeName,
		"mode":               "iptables",
		"clusterCIDR":        PodCIDR,
		"metricsBindAddress": "127.0.0.1:10249",
		"healthzBindAddress": "127.0.0.1:10256",
		// Leave the host's conntrack table size alone (a sysctl kube-proxy would otherwise raise).
		"conntrack": map[string]any{"maxPerCore": 0},
	}
	files := map[string]any{
		c.path("containerd", "config.toml"):            containerd,
		c.path("cni", "net.d", "10-zerocode.conflist"): cni,
		c.path("kubelet", "config.yaml"):               kubelet,
		c.path("kube-proxy.yaml"):                      proxy,
	}
	for path, content := range files {
		b, ok := content.(string)
		if !ok {
			j, err := json.MarshalIndent(content, "", "  ")
			if err != nil {
				return err
			}
			b = string(j)
		}
		if err := os.WriteFile(path, []byte(b), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// containerdConfig is Debian's containerd 1.6 run as a second, private instance: its own root, state
// and socket, so Docker's containerd (which has the CRI plugin off) is left alone.
const containerdConfig = `version = 2
root = %q
state = %q

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  # Built here, under its upstream name; nothing can be pulled.
  sandbox_image = %q
  # A pod may not get an OOM score below containerd's own: this host refuses to lower it.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`

// daemons are the cluster's programs with their arguments, in start order.
func (c *Cluster) daemons(ip string) []daemon {
	pki := func(name string) string { return c.path("pki", name) }
	bin := func(name string) string { return filepath.Join(c.Bin, name) }
	return []daemon{
		{name: "etcd", path: bin("etcd"), ready: "http://127.0.0.1:2379/health", args: []string{
			"--name", NodeName, "--data-dir", c.path("etcd"),
			"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
			"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
			"--initial-cluster", NodeName + "=http://127.0.0.1:2380", "--listen-metrics-urls", "http://127.0.0.1:2381",
		}},
		{name: "kube-apiserver", path: bin("kube-apiserver"), ready: "https://127.0.0.1:6443/readyz", args: []string{
			"--etcd-servers", "http://127.0.0.1:2379",
			// Pods reach the API at the kubernetes Service, which kube-proxy sends to this address.
			"--advertise-address", ip, "--secure-port", "6443",
			"--tls-cert-file", pki("apiserver.crt"), "--tls-private-key-file", pki("apiserver.key"),
			"--client-ca-file", pki("ca.crt"),
			"--kubelet-client-certificate", pki("apiserver-kubelet-client.crt"), "--kubelet-client-key", pki("apiserver-kubelet-client.key"),
			"--kubelet-certificate-authority", pki("ca.crt"), "--kubelet-preferred-address-types", "InternalIP",
			"--service-cluster-ip-range", ServiceCIDR,
			"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file", pki("sa.pub"), "--service-account-signing-key-file", pki("sa.key"),
			"--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
			// The agents' DaemonSet and sidecars are privileged, as the Operator injects them.
			"--allow-privileged=true",
		}},
		{name: "kube-controller-manager", path: bin("kube-controller-manager"), ready: "https://127.0.0.1:10257/healthz", args: []string{
			"--kubeconfig", c.path("controller-manager.conf"),
			"--authentication-kubeconfig", c.path("controller-manager.conf"), "--authorization-kubeconfig", c.path("controller-manager.conf"),
			"--bind-address", "127.0.0.1", "--tls-cert-file", pki("controller-manager-serving.crt"), "--tls-private-key-file", pki("controller-manager-serving.key"),
			"--client-ca-file", pki("ca.crt"), "--root-ca-file", pki("ca.crt"),
			"--service-account-private-key-file", pki("sa.key"), "--use-service-account-credentials=true",
			"--cluster-signing-cert-file", pki("ca.crt"), "--cluster-signing-key-file", pki("ca.key"),
			// The node gets PodCIDR's first /24, the range its CNI bridge hands out.
			"--allocate-node-cidrs=true", "--cluster-cidr", PodCIDR, "--node-cidr-mask-size", "24",
			"--service-cluster-ip-range", ServiceCIDR, "--leader-elect=false",
		}},
		{name: "kube-scheduler", path: bin("kube-scheduler"), ready: "https://127.0.0.1:10259/healthz", args: []string{
			"--kubeconfig", c.path("scheduler.conf"),
			"--authentication-kubeconfig", c.path("scheduler.conf"), "--authorization-kubeconfig", c.path("scheduler.conf"),
			"--bind-address", "127.0.0.1", "--tls-cert-file", pki("scheduler-serving.crt"), "--tls-private-key-file", pki("scheduler-serving.key"),
			"--leader-elect=false",
		}},
		{name: "containerd", path: "/usr/bin/containerd", check: c.containerdServes, args: []string{"--config", c.path("containerd", "config.toml")}},
		{name: "kubelet", path: bin("kubelet"), ready: "http://127.0.0.1:10248/healthz", args: []string{
			"--config", c.path("kubelet", "config.yaml"), "--kubeconfig", c.path("kubelet.conf"),
			"--root-dir", c.path("kubelet"), "--hostname-override", NodeName, "--node-ip", ip,
		}},
		{name: "kube-proxy", path: bin("kube-proxy"), ready: "http://127.0.0.1:10256/healthz", args: []string{
			"--config", c.path("kube-proxy.yaml"),
		}},
	}
}

// waitNode waits until the node has registered and is Ready.
func (c *Cluster) waitNode(ctx context.Context) error {
	return wait.Eventually(ctx, "node "+NodeName+" Ready", 3*time.Minute, time.Second, func() error {
		out, err := c.Kubectl(ctx, "", "get", "node", NodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil {
			return err
		}
		if out != "True" {
			return fmt.Errorf("Ready is %q", out)
		}
		return nil
	})
}
