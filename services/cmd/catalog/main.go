// Command catalog runs the catalog service of the shop. Configuration comes from environment variables
// (see README.md); SIGTERM or SIGINT stops it gracefully. "catalog healthcheck" asks a running
// instance's /healthz and exits non-zero unless it is healthy (for container healthchecks).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/zerocodelab/lab/services/internal/app"
	"github.com/zerocodelab/lab/services/internal/catalog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	spec := app.Spec{Service: "catalog", Build: catalog.Build}
	if len(args) > 1 && args[1] == "healthcheck" {
		return app.Healthcheck(ctx, spec.Service, getenv)
	}
	return app.Run(ctx, spec, getenv, stdout)
}
