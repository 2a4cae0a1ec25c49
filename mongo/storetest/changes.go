package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// ChangeLog is an engine's change log as the contract sees it: entries are
// told apart by key, revisions by number.
type ChangeLog struct {
	Publish func(ctx context.Context, kind, key string) error
	Prune   func(ctx context.Context, keep time.Duration) error
	Oldest  func(ctx context.Context) (int64, error)
	// Follow returns a follower that has seen everything so far; next
	// returns the revisions and keys after what it returned last, or
	// reload when some of them are gone.
	Follow func(ctx context.Context) (next func(ctx context.Context) (revs []int64, keys []string, reload bool, err error), err error)
}

// ChangeEngine opens a fresh change log on a fresh database whose clock is
// now.
type ChangeEngine func(t *testing.T, now func() time.Time) ChangeLog

// TestChanges runs the change-log contract against an engine.
func TestChanges(t *testing.T, open ChangeEngine) {
	for name, test := range map[string]func(*testing.T, ChangeEngine){
		"follower misses nothing":            followerMissesNothing,
		"follower behind the pruned reloads": followerBehindPruningReloads,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// followerMissesNothing publishes from many writers while a follower reads:
// it sees every change once, in revision order, with no gap.
func followerMissesNothing(t *testing.T, open ChangeEngine) {
	ctx := context.Background()
	log := open(t, time.Now)
	next, err := log.Follow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := log.Publish(ctx, "patient", fmt.Sprintf("%d-%d", w, i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	seen := map[string]bool{}
	var last int64
	read := func() {
		revs, keys, reload, err := next(ctx)
		if err != nil || reload {
			t.Fatalf("next: reload %v, %v", reload, err)
		}
		for i, rev := range revs {
			if rev != last+1 {
				t.Fatalf("revision %d after %d", rev, last)
			}
			last = rev
			if seen[keys[i]] {
				t.Fatalf("%s delivered twice", keys[i])
			}
			seen[keys[i]] = true
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		read()
		if t.Failed() {
			return
		}
	}
	read()
	if len(seen) != writers*each {
		t.Fatalf("saw %d changes of %d", len(seen), writers*each)
	}
}

// followerBehindPruningReloads is a follower that could not read for longer
// than the log keeps changes: it is told to reload, never handed a log with
// a hole in it, and follows on from there.
func followerBehindPruningReloads(t *testing.T, open ChangeEngine) {
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	log := open(t, clock)
	if err := log.Publish(ctx, "patient", "before"); err != nil {
		t.Fatal(err)
	}
	next, err := log.Follow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := log.Publish(ctx, "patient", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if err := log.Publish(ctx, "patient", "after"); err != nil {
		t.Fatal(err)
	}
	if err := log.Prune(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if oldest, err := log.Oldest(ctx); err != nil || oldest <= 2 {
		t.Fatalf("oldest revision after pruning: %d, %v", oldest, err)
	}
	if revs, _, reload, err := next(ctx); err != nil || !reload || len(revs) != 0 {
		t.Fatalf("behind the pruned part: %d changes, reload %v, %v; want a reload", len(revs), reload, err)
	}
	if err := log.Publish(ctx, "patient", "next"); err != nil {
		t.Fatal(err)
	}
	_, keys, reload, err := next(ctx)
	if err != nil || reload || len(keys) != 1 || keys[0] != "next" {
		t.Fatalf("after the reload: %v, reload %v, %v", keys, reload, err)
	}
}
