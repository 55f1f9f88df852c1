package wait

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEventuallyReturnsOnceTheCheckPasses(t *testing.T) {
	calls := 0
	err := Eventually(context.Background(), "three calls", time.Second, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Eventually = %v after %d calls; want nil after 3", err, calls)
	}
}

func TestEventuallyNamesWhatTimedOutAndWhy(t *testing.T) {
	err := Eventually(context.Background(), "the answer", 30*time.Millisecond, 5*time.Millisecond, func() error {
		return errors.New("still 41")
	})
	if err == nil || !strings.Contains(err.Error(), "the answer") || !strings.Contains(err.Error(), "still 41") {
		t.Fatalf("Eventually = %v; want an error naming what was awaited and the last failure", err)
	}
}

func TestEventuallyGivesUpAtOnceOnStop(t *testing.T) {
	calls := 0
	exited := errors.New("it exited: exit status 1")
	start := time.Now()
	err := Eventually(context.Background(), "the loaded line", time.Minute, time.Millisecond, func() error {
		calls++
		if calls == 2 {
			return Stop(exited)
		}
		return errors.New("not yet")
	})
	if !errors.Is(err, exited) || !strings.Contains(err.Error(), "the loaded line") || calls != 2 || time.Since(start) > 10*time.Second {
		t.Fatalf("Eventually = %v after %d calls; want the stop's error after 2", err, calls)
	}
}
