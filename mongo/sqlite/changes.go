package sqlite

import (
	"context"
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
