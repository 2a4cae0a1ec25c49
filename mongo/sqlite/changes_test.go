package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo/sqlite"
)

// TestFollowerMissesNothing publishes from many writers while a follower
// reads: it sees every change once, in revision order, with no gap.
func TestFollowerMissesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := sqlite.NewChangeLog(open(t), time.Now)
	f, err := log.Follow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := log.Publish(ctx, "patient", fmt.Sprintf("%d-%d", w, i), 1); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	seen := map[string]bool{}
	var last int64
	read := func() {
		cs, reload, err := f.Next(ctx)
		if err != nil || reload {
			t.Fatalf("next: reload %v, %v", reload, err)
		}
		for _, c := range cs {
			if c.Rev != last+1 {
				t.Fatalf("revision %d after %d", c.Rev, last)
			}
			last = c.Rev
			if seen[c.Key] {
				t.Fatalf("%s delivered twice", c.Key)
			}
			seen[c.Key] = true
		}
	}
	for len(seen) < writers*each {
		read()
		if t.Failed() {
			return
		}
	}
	wg.Wait()
	read()
	if len(seen) != writers*each {
		t.Fatalf("saw %d changes of %d", len(seen), writers*each)
	}
}

// TestFollowerBehindPruningReloads is a follower that could not read for
// longer than the log keeps changes: it is told to reload, never handed a
// log with a hole in it, and follows on from there.
func TestFollowerBehindPruningReloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	log := sqlite.NewChangeLog(open(t), clock)
	if err := log.Publish(ctx, "patient", "before", 1); err != nil {
		t.Fatal(err)
	}
	f, err := log.Follow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := log.Publish(ctx, "patient", fmt.Sprint(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if err := log.Publish(ctx, "patient", "after", 1); err != nil {
		t.Fatal(err)
	}
	if err := log.Prune(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if cs, reload, err := f.Next(ctx); err != nil || !reload || len(cs) != 0 {
		t.Fatalf("behind the pruned part: %d changes, reload %v, %v; want a reload", len(cs), reload, err)
	}
	if err := log.Publish(ctx, "patient", "next", 1); err != nil {
		t.Fatal(err)
	}
	cs, reload, err := f.Next(ctx)
	if err != nil || reload || len(cs) != 1 || cs[0].Key != "next" {
		t.Fatalf("after the reload: %v, reload %v, %v", cs, reload, err)
	}
}
