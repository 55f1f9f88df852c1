// Command pause does nothing until SIGTERM or SIGINT. In compose it is PID 1 of the beyla lane's PID
// namespace, which Beyla and the lane's four services join: when PID 1 of a namespace exits the kernel
// kills every process in it, so the namespace belongs to this process, which never fails, and not to
// Beyla, which may.
package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/zerocodelab/lab/services/internal/cli"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, _ func(string) string, stdout io.Writer) error {
	if len(args) > 1 && args[1] == "healthcheck" {
		return nil // the image's HEALTHCHECK: running is all this process does
	}
	logger := slog.New(slog.NewJSONHandler(stdout, nil)).With("service", "pause")
	logger.Info("holding the PID namespace")
	<-ctx.Done()
	logger.Info("stopped")
	return nil
}
