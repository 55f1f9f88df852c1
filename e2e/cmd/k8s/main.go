// Command k8s starts and stops the lab's single-node Kubernetes cluster on this host (make k8s-up,
// make k8s-down): etcd, the control plane, a private containerd with its CRI plugin, kubelet,
// kube-proxy and CoreDNS, from the programs e2e/cluster/build.sh built. Run as root from the
// repository's root.
//
//	k8s up            start the cluster; the kubeconfig is build/k8s/kubeconfig
//	k8s deploy        render k8s/ for what the engine has, load its images, apply it, wait
//	k8s down          stop it and remove all it left (pods, mounts, rules, state)
//	k8s load IMAGE... copy images from Docker's engine into the cluster's containerd
//	k8s status        the daemons that run and whatever of the cluster is left on this host
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/zerocodelab/lab/e2e/cluster"
	"github.com/zerocodelab/lab/e2e/native"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "k8s:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: k8s up | deploy | down | load IMAGE... | status")
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	c := cluster.New(root, slog.New(slog.NewTextHandler(stdout, nil)))
	switch args[0] {
	case "up":
		v, err := versions(root)
		if err != nil {
			return err
		}
		return c.Up(ctx, v)
	case "deploy":
		s, err := cluster.ShowcaseFor(ctx, root)
		if err != nil {
			return err
		}
		return c.Deploy(ctx, s)
	case "down":
		return c.Down(ctx)
	case "load":
		if len(args) < 2 {
			return errors.New("usage: k8s load IMAGE...")
		}
		return c.LoadImages(ctx, args[1:]...)
	case "status":
		fmt.Fprintf(stdout, "running: %s\n", strings.Join(c.Running(), ", "))
		for _, l := range c.Leftovers() {
			fmt.Fprintln(stdout, "present:", l)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q: up, deploy, down, load or status", args[0])
}

// versions reads the cluster's pinned image versions from .env.
func versions(root string) (cluster.Versions, error) {
	env, err := native.DotEnv(root)
	if err != nil {
		return cluster.Versions{}, err
	}
	v := cluster.Versions{Pause: env["PAUSE_VERSION"], CoreDNS: env["COREDNS_VERSION"]}
	if v.Pause == "" || v.CoreDNS == "" {
		return v, errors.New(".env pins no PAUSE_VERSION or COREDNS_VERSION")
	}
	return v, nil
}
