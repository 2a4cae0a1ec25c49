package jobs

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molar-dental/molar/services"
)

// Handler does the work of one job. Its ctx is cancelled, with ErrLeaseLost
// as the cause, when the lease passed to another worker (the work will be
// done there; stop and write nothing), and when the runner closes. An error
// or a panic is a failed attempt.
type Handler func(ctx context.Context, j Job) error

// ErrLeaseLost is the cause of a handler's cancellation when its lease was
// lost.
var ErrLeaseLost = errors.New("the job's lease was lost")

// Clock is the runner's time: now, and a channel that receives once d has
// passed. Tests give one they move by hand.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config tunes a Runner; every zero field takes its default.
type Config struct {
	// Name identifies this process in the workers it claims as (a claim is
	// Name/n); default the host name, the process id and a random suffix.
	Name string
	// Lease is how long a claim lasts without a heartbeat; default 1 minute.
	Lease time.Duration
	// Heartbeat is how often a running job's lease is extended; default a
	// third of Lease.
	Heartbeat time.Duration
	// Poll is how often the store is asked for due jobs when nothing woke
	// the runner; default 5 seconds. Enqueue through the runner wakes it at
	// once.
	Poll time.Duration
	// Concurrency is how many jobs run at once; default 1.
	Concurrency int
	// BackoffBase and BackoffCap bound the wait before a failed job is tried
	// again (see Backoff); default 10 seconds and 1 hour.
	BackoffBase, BackoffCap time.Duration
	// Clock is the time; default the system's.
	Clock Clock
	// Jitter returns a number in [0, 1) that spreads retries; default random.
	Jitter func() float64
	// Observe, if set, is told every attempt's outcome as it ends.
	Observe func(Outcome)
	// Logger logs failures of the store; default slog's.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = crand.Read(b)
		c.Name = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = c.Lease / 3
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 10 * time.Second
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = time.Hour
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Backoff is the wait before trying again a job that failed its attempt-th
// attempt: base doubled for each attempt before, at most limit, of which
// the second half is scaled by jitter (in [0, 1)) so that jobs failing
// together do not all come back together.
func Backoff(base, limit time.Duration, attempt int, jitter float64) time.Duration {
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + time.Duration(jitter*float64(d/2))
}

// Result is how an attempt ended.
type Result uint8

// The results of an attempt.
const (
	// Succeeded: the job is done.
	Succeeded Result = iota + 1
	// Retrying: it failed and is queued again after its back-off.
	Retrying
	// Died: it failed its last attempt and is dead.
	Died
	// LeaseLost: another worker holds it now; nothing was written.
	LeaseLost
	// Stopped: the runner closed under it; nothing was written, and the job
	// is due again when its lease passes.
	Stopped
)

// String names the result for logs.
func (r Result) String() string {
	switch r {
	case Succeeded:
		return "succeeded"
	case Retrying:
		return "retrying"
	case Died:
		return "died"
	case LeaseLost:
		return "lease_lost"
	case Stopped:
		return "stopped"
	}
	return "unknown"
}

// Outcome is the end of one attempt.
type Outcome struct {
	Job    Job
	Result Result
	// Err is the handler's error (a panic becomes one), or the store's.
	Err error
	// Duration is how long the handler ran, by the runner's clock.
	Duration time.Duration
}

// Stats sums the outcomes of a runner, for its metrics.
type Stats struct {
	// Attempts counts ended attempts by result.
	Attempts map[Result]int
	// Busy is the time handlers ran in all; Longest the longest one.
	Busy, Longest time.Duration
}

// Runner claims due jobs from a Store and runs their handlers, renewing each
// lease while its handler runs.
type Runner struct {
	store    Store
	cfg      Config
	handlers map[string]Handler
	kinds    []string
	// ctx is the parent of every handler's context; Close cancels it.
	ctx     context.Context
	cancel  context.CancelFunc
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started atomic.Bool
	seq     atomic.Int64
	wg      sync.WaitGroup

	mu    sync.Mutex
	stats Stats
}

// NewRunner returns a runner over store; register handlers with Handle,
// then Start it.
func NewRunner(store Store, cfg Config) *Runner {
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{store: store, cfg: cfg.withDefaults(), handlers: map[string]Handler{}, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), stats: Stats{Attempts: map[Result]int{}}}
}

// Handle registers h for the jobs of kind. Call it before Start.
func (r *Runner) Handle(kind string, h Handler) {
	if _, ok := r.handlers[kind]; !ok {
		r.kinds = append(r.kinds, kind)
	}
	r.handlers[kind] = h
}

// Start starts claiming jobs in the background until Close.
func (r *Runner) Start() {
	if r.started.CompareAndSwap(false, true) {
		go r.loop()
	}
}

// Enqueue adds j to the store and wakes the runner, so a job of this
// process starts without waiting for the next poll.
func (r *Runner) Enqueue(ctx context.Context, j Job) error {
	if err := r.store.Enqueue(ctx, j); err != nil {
		return err
	}
	r.Wake()
	return nil
}

