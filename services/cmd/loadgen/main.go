// Command loadgen keeps the shop's lanes busy with every scenario. Configuration: TARGETS
// (lane=gateway URL, comma-separated), RATE (requests per second per lane, default 2), DURATION
// (0, the default, runs until SIGTERM).
package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/zerocodelab/lab/services/internal/cli"
	"github.com/zerocodelab/lab/services/internal/loadgen"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 && args[1] == "healthcheck" {
		return nil // the image's HEALTHCHECK: a client has no endpoint to ask; running is healthy
	}
	cfg, err := loadgen.LoadConfig(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, nil)).With("service", "loadgen")
	logger.Info("sending", "targets", cfg.Targets, "rate_per_lane", cfg.Rate, "duration", cfg.Duration.String())
	loadgen.Run(ctx, cfg, &http.Client{Timeout: 10 * time.Second}, logger)
	logger.Info("stopped")
	return nil
}
