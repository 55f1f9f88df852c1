// Package wait is the one way the lab's tools and tests wait for something to become true.
package wait

import (
	"context"
	"fmt"
	"time"
)

// Eventually calls check until it returns nil, ctx ends or timeout passes, pausing every between calls.
// The error names what was awaited and carries check's last error.
func Eventually(ctx context.Context, what string, timeout, every time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %s: %w", what, time.Since(start).Round(time.Second), err)
		case <-time.After(every):
		}
	}
}
