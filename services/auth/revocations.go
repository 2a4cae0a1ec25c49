package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Revocations knows which sessions have ended, so that access tokens of an
// ended session stop working before they expire and its streams close. It
// learns of revocations made in this process at once and of those made by
// other processes on the same database by polling.
type Revocations struct {
	store  SessionStore
	window time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu      sync.Mutex
	revoked map[string]time.Time
	waiters map[string]map[chan struct{}]struct{}
}

// NewRevocations returns Revocations that remember ended sessions for window
// (the access token lifetime plus leeway: after that their tokens are dead
// anyway).
func NewRevocations(store SessionStore, window time.Duration, now func() time.Time, logger *slog.Logger) *Revocations {
	return &Revocations{store: store, window: window, now: now, logger: logger,
		revoked: map[string]time.Time{}, waiters: map[string]map[chan struct{}]struct{}{}}
}

// Revoked reports whether session id has ended.
func (r *Revocations) Revoked(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.revoked[id]
	return ok
}

// Add records that session id has ended and wakes its watchers.
func (r *Revocations) Add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(id, r.now())
}

func (r *Revocations) addLocked(id string, at time.Time) {
	if _, ok := r.revoked[id]; ok {
		return
	}
	r.revoked[id] = at
	for ch := range r.waiters[id] {
		close(ch)
	}
	delete(r.waiters, id)
}

// Watch returns a channel closed when session id ends, and a function to
// stop watching.
func (r *Revocations) Watch(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.revoked[id]; ok {
		close(ch)
		return ch, func() {}
	}
	if r.waiters[id] == nil {
		r.waiters[id] = map[chan struct{}]struct{}{}
	}
	r.waiters[id][ch] = struct{}{}
	return ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.waiters[id], ch)
		if len(r.waiters[id]) == 0 {
			delete(r.waiters, id)
		}
	}
}

// Sync loads revocations from the store and forgets old ones.
func (r *Revocations) Sync(ctx context.Context) error {
	since := r.now().Add(-r.window)
	ids, err := r.store.RevokedSince(ctx, since)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.addLocked(id, r.now())
	}
	for id, at := range r.revoked {
		if at.Before(since.Add(-time.Minute)) {
			delete(r.revoked, id)
		}
	}
	return nil
}
