// Command gateway runs the gateway service of the shop. Configuration comes from environment variables
// (see README.md); SIGTERM or SIGINT stops it gracefully. "gateway healthcheck" asks a running
// instance's /healthz and exits non-zero unless it is healthy (for container healthchecks).
package main

import (
	"context"
	"io"

	"github.com/zerocodelab/lab/services/internal/app"
	"github.com/zerocodelab/lab/services/internal/cli"
	"github.com/zerocodelab/lab/services/internal/shop"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return app.Run(ctx, shop.Gateway, args, getenv, stdout)
}
