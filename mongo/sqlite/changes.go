package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// ChangeLog numbers every change of every process on the database with a
// gapless revision: a revision is taken inside the write transaction that
// publishes it, and writers take turns, so a follower that has seen
// revision r and reads everything after r misses nothing.
type ChangeLog struct {
	db  *DB
	now func() time.Time
}

// NewChangeLog returns the change log of db.
func NewChangeLog(db *DB, now func() time.Time) *ChangeLog { return &ChangeLog{db: db, now: now} }

// Change is one entry: something of Kind and Key is now at KeyRev.
type Change struct {
	Rev    int64
	Kind   string
	Key    string
	KeyRev int64
	At     time.Time
}

// Publish records a change.
func (l *ChangeLog) Publish(ctx context.Context, kind, key string, rev int64) error {
	_, err := l.db.sql.ExecContext(ctx, `INSERT INTO changes (kind, key, key_rev, at) VALUES (?, ?, ?, ?)`, kind, key, rev, l.now().UnixMilli())
	return storeError(err, "change")
}

// Since returns up to limit changes after revision rev, oldest first.
func (l *ChangeLog) Since(ctx context.Context, rev int64, limit int) ([]Change, error) {
	rows, err := l.db.sql.QueryContext(ctx, `SELECT rev, kind, key, key_rev, at FROM changes WHERE rev > ? ORDER BY rev LIMIT ?`, rev, limit)
	if err != nil {
		return nil, storeError(err, "changes")
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var at int64
		if err := rows.Scan(&c.Rev, &c.Kind, &c.Key, &c.KeyRev, &at); err != nil {
			return nil, storeError(err, "changes")
		}
		c.At = time.UnixMilli(at).UTC()
		out = append(out, c)
	}
	return out, storeError(rows.Err(), "changes")
}

// Oldest returns the lowest revision still kept, 0 if none.
func (l *ChangeLog) Oldest(ctx context.Context) (int64, error) {
	var rev sql.NullInt64
	err := l.db.sql.QueryRowContext(ctx, `SELECT min(rev) FROM changes`).Scan(&rev)
	return rev.Int64, storeError(err, "changes")
}

// Last returns the highest revision published, 0 if none.
func (l *ChangeLog) Last(ctx context.Context) (int64, error) {
	var rev sql.NullInt64
	err := l.db.sql.QueryRowContext(ctx, `SELECT max(rev) FROM changes`).Scan(&rev)
	return rev.Int64, storeError(err, "changes")
}

// Prune drops changes older than keep, always leaving the newest, so that
// revisions keep counting up (AUTOINCREMENT never reuses one).
func (l *ChangeLog) Prune(ctx context.Context, keep time.Duration) error {
	_, err := l.db.sql.ExecContext(ctx, `DELETE FROM changes WHERE at < ? AND rev < (SELECT max(rev) FROM changes)`, l.now().Add(-keep).UnixMilli())
	return storeError(err, "changes")
}

// Follower reads the log in order from a revision on.
type Follower struct {
	log *ChangeLog
	rev int64
}

// Follow returns a follower that has seen everything up to now.
func (l *ChangeLog) Follow(ctx context.Context) (*Follower, error) {
	rev, err := l.Last(ctx)
	if err != nil {
		return nil, err
	}
	return &Follower{log: l, rev: rev}, nil
}

// Next returns the changes published since the last call, oldest first. If
// some of them were pruned before the follower read them, it returns
// reload = true and no changes: the caller must reload what it keeps, and
// the follower goes on from the newest revision.
func (f *Follower) Next(ctx context.Context) (changes []Change, reload bool, err error) {
	for {
		batch, err := f.log.Since(ctx, f.rev, 500)
		if err != nil {
			return nil, false, err
		}
		if len(batch) > 0 && batch[0].Rev != f.rev+1 {
			last, err := f.log.Last(ctx)
			if err != nil {
				return nil, false, err
			}
			f.rev = last
			return nil, true, nil
		}
		changes = append(changes, batch...)
		if len(batch) > 0 {
			f.rev = batch[len(batch)-1].Rev
		}
		if len(batch) < 500 {
			return changes, false, nil
		}
	}
}
