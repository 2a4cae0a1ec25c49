package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services/jobs"
)

// The runner runs against the embedded engine's store; its time is a clock
// the test moves, and the test waits for outcomes, never for a time to pass.

var start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock by d and fires what came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

type rig struct {
	store    *sqlite.JobStore
	clock    *fakeClock
	runner   *jobs.Runner
	outcomes chan seen
}

// seen is an outcome and the job as the store held it then: the runner
// claims nothing while it reports an outcome (Concurrency 1), so this is
// the job its attempt left behind.
type seen struct {
	jobs.Outcome
	After jobs.Job
}

const lease = 10 * time.Minute

func newRig(t *testing.T, cfg jobs.Config, kind string, h jobs.Handler) *rig {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "molar.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &rig{store: sqlite.NewJobStore(db), clock: &fakeClock{now: start}, outcomes: make(chan seen, 100)}
	cfg.Name, cfg.Clock, cfg.Lease = "runner", r.clock, lease
	cfg.Jitter = func() float64 { return 0.5 }
	cfg.Observe = func(o jobs.Outcome) {
		s := seen{Outcome: o}
		for _, state := range jobs.States {
			js, err := r.store.List(context.Background(), state, 10)
			if err != nil {
				t.Error(err)
			}
			for _, j := range js {
				if j.ID == o.Job.ID {
					s.After = j
				}
			}
		}
		r.outcomes <- s
	}
	r.runner = jobs.NewRunner(r.store, cfg)
	r.runner.Handle(kind, h)
	r.runner.Start()
	t.Cleanup(func() { r.runner.Close() })
	return r
}

// await returns the next outcome, moving the clock by step whenever none
// came for a while (zero: never), so a timer the runner waits on fires
// however slow the machine is.
func (r *rig) await(t *testing.T, step time.Duration) seen {
	t.Helper()
	limit := time.After(time.Minute)
	for {
		select {
		case o := <-r.outcomes:
			return o
		case <-time.After(20 * time.Millisecond):
			if step > 0 {
				r.clock.Advance(step)
			}
		case <-limit:
			t.Fatal("no outcome within a minute")
		}
	}
}

func (r *rig) enqueue(t *testing.T, id string, maxAttempts int) {
	t.Helper()
	j := jobs.New(id, "thumbnail", []byte(id), r.clock.Now())
	j.MaxAttempts = maxAttempts
	if err := r.runner.Enqueue(context.Background(), j); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) job(t *testing.T, state jobs.State) jobs.Job {
	t.Helper()
	js, err := r.store.List(context.Background(), state, 10)
	if err != nil || len(js) != 1 {
		t.Fatalf("%s jobs: %+v, %v", state, js, err)
	}
	return js[0]
}

// TestRunnerRetriesWithBackoff: a handler that fails twice, then succeeds,
// is retried after exponential back-offs and ends done; one that always
// fails ends dead after its attempts.
func TestRunnerRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	base, limit := time.Minute, 90*time.Second
	calls := 0
	r := newRig(t, jobs.Config{BackoffBase: base, BackoffCap: limit, Poll: time.Minute}, "thumbnail", func(_ context.Context, j jobs.Job) error {
		calls++
		if j.ID == "flaky" && j.Attempts == 3 {
			return nil
		}
		return errors.New("decoder busy")
	})
	r.enqueue(t, "flaky", 5)
	for attempt, want := range []time.Duration{jobs.Backoff(base, limit, 1, 0.5), jobs.Backoff(base, limit, 2, 0.5)} {
		o := r.await(t, 30*time.Second)
		if o.Result != jobs.Retrying || o.Err == nil {
			t.Fatalf("attempt %d: %+v", attempt+1, o)
		}
		q := o.After
		if got := q.RunAt.Sub(q.UpdateTime); q.State != jobs.Queued || got != want || q.LastError != "decoder busy" || q.Attempts != attempt+1 {
			t.Fatalf("after attempt %d: back-off %s (want %s), %+v", attempt+1, got, want, q)
		}
	}
	if want := []time.Duration{45 * time.Second, 67500 * time.Millisecond}; jobs.Backoff(base, limit, 1, 0.5) != want[0] || jobs.Backoff(base, limit, 2, 0.5) != want[1] {
		t.Fatalf("back-offs %s, %s, want %v", jobs.Backoff(base, limit, 1, 0.5), jobs.Backoff(base, limit, 2, 0.5), want)
	}
	if o := r.await(t, 30*time.Second); o.Result != jobs.Succeeded || o.Err != nil || o.Job.Attempts != 3 {
		t.Fatalf("third attempt: %+v", o)
	}
	if d := r.job(t, jobs.Done); d.Attempts != 3 {
		t.Fatalf("done: %+v", d)
	}

	r.enqueue(t, "broken", 2)
	if o := r.await(t, 30*time.Second); o.Result != jobs.Retrying {
		t.Fatalf("first attempt of broken: %+v", o)
	}
	if o := r.await(t, 30*time.Second); o.Result != jobs.Died {
		t.Fatalf("last attempt of broken: %+v", o)
	}
	if d := r.job(t, jobs.Dead); d.ID != "broken" || d.Attempts != 2 {
		t.Fatalf("dead: %+v", d)
	}
	s := r.runner.Stats()
	if s.Attempts[jobs.Retrying] != 3 || s.Attempts[jobs.Succeeded] != 1 || s.Attempts[jobs.Died] != 1 || calls != 5 {
		t.Fatalf("stats %+v after %d calls", s, calls)
	}
}

