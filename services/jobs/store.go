package jobs

import (
	"context"
	"time"
)

// Store keeps the jobs. Each method is one atomic change decided by the
// rules of Job; of any number of processes calling Claim at once, one gets
// each attempt of a job, and a call made by a worker that lost its lease
// changes nothing.
type Store interface {
	// Enqueue adds j (see Job.Normalized). It is idempotent by ID: a job
	// that already exists is left as it is, whatever its state. Invalid for
	// a job without an id, a kind or a creation time.
	Enqueue(ctx context.Context, j Job) error
	// Claim takes the due job of one of kinds with the earliest RunAt (an
	// expired lease counts from when it passed) for worker until now+lease,
	// and returns it; nil, nil when nothing is due. worker should name
	// this one claim, so a later claim of the same process is told apart.
	Claim(ctx context.Context, worker string, kinds []string, now time.Time, lease time.Duration) (*Job, error)
	// Heartbeat extends worker's lease to until. FailedPrecondition if
	// worker no longer holds it, NotFound for an unknown job.
	Heartbeat(ctx context.Context, id, worker string, until time.Time) error
	// Complete marks the job done. FailedPrecondition if worker no longer
	// holds its lease, NotFound for an unknown job.
	Complete(ctx context.Context, id, worker string, now time.Time) error
	// Fail records a failed attempt: queued again for retryAt, or dead.
	// FailedPrecondition if worker no longer holds its lease, NotFound for
	// an unknown job.
	Fail(ctx context.Context, id, worker, msg string, retryAt time.Time, dead bool, now time.Time) error
	// List returns up to limit jobs in state, earliest RunAt first.
	List(ctx context.Context, state State, limit int) ([]Job, error)
	// Retry queues a dead job again with its attempts reset, for the owner.
	// FailedPrecondition if it is not dead, NotFound for an unknown job.
	Retry(ctx context.Context, id string, now time.Time) error
	// Depth counts the jobs in each state.
	Depth(ctx context.Context) (map[State]int, error)
}
