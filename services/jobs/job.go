// Package jobs is the durable queue of background work (thumbnails first):
// jobs kept in the database so they survive a restart, claimed with a lease
// that the holder renews while it works, retried with exponential back-off,
// and left dead, for the owner to see and retry, after too many failures.
//
// The rules of every change of a job are the methods of Job below; each
// engine's Store reads a job, lets these methods decide and commits the
// result in one atomic step, so both engines behave alike.
package jobs

import (
	"time"

	"github.com/molar-dental/molar/services"
)

// State is where a job is in its life.
type State uint8

// The states of a job.
const (
	// Queued: waiting for RunAt, then for a worker to claim it.
	Queued State = iota + 1
	// Running: claimed by Worker until LeaseUntil; due again once that passes.
	Running
	// Done: its handler succeeded. Final.
	Done
	// Dead: it failed MaxAttempts times; it waits for the owner to Retry it.
	Dead
)

// States lists every state, in order.
var States = []State{Queued, Running, Done, Dead}

// String names the state as stored.
func (s State) String() string {
	switch s {
	case Queued:
		return "queued"
	case Running:
		return "running"
	case Done:
		return "done"
	case Dead:
		return "dead"
	}
	return "unknown"
}

// ParseState is the inverse of String; zero for a name it does not know.
func ParseState(name string) State {
	for _, s := range States {
		if s.String() == name {
			return s
		}
	}
	return 0
}

// DefaultMaxAttempts is how many times a job is tried when it says nothing.
const DefaultMaxAttempts = 5

// Job is one piece of background work.
type Job struct {
	// ID identifies the job and makes enqueueing idempotent: derive it from
	// what the job is for (e.g. "thumbnail:<image id>"), so a recovery pass
	// that enqueues again finds the job already there.
	ID string
	// Kind selects the handler.
	Kind string
	// Payload is the handler's input, opaque to the queue.
	Payload []byte
	State   State
	// Attempts counts the claims so far, the current one included.
	Attempts    int
	MaxAttempts int
	// RunAt is when a queued job is due.
	RunAt     time.Time
	LastError string
	// Worker names the holder of the current lease (one claim).
	Worker     string
	LeaseUntil time.Time
	CreateTime time.Time
	UpdateTime time.Time
}

// New returns a queued job due at now.
func New(id, kind string, payload []byte, now time.Time) Job {
	return Job{ID: id, Kind: kind, Payload: payload, CreateTime: now, RunAt: now}
}

// Normalized returns j as Enqueue stores it: queued, with the default
// number of attempts, due at its creation unless it says otherwise, times
// to the millisecond (what both engines keep). Invalid without an ID, a kind
// or a creation time.
func (j Job) Normalized() (Job, error) {
	if j.ID == "" || j.Kind == "" || j.CreateTime.IsZero() {
		return Job{}, services.Errorf(services.Invalid, "a job needs an id, a kind and a creation time")
	}
	if j.MaxAttempts <= 0 {
		j.MaxAttempts = DefaultMaxAttempts
	}
	if j.RunAt.IsZero() {
		j.RunAt = j.CreateTime
	}
	j.State, j.Attempts, j.Worker, j.LeaseUntil, j.LastError = Queued, 0, "", time.Time{}, ""
	j.CreateTime, j.RunAt = Millis(j.CreateTime), Millis(j.RunAt)
	j.UpdateTime = j.CreateTime
	return j, nil
}

