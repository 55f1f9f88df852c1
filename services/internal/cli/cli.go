// Package cli is the main function every binary of the shop shares: it runs a run function with the
// process's arguments, environment and stdout, stops it on SIGTERM or SIGINT, and exits 1 on error.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Run is what a binary does, with its dependencies passed in so that tests can call it directly.
type Run func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error

// Main runs run until it returns or a signal asks it to stop, and exits 1 with its error.
func Main(run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
