package gateway

import (
	"context"
	"sync"
)

// keyLocks lets one checkout per idempotency key run at a time in this gateway, so that concurrent
// retries do not race each other through the saga. Across gateways the holds keep it safe: a release
// names its hold, and orders refuses an order for a hold inventory has voided.
type keyLocks struct {
	mu   sync.Mutex
	keys map[string]*keyLock
}

type keyLock struct {
	sem   chan struct{} // holds one token while a checkout runs
	users int           // checkouts running or waiting; the entry goes when the last one leaves
}

func newKeyLocks() *keyLocks { return &keyLocks{keys: map[string]*keyLock{}} }

// lock waits until no other checkout holds key, or until ctx is done.
func (l *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	k := l.keys[key]
	if k == nil {
		k = &keyLock{sem: make(chan struct{}, 1)}
		l.keys[key] = k
	}
	k.users++
	l.mu.Unlock()

	leave := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if k.users--; k.users == 0 {
			delete(l.keys, key)
		}
	}
	select {
	case k.sem <- struct{}{}:
		return func() { <-k.sem; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}
