// Command orders runs the orders service of the shop. Configuration comes from environment variables
// (see README.md); SIGTERM or SIGINT stops it gracefully.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/zerocodelab/lab/services/internal/app"
	"github.com/zerocodelab/lab/services/internal/orders"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	return app.Run(ctx, app.Spec{Service: "orders", Build: orders.Build}, getenv, stdout)
}
