// Package wait is the one way the lab's tools and tests wait for something to become true.
package wait

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Eventually calls check until it returns nil, ctx ends or timeout passes, pausing every between calls,
// or until check returns an error made by Stop: what it awaits cannot happen any more (the process it
// waits for has exited). The error names what was awaited and carries check's last error.
func Eventually(ctx context.Context, what string, timeout, every time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	for {
		err := check()
		var stop stopped
		switch {
		case err == nil:
			return nil
		case errors.As(err, &stop):
			return fmt.Errorf("%s: %w", what, stop.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %s: %w", what, time.Since(start).Round(time.Second), err)
		case <-time.After(every):
		}
	}
}

// Stop wraps err so that Eventually returns it at once instead of calling check again.
func Stop(err error) error { return stopped{err} }

type stopped struct{ err error }

func (s stopped) Error() string { return s.err.Error() }
func (s stopped) Unwrap() error { return s.err }