// Wake makes the runner look for due jobs now; call it after enqueueing a
// job by other means (inside another store's commit).
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Close stops claiming, cancels the handlers still running and waits for
// them to return. A job whose handler returned because of it stays claimed
// until its lease passes, then is due again.
func (r *Runner) Close() error {
	r.once.Do(func() {
		close(r.stop)
		r.cancel()
	})
	if r.started.Load() {
		<-r.done
	}
	r.wg.Wait()
	return nil
}

// Stats returns the sums of the outcomes so far.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Attempts = make(map[Result]int, len(r.stats.Attempts))
	for k, v := range r.stats.Attempts {
		s.Attempts[k] = v
	}
	return s
}

func (r *Runner) loop() {
	defer close(r.done)
	slots := make(chan struct{}, r.cfg.Concurrency)
	for {
		select {
		case slots <- struct{}{}:
		case <-r.stop:
			return
		}
		worker := fmt.Sprintf("%s/%d", r.cfg.Name, r.seq.Add(1))
		j, err := r.store.Claim(r.ctx, worker, r.kinds, r.cfg.Clock.Now(), r.cfg.Lease)
		if err != nil && r.ctx.Err() == nil {
			r.cfg.Logger.Error("jobs: claim", "err", err)
		}
		if j != nil {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer func() { <-slots }()
				r.run(*j)
			}()
			continue // perhaps more are due
		}
		<-slots
		select {
		case <-r.wake:
		case <-r.cfg.Clock.After(r.cfg.Poll):
		case <-r.stop:
			return
		}
	}
}

// run runs one claimed job to its outcome and commits it.
func (r *Runner) run(j Job) {
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	// Writes after the handler must land even while the runner closes.
	store := context.WithoutCancel(r.ctx)

	beating := make(chan struct{})
	beaten := make(chan struct{})
	go func() {
		defer close(beaten)
		r.heartbeat(store, j, beating, cancel)
	}()
	start := r.cfg.Clock.Now()
	err := call(ctx, r.handlers[j.Kind], j)
	took := r.cfg.Clock.Now().Sub(start)
	close(beating)
	<-beaten

	now := r.cfg.Clock.Now()
	out := Outcome{Job: j, Err: err, Duration: took}
	switch {
	case errors.Is(context.Cause(ctx), ErrLeaseLost):
		out.Result = LeaseLost
	case err != nil && r.ctx.Err() != nil:
		out.Result = Stopped
	case err == nil:
		out.Result = Succeeded
		out.Err = r.store.Complete(store, j.ID, j.Worker, now)
	case j.Attempts >= j.MaxAttempts:
		out.Result = Died
		out.Err = errors.Join(err, r.store.Fail(store, j.ID, j.Worker, err.Error(), now, true, now))
	default:
		out.Result = Retrying
		retry := now.Add(Backoff(r.cfg.BackoffBase, r.cfg.BackoffCap, j.Attempts, r.cfg.Jitter()))
		out.Err = errors.Join(err, r.store.Fail(store, j.ID, j.Worker, err.Error(), retry, false, now))
	}
	if out.Result <= Died && services.ErrorCode(out.Err) == services.FailedPrecondition {
		out.Result = LeaseLost // the lease passed between the last heartbeat and the end
	} else if out.Err != nil && out.Result == Succeeded {
		r.cfg.Logger.Error("jobs: complete", "job", j.ID, "err", out.Err)
	}
	r.record(out)
}

// heartbeat extends j's lease every Heartbeat until beating closes; when
// the store says the lease is no longer j's, it cancels the handler.
// Other errors are logged and the next beat tries again.
func (r *Runner) heartbeat(ctx context.Context, j Job, beating <-chan struct{}, cancel context.CancelCauseFunc) {
	for {
		select {
		case <-beating:
			return
		case <-r.cfg.Clock.After(r.cfg.Heartbeat):
		}
		err := r.store.Heartbeat(ctx, j.ID, j.Worker, r.cfg.Clock.Now().Add(r.cfg.Lease))
		switch services.ErrorCode(err) {
		case services.FailedPrecondition, services.NotFound:
			cancel(ErrLeaseLost)
			return
		}
		if err != nil {
			r.cfg.Logger.Warn("jobs: heartbeat", "job", j.ID, "err", err)
		}
	}
}

// call runs h, turning a panic into an error.
func call(ctx context.Context, h Handler, j Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return h(ctx, j)
}

func (r *Runner) record(o Outcome) {
	r.mu.Lock()
	r.stats.Attempts[o.Result]++
	r.stats.Busy += o.Duration
	r.stats.Longest = max(r.stats.Longest, o.Duration)
	r.mu.Unlock()
	if r.cfg.Observe != nil {
		r.cfg.Observe(o)
	}
}
