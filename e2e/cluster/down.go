package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zerocodelab/lab/e2e/doctor"
)

// Down stops the cluster and removes all it left on this host: every pod (through the CRI, so that the
// CNI plugins release their addresses and rules), every daemon, every mount under the state folder,
// the pod bridge, the rules kube-proxy, kubelet and Up added, the pods' log folders, the folders its
// programs made outside the state folder (hostDirs), and the state folder itself. It goes on past a
// failed step and returns every failure; Leftovers says what remains.
func (c *Cluster) Down(ctx context.Context) error {
	var errs []error
	note := func(err error) {
		if err != nil {
			c.Log.Warn("k8s-down", "err", err)
			errs = append(errs, err)
		}
	}
	// No controller may start a pod again while they are being removed, and kubelet must not restart them.
	for _, name := range []string{"kube-proxy", "kubelet", "kube-controller-manager", "kube-scheduler"} {
		note(c.stop(name, 30*time.Second))
	}
	if c.running("containerd") != 0 {
		note(c.removePods(ctx))
	}
	note(c.stop("containerd", 30*time.Second))
	note(c.killShims())
	note(c.stop("kube-apiserver", 30*time.Second))
	note(c.stop("etcd", 30*time.Second))
	if _, err := os.Stat(filepath.Join(c.Bin, "kube-proxy")); err == nil {
		// kube-proxy removes its own iptables and nftables rules.
		if out, err := exec.CommandContext(ctx, filepath.Join(c.Bin, "kube-proxy"), "--cleanup").CombinedOutput(); err != nil {
			note(fmt.Errorf("kube-proxy --cleanup: %w: %s", err, out))
		}
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		note(removeKubeChains(ctx, ipt))
	}
	note(removeRules(ctx, "iptables", "filter", func(rule string) bool { return strings.Contains(rule, ruleComment) }))
	if _, err := os.Stat("/sys/class/net/" + bridge); err == nil {
		note(run(ctx, "ip", "link", "delete", bridge))
	}
	// kubelet's log folders, if the pods' removal emptied them (os.Remove leaves a folder with content).
	os.Remove("/var/log/pods")
	os.Remove("/var/log/containers")
	if _, err := os.Stat(c.path(securityfsMark)); err == nil {
		note(run(ctx, "umount", doctor.SecurityfsPath))
	}
	note(unmountUnder(c.Dir))
	if len(errs) == 0 || len(mountsUnder(c.Dir)) == 0 {
		note(os.RemoveAll(c.Dir))
	}
	for _, d := range c.hostDirsMade() {
		switch {
		case len(mountsUnder(d.path)) > 0:
		case d.ours:
			note(os.RemoveAll(d.path))
		default:
			os.Remove(d.path) // left where another program keeps something in it
		}
	}
	if left := c.Leftovers(); len(left) > 0 {
		note(fmt.Errorf("left on this host: %s", strings.Join(left, "; ")))
	}
	return errors.Join(errs...)
}

