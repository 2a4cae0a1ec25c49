package services

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Contention is the jittered exponential back-off a change waits by before
// it tries again after another writer won the step it raced for: 5 ms at
// first, doubling up to 250 ms, each wait randomised by half its length so
// racing writers spread out.
type Contention struct{ b *backoff.ExponentialBackOff }

// NewContention starts a back-off for one change.
func NewContention() *Contention {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 5*time.Millisecond, 250*time.Millisecond
	return &Contention{b: b}
}

// Wait sleeps for the next interval; it returns false at once if ctx ends
// first, so retries stay within the request's deadline.
func (c *Contention) Wait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	t := time.NewTimer(c.b.NextBackOff())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
