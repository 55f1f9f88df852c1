package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/zerocodelab/lab/services/internal/config"
)

// Healthcheck asks the service's own /healthz, on the port of its ADDR, and fails unless it answers 200.
// Run calls it for the argument "healthcheck", which is what a container healthcheck runs:
// `/app/service healthcheck`.
func Healthcheck(ctx context.Context, service string, getenv func(string) string) error {
	cfg, err := config.Load(service, getenv)
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(cfg.Addr) // Load has validated it
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %d", resp.StatusCode)
	}
	return nil
}