// Millis is t in UTC to the millisecond, the precision both engines store.
func Millis(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

// Due reports whether a claim at now may take j: queued and its time has
// come, or running and its lease has passed (its holder stopped or hangs).
func (j Job) Due(now time.Time) bool {
	switch j.State {
	case Queued:
		return !j.RunAt.After(now)
	case Running:
		return !j.LeaseUntil.After(now)
	}
	return false
}

// DueAt is when j becomes due: its RunAt when queued, the end of its lease
// when running; zero when it never will (done or dead). Claims take jobs in
// this order.
func (j Job) DueAt() time.Time {
	switch j.State {
	case Queued:
		return j.RunAt
	case Running:
		return j.LeaseUntil
	}
	return time.Time{}
}

// Claimed is j after worker claims it at now for lease. A job whose lease
// passed after its last allowed attempt is dead instead: a job that stops
// its worker every time (a crash, an endless loop) ends like one that fails.
// The caller checks Due first.
func (j Job) Claimed(worker string, now time.Time, lease time.Duration) Job {
	now = Millis(now)
	if j.State == Running && j.Attempts >= j.MaxAttempts {
		j.State, j.LastError, j.Worker, j.LeaseUntil = Dead, "the lease of its last attempt passed ("+j.Worker+")", "", time.Time{}
		j.UpdateTime = now
		return j
	}
	j.State, j.Worker, j.LeaseUntil, j.UpdateTime = Running, worker, now.Add(lease), now
	j.Attempts++
	return j
}

// Held returns nil if worker holds j's lease, FailedPrecondition if it does
// not (the lease passed to another worker, or the job ended).
func (j Job) Held(worker string) error {
	if j.State != Running || j.Worker != worker {
		return services.Errorf(services.FailedPrecondition, "job %s is no longer held by %s", j.ID, worker)
	}
	return nil
}

// Renewed is j with its lease extended to until (a renewal is not an
// update of the job: UpdateTime stays).
func (j Job) Renewed(until time.Time) Job {
	j.LeaseUntil = Millis(until)
	return j
}

// Completed is j done at now.
func (j Job) Completed(now time.Time) Job {
	j.State, j.Worker, j.LeaseUntil, j.LastError, j.UpdateTime = Done, "", time.Time{}, "", Millis(now)
	return j
}

// Failed is j after an attempt failed with msg: queued again for retryAt,
// or dead.
func (j Job) Failed(msg string, retryAt time.Time, dead bool, now time.Time) Job {
	j.State, j.Worker, j.LeaseUntil, j.LastError, j.UpdateTime = Queued, "", time.Time{}, msg, Millis(now)
	j.RunAt = Millis(retryAt)
	if dead {
		j.State = Dead
	}
	return j
}

// Retried is a dead j queued again at now with its attempts reset, as the
// owner asks; FailedPrecondition for a job that is not dead.
func (j Job) Retried(now time.Time) (Job, error) {
	if j.State != Dead {
		return Job{}, services.Errorf(services.FailedPrecondition, "job %s is %s, not dead", j.ID, j.State)
	}
	j.State, j.Attempts, j.RunAt, j.UpdateTime = Queued, 0, Millis(now), Millis(now)
	return j, nil
}

// Decision decides what a job becomes on its current state, or refuses;
// each engine runs one on the job as it reads it in the change's commit.
type Decision func(Job) (Job, error)

// Renew is a heartbeat of worker: its lease extended to until.
func Renew(worker string, until time.Time) Decision {
	return held(worker, func(j Job) Job { return j.Renewed(until) })
}

// Complete is worker's report of success.
func Complete(worker string, now time.Time) Decision {
	return held(worker, func(j Job) Job { return j.Completed(now) })
}

// Fail is worker's report of a failed attempt (see Failed).
func Fail(worker, msg string, retryAt time.Time, dead bool, now time.Time) Decision {
	return held(worker, func(j Job) Job { return j.Failed(msg, retryAt, dead, now) })
}

// Retry is the owner's retry of a dead job (see Retried).
func Retry(now time.Time) Decision { return func(j Job) (Job, error) { return j.Retried(now) } }

// held applies then to a job worker holds, and refuses any other.
func held(worker string, then func(Job) Job) Decision {
	return func(j Job) (Job, error) {
		if err := j.Held(worker); err != nil {
			return Job{}, err
		}
		return then(j), nil
	}
}
