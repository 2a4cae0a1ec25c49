package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/molar-dental/molar/services/jobs"
)

// JobStore keeps the queue of background jobs, one row per job. Every
// method is one transaction, and a transaction holds the write lock from
// its first statement (BEGIN IMMEDIATE), so the read of a job and the
// write of what the rules of jobs.Job decided cannot interleave with
// another process's: of any number of claims racing, each attempt goes to
// one. The commit is the change; a crash before it leaves the job as it
// was, after it the change is whole. Nothing derives from a job, so
// nothing is ever pending.
type JobStore struct {
	db *DB
}

var _ jobs.Store = (*JobStore)(nil)

// NewJobStore returns the job store of db.
func NewJobStore(db *DB) *JobStore { return &JobStore{db: db} }

const jobColumns = `id, kind, payload, state, attempts, max_attempts, run_at, last_error, worker, lease_until, created, updated`

// Enqueue implements jobs.Store.
func (s *JobStore) Enqueue(ctx context.Context, j jobs.Job) error {
	return s.db.write(ctx, func(tx *sql.Tx) error { return enqueueTx(ctx, tx, j) })
}

// enqueueTx adds j inside another store's transaction, so the job commits
// with the change that calls for it (an image and its thumbnail job), or
// neither does. Idempotent by id like Enqueue.
func enqueueTx(ctx context.Context, tx *sql.Tx, j jobs.Job) error {
	j, err := j.Normalized()
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO jobs (`+jobColumns+`, due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, jobArgs(j)...)
	return storeError(err, "job")
}

// jobArgs are the values of jobColumns and due, in order.
func jobArgs(j jobs.Job) []any {
	var due any
	if t := j.DueAt(); !t.IsZero() {
		due = t.UnixMilli()
	}
	return []any{j.ID, j.Kind, j.Payload, j.State.String(), j.Attempts, j.MaxAttempts, j.RunAt.UnixMilli(), j.LastError, j.Worker,
		millisOrZero(j.LeaseUntil), j.CreateTime.UnixMilli(), j.UpdateTime.UnixMilli(), due}
}

func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

type rowScanner interface{ Scan(...any) error }

func scanJob(row rowScanner) (jobs.Job, error) {
	var j jobs.Job
	var state string
	var runAt, lease, created, updated int64
	if err := row.Scan(&j.ID, &j.Kind, &j.Payload, &state, &j.Attempts, &j.MaxAttempts, &runAt, &j.LastError, &j.Worker, &lease, &created, &updated); err != nil {
		return jobs.Job{}, err
	}
	j.State = jobs.ParseState(state)
	j.RunAt, j.LeaseUntil, j.CreateTime, j.UpdateTime = timeOrZero(runAt), timeOrZero(lease), timeOrZero(created), timeOrZero(updated)
	return j, nil
}

// putJob writes j over its row.
func putJob(ctx context.Context, tx *sql.Tx, j jobs.Job) error {
	_, err := tx.ExecContext(ctx, `REPLACE INTO jobs (`+jobColumns+`, due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, jobArgs(j)...)
	return storeError(err, "job")
}

// Claim implements jobs.Store: in one transaction, the due job with the
// earliest due time (jobs_due) becomes worker's. A job that passed its
// last lease is made dead on the way and the next one is tried.
func (s *JobStore) Claim(ctx context.Context, worker string, kinds []string, now time.Time, lease time.Duration) (*jobs.Job, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	args := []any{jobs.Millis(now).UnixMilli()}
	for _, k := range kinds {
		args = append(args, k)
	}
	query := `SELECT ` + jobColumns + ` FROM jobs WHERE due IS NOT NULL AND due <= ? AND kind IN (?` +
		strings.Repeat(", ?", len(kinds)-1) + `) ORDER BY due, id LIMIT 1`
	var claimed *jobs.Job
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		for {
			j, err := scanJob(tx.QueryRowContext(ctx, query, args...))
			if err == sql.ErrNoRows {
				return nil
			}
			if err != nil {
				return storeError(err, "job")
			}
			next := j.Claimed(worker, now, lease)
			if err := putJob(ctx, tx, next); err != nil {
				return err
			}
			if next.State == jobs.Running {
				claimed = &next
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// change reads job id, lets decide what it becomes and writes that, in one
// transaction.
func (s *JobStore) change(ctx context.Context, id string, decide jobs.Decision) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
		if err != nil {
			return storeError(err, "job")
		}
		next, err := decide(j)
		if err != nil {
			return err
		}
		return putJob(ctx, tx, next)
	})
}

// Heartbeat implements jobs.Store.
func (s *JobStore) Heartbeat(ctx context.Context, id, worker string, until time.Time) error {
	return s.change(ctx, id, jobs.Renew(worker, until))
}

// Complete implements jobs.Store.
func (s *JobStore) Complete(ctx context.Context, id, worker string, now time.Time) error {
	return s.change(ctx, id, jobs.Complete(worker, now))
}

// Fail implements jobs.Store.
func (s *JobStore) Fail(ctx context.Context, id, worker, msg string, retryAt time.Time, dead bool, now time.Time) error {
	return s.change(ctx, id, jobs.Fail(worker, msg, retryAt, dead, now))
}

// Retry implements jobs.Store.
func (s *JobStore) Retry(ctx context.Context, id string, now time.Time) error {
	return s.change(ctx, id, jobs.Retry(now))
}

// List implements jobs.Store (jobs_state_run_at).
func (s *JobStore) List(ctx context.Context, state jobs.State, limit int) ([]jobs.Job, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE state = ? ORDER BY run_at, id LIMIT ?`, state.String(), limit)
	if err != nil {
		return nil, storeError(err, "jobs")
	}
	defer rows.Close()
	var out []jobs.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, storeError(err, "jobs")
		}
		out = append(out, j)
	}
	return out, storeError(rows.Err(), "jobs")
}

// Depth implements jobs.Store (jobs_state_run_at).
func (s *JobStore) Depth(ctx context.Context) (map[jobs.State]int, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT state, COUNT(*) FROM jobs GROUP BY state`)
	if err != nil {
		return nil, storeError(err, "jobs")
	}
	defer rows.Close()
	out := map[jobs.State]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, storeError(err, "jobs")
		}
		out[jobs.ParseState(state)] = n
	}
	return out, storeError(rows.Err(), "jobs")
}