// TestRunnerPanicIsAFailure: a handler that panics fails its attempt, and
// the job is tried again.
func TestRunnerPanicIsAFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t, jobs.Config{BackoffBase: time.Second, Poll: time.Minute}, "thumbnail", func(_ context.Context, j jobs.Job) error {
		if j.Attempts == 1 {
			panic("corrupt image")
		}
		return nil
	})
	r.enqueue(t, "img", 5)
	o := r.await(t, time.Minute)
	if o.Result != jobs.Retrying || o.Err == nil || !strings.Contains(o.Err.Error(), "panic: corrupt image") {
		t.Fatalf("first attempt: %+v", o)
	}
	if q := o.After; q.State != jobs.Queued || !strings.Contains(q.LastError, "panic: corrupt image") {
		t.Fatalf("queued: %+v", q)
	}
	if o := r.await(t, time.Minute); o.Result != jobs.Succeeded {
		t.Fatalf("second attempt: %+v", o)
	}
}

// TestRunnerEnqueueWakes: a job enqueued through the runner starts without
// the clock moving to the next poll.
func TestRunnerEnqueueWakes(t *testing.T) {
	t.Parallel()
	r := newRig(t, jobs.Config{Poll: time.Hour}, "thumbnail", func(context.Context, jobs.Job) error { return nil })
	r.enqueue(t, "first", 5)
	if o := r.await(t, 0); o.Result != jobs.Succeeded {
		t.Fatalf("first: %+v", o)
	}
	// The runner now waits for an hour or a wake-up.
	r.enqueue(t, "second", 5)
	if o := r.await(t, 0); o.Result != jobs.Succeeded || o.Job.ID != "second" {
		t.Fatalf("second: %+v", o)
	}
}

// TestRunnerLeaseLost: when another worker takes over a running job (its
// lease passed while this runner could not renew it), the next heartbeat
// is refused, the handler's context is cancelled with ErrLeaseLost, and
// the runner writes nothing.
func TestRunnerLeaseLost(t *testing.T) {
	t.Parallel()
	started := make(chan jobs.Job, 1)
	cause := make(chan error, 1)
	r := newRig(t, jobs.Config{Poll: time.Hour}, "thumbnail", func(ctx context.Context, j jobs.Job) error {
		started <- j
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return ctx.Err()
	})
	r.enqueue(t, "img", 5)
	var held jobs.Job
	select {
	case held = <-started:
	case <-time.After(time.Minute):
		t.Fatal("the handler did not start within a minute")
	}
	thief, err := r.store.Claim(context.Background(), "thief", []string{"thumbnail"}, held.LeaseUntil, lease)
	if err != nil || thief == nil || thief.ID != "img" {
		t.Fatalf("take over: %+v, %v", thief, err)
	}
	if o := r.await(t, lease/3); o.Result != jobs.LeaseLost {
		t.Fatalf("outcome: %+v", o)
	}
	if err := <-cause; !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("handler cancelled by %v, want ErrLeaseLost", err)
	}
	if j := r.job(t, jobs.Running); j.Worker != "thief" || j.Attempts != 2 {
		t.Fatalf("after losing: %+v", j)
	}
}

// TestRunnerCloseStopsHandlers: Close cancels a running handler, waits for
// it and leaves the job claimed for its lease to pass.
func TestRunnerCloseStopsHandlers(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	r := newRig(t, jobs.Config{Poll: time.Hour}, "thumbnail", func(ctx context.Context, j jobs.Job) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	r.enqueue(t, "img", 5)
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatal("the handler did not start within a minute")
	}
	if err := r.runner.Close(); err != nil {
		t.Fatal(err)
	}
	if o := r.await(t, 0); o.Result != jobs.Stopped {
		t.Fatalf("outcome: %+v", o)
	}
	if j := r.job(t, jobs.Running); j.Attempts != 1 {
		t.Fatalf("after close: %+v", j)
	}
}
