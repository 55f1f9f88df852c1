package cluster

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// containerdServes says whether the private containerd answers on its socket.
func (c *Cluster) containerdServes(ctx context.Context) error {
	return run(ctx, "ctr", "--address", c.containerdSocket(), "version")
}

// LoadImages copies images from Docker's engine, where make images builds them, into the cluster's
// containerd (namespace k8s.io, the CRI's), since nothing can be pulled here.
func (c *Cluster) LoadImages(ctx context.Context, images ...string) error {
	start := time.Now()
	save := exec.CommandContext(ctx, "docker", append([]string{"save"}, images...)...)
	load := exec.CommandContext(ctx, "ctr", "--address", c.containerdSocket(), "-n", "k8s.io", "images", "import", "-")
	pipe, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	var saveErr, loadOut strings.Builder
	save.Stderr = &saveErr
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := save.Start(); err != nil {
		return fmt.Errorf("docker save: %w", err)
	}
	if err := load.Run(); err != nil {
		io.Copy(io.Discard, pipe)
		save.Wait()
		return fmt.Errorf("ctr images import: %w: %s", err, strings.TrimSpace(loadOut.String()))
	}
	if err := save.Wait(); err != nil {
		return fmt.Errorf("docker save %s: %w: %s (make images builds them)", strings.Join(images, " "), err, strings.TrimSpace(saveErr.String()))
	}
	c.Log.Info("images loaded into the cluster's containerd", "images", len(images), "took", time.Since(start).Round(time.Millisecond))
	return nil
}