// crictl runs crictl against the cluster's containerd.
func (c *Cluster) crictl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "crictl"), append([]string{"--runtime-endpoint", "unix://" + c.containerdSocket(), "--timeout", "60s"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		return "", fmt.Errorf("crictl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(stderr)))
	}
	return string(out), nil
}

// removePods stops and removes every pod sandbox with its containers, then the log folders kubelet
// kept for them under /var/log/pods and their links under /var/log/containers.
func (c *Cluster) removePods(ctx context.Context) error {
	out, err := c.crictl(ctx, "pods", "-o", "json")
	if err != nil {
		return err
	}
	var list struct {
		Items []struct {
			ID       string `json:"id"`
			Metadata struct{ Name, UID, Namespace string }
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return fmt.Errorf("crictl pods: %w", err)
	}
	var errs []error
	for _, p := range list.Items {
		if _, err := c.crictl(ctx, "stopp", p.ID); err != nil {
			errs = append(errs, err)
		}
		if _, err := c.crictl(ctx, "rmp", "--force", p.ID); err != nil {
			errs = append(errs, err)
		}
		dir := filepath.Join("/var/log/pods", p.Metadata.Namespace+"_"+p.Metadata.Name+"_"+p.Metadata.UID)
		errs = append(errs, os.RemoveAll(dir))
	}
	c.Log.Info("pods removed", "pods", len(list.Items))
	// kubelet's links to the removed logs now point nowhere.
	links, _ := filepath.Glob("/var/log/containers/*.log")
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && strings.HasPrefix(target, "/var/log/pods/") {
			if _, err := os.Stat(l); os.IsNotExist(err) {
				errs = append(errs, os.Remove(l))
			}
		}
	}
	return errors.Join(errs...)
}

// shims are the process ids of the containerd shims serving the cluster's containerd.
func (c *Cluster) shims() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if strings.HasSuffix(args[0], "containerd-shim-runc-v2") && strings.Contains(string(cmdline), c.containerdSocket()) {
			var pid int
			fmt.Sscan(e.Name(), &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}

// killShims kills shims that outlived their containers' removal (each serves one pod).
func (c *Cluster) killShims() error {
	pids := c.shims()
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	if len(pids) > 0 {
		c.Log.Warn("killed containerd shims left after the pods' removal", "pids", pids)
		time.Sleep(time.Second)
	}
	return nil
}

// removeKubeChains removes the chains named KUBE-* that kubelet and kube-proxy made in every table,
// with the rules that jump to them.
func removeKubeChains(ctx context.Context, ipt string) error {
	if _, err := exec.LookPath(ipt); err != nil {
		return nil
	}
	var errs []error
	for _, table := range []string{"filter", "nat", "mangle"} {
		isKube := func(rule string) bool {
			return strings.Contains(rule, " -j KUBE-") || strings.Contains(rule, " -g KUBE-")
		}
		errs = append(errs, removeRules(ctx, ipt, table, isKube))
		out, err := exec.CommandContext(ctx, ipt, "-t", table, "-S").Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if chain, ok := strings.CutPrefix(line, "-N KUBE-"); ok {
				errs = append(errs, run(ctx, ipt, "-t", table, "-F", "KUBE-"+chain))
				errs = append(errs, run(ctx, ipt, "-t", table, "-X", "KUBE-"+chain))
			}
		}
	}
	return errors.Join(errs...)
}

// removeRules deletes each rule of table for which match holds.
func removeRules(ctx context.Context, ipt, table string, match func(rule string) bool) error {
	out, err := exec.CommandContext(ctx, ipt, "-t", table, "-S").Output()
	if err != nil {
		return fmt.Errorf("%s -t %s -S: %w", ipt, table, err)
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		rule, ok := strings.CutPrefix(line, "-A ")
		if !ok || !match(line) {
			continue
		}
		// The rule as iptables printed it, quoted comments included, deleted by its specification.
		args := append([]string{"-t", table, "-D"}, splitRule(rule)...)
		errs = append(errs, run(ctx, ipt, args...))
	}
	return errors.Join(errs...)
}

// splitRule splits a rule printed by iptables -S into arguments, keeping "quoted words" whole.
func splitRule(rule string) []string {
	var args []string
	var cur strings.Builder
	quoted := false
	for _, r := range rule {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				args = append(args, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		args = append(args, cur.String())
	}
	return args
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		// Octal escapes (\040 for a space) are left as they are: these paths have none.
		if p := fields[4]; p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points
}

// unmountUnder unmounts every mount point at or below dir, deepest first; a busy one lazily.
func unmountUnder(dir string) error {
	var errs []error
	for _, p := range mountsUnder(dir) {
		if err := exec.Command("umount", p).Run(); err != nil {
			if out, err := exec.Command("umount", "-l", p).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("umount %s: %w: %s", p, err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// hostDirsMade are the hostDirs that Up made, in hostDirs' order.
func (c *Cluster) hostDirsMade() []hostDir {
	b, err := os.ReadFile(filepath.Join(c.Logs, hostDirsFile))
	if err != nil {
		return nil
	}
	made := strings.Fields(string(b))
	dirs := slices.Clone(hostDirs)
	return slices.DeleteFunc(dirs, func(d hostDir) bool { return !slices.Contains(made, d.path) })
}

// Leftovers lists what of the cluster remains on this host: a daemon or shim that runs, a mount under
// the state folder, the state folder, the pod bridge, a KUBE-* chain, a rule Up added. Empty after Down.
func (c *Cluster) Leftovers() []string {
	var left []string
	for _, name := range c.Running() {
		left = append(left, "daemon "+name)
	}
	if pids := c.shims(); len(pids) > 0 {
		left = append(left, fmt.Sprintf("containerd shims %v", pids))
	}
	for _, m := range mountsUnder(c.Dir) {
		left = append(left, "mount "+m)
	}
	if _, err := os.Stat(c.Dir); err == nil {
		left = append(left, "folder "+c.Dir)
	}
	if _, err := os.Stat("/sys/class/net/" + bridge); err == nil {
		left = append(left, "interface "+bridge)
	}
	for _, d := range c.hostDirsMade() {
		// A shared folder with something in it holds another program's files, not the cluster's.
		if entries, err := os.ReadDir(d.path); err == nil && (d.ours || len(entries) == 0) {
			left = append(left, "folder "+d.path)
		}
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			out, err := exec.Command(ipt, "-t", table, "-S").Output()
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "-N KUBE-") || strings.Contains(line, ruleComment) || strings.Contains(line, cniNetwork) {
					left = append(left, fmt.Sprintf("%s -t %s: %s", ipt, table, line))
				}
			}
		}
	}
	return left
}
