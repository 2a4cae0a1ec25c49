package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
)

// SessionStore keeps sessions, refresh-token hashes and failed sign-ins.
// The end of a session is one transaction: the conditional update that
// sets its end (only one call finds it still open) and the end's audit
// record, so nothing is ever pending. Using a refresh token is the insert
// of its hash into a table keyed by it, which succeeds once.
//
// Where MongoDB removes expired rows with TTL indexes, here the writes
// that bring the clock along prune them: each use of a refresh token
// deletes the tokens (and their uses) that expired more than
// tokenLeeway before it, and each failed sign-in deletes the failures
// older than failureKept. Both deletions run on an index and in the
// transaction of the write, and find nothing to do most of the time.
// Prune does the same for all three tables at once, for the periodic
// sweep: without it, the rows a last write left behind (the failures of a
// quiet week, the tokens of sessions nobody refreshed) would stay.
type SessionStore struct {
	db *DB
}

var (
	_ auth.SessionStore = (*SessionStore)(nil)
	_ auth.FailureStore = (*SessionStore)(nil)
)

// NewSessionStore returns the session store of db.
func NewSessionStore(db *DB) *SessionStore { return &SessionStore{db: db} }

const (
	// tokenLeeway is how long an expired refresh token is kept: a refresh
	// refuses it from its expiry on, and the leeway covers the clocks of
	// several processes on one database not quite agreeing.
	tokenLeeway = time.Hour
	// failureKept is how long failed sign-ins are kept, as on MongoDB (the
	// lockout looks back a day at most).
	failureKept = 7 * 24 * time.Hour
)

const sessionColumns = `id, staff_id, created, last_used, expires, ip, user_agent, revoked_at, reason`

// Create implements auth.SessionStore in one transaction: the session, its
// first token, the sign-in's event and the account's last sign-in (never
// moved back by a sign-in that commits after a later one).
func (s *SessionStore) Create(ctx context.Context, sess auth.Session, first auth.RefreshToken, ev audit.Event) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, sess.StaffID, sess.Created.UnixMilli(), sess.LastUsed.UnixMilli(), sess.Expires.UnixMilli(), sess.IP, sess.UserAgent,
			optionalMillis(sess.RevokedAt), sess.Reason)
		if err != nil {
			return storeError(err, "session")
		}
		if err := insertToken(ctx, tx, first); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE staff SET last_login = ? WHERE id = ? AND (last_login IS NULL OR last_login < ?)`,
			sess.Created.UnixMilli(), sess.StaffID, sess.Created.UnixMilli()); err != nil {
			return storeError(err, "staff account")
		}
		return appendAudit(ctx, tx, ev)
	})
}

// StartProjected implements auth.SessionStore: a no-op, as the event went
// into the trail with the session.
func (s *SessionStore) StartProjected(context.Context, string) error { return nil }

// Get implements auth.SessionStore.
func (s *SessionStore) Get(ctx context.Context, id string) (auth.Session, error) {
	return scanSession(s.db.sql.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
}

// Touch implements auth.SessionStore.
func (s *SessionStore) Touch(ctx context.Context, id string, lastUsed, expires time.Time) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET last_used = ?, expires = ? WHERE id = ?`, lastUsed.UnixMilli(), expires.UnixMilli(), id)
		return storeError(err, "session")
	})
}

// Revoke implements auth.SessionStore in one transaction: the end is set
// only on a session without one, and ev is stored with it. It never
// returns true with an error: the end and the session's mark are one
// commit. NotFound if there is no such session.
func (s *SessionStore) Revoke(ctx context.Context, id string, at time.Time, reason string, ev audit.Event) (bool, error) {
	var ended bool
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		ended = false
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, reason = ?, audit_id = ? WHERE id = ? AND revoked_at IS NULL`,
			at.UnixMilli(), reason, ev.ID, id)
		if err != nil {
			return storeError(err, "session")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return storeError(err, "session")
		}
		if n == 0 {
			// Ended before, or never there.
			var one int
			return storeError(tx.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = ?`, id).Scan(&one), "session")
		}
		ended = true
		return appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return false, err
	}
	return ended, nil
}

// AuditProjected implements auth.SessionStore: a no-op, as the event went
// into the trail with the end.
func (s *SessionStore) AuditProjected(context.Context, string) error { return nil }

// ReprojectAudit is the recovery pass of the MongoDB repository: a no-op
// here, as no session ends without its event.
func (s *SessionStore) ReprojectAudit(context.Context, func(audit.Event) error) error { return nil }

// ListActive implements auth.SessionStore, on the index of open sessions
// by staff and creation.
func (s *SessionStore) ListActive(ctx context.Context, staffID string, now time.Time) ([]auth.Session, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE staff_id = ? AND revoked_at IS NULL AND expires > ? ORDER BY created DESC, id DESC`, staffID, now.UnixMilli())
	if err != nil {
		return nil, storeError(err, "sessions")
	}
	defer rows.Close()
	var out []auth.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, storeError(rows.Err(), "sessions")
}

// RevokedSince implements auth.SessionStore, on the index of ended
// sessions by their end.
func (s *SessionStore) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT id FROM sessions WHERE revoked_at >= ? ORDER BY revoked_at`, since.UnixMilli())
	if err != nil {
		return nil, storeError(err, "sessions")
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, storeError(err, "sessions")
		}
		ids = append(ids, id)
	}
	return ids, storeError(rows.Err(), "sessions")
}

func scanSession(row interface{ Scan(dest ...any) error }) (auth.Session, error) {
	var sess auth.Session
	var created, lastUsed, expires int64
	var revoked sql.NullInt64
	if err := row.Scan(&sess.ID, &sess.StaffID, &created, &lastUsed, &expires, &sess.IP, &sess.UserAgent, &revoked, &sess.Reason); err != nil {
		return auth.Session{}, storeError(err, "session")
	}
	sess.Created, sess.LastUsed, sess.Expires = time.UnixMilli(created).UTC(), time.UnixMilli(lastUsed).UTC(), time.UnixMilli(expires).UTC()
	sess.RevokedAt = optionalTime(revoked)
	return sess, nil
}

// AddToken implements auth.SessionStore. AlreadyExists if the hash is
// stored.
func (s *SessionStore) AddToken(ctx context.Context, t auth.RefreshToken) error {
	return s.db.write(ctx, func(tx *sql.Tx) error { return insertToken(ctx, tx, t) })
}

func insertToken(ctx context.Context, tx *sql.Tx, t auth.RefreshToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, expires) VALUES (?, ?, ?)`, t.Hash, t.SessionID, t.Expires.UnixMilli())
	return storeError(err, "refresh token")
}

// GetToken implements auth.SessionStore.
func (s *SessionStore) GetToken(ctx context.Context, hash string) (auth.RefreshToken, error) {
	t := auth.RefreshToken{Hash: hash}
	var expires int64
	err := s.db.sql.QueryRowContext(ctx, `SELECT session_id, expires FROM refresh_tokens WHERE hash = ?`, hash).Scan(&t.SessionID, &expires)
	if err != nil {
		return auth.RefreshToken{}, storeError(err, "refresh token")
	}
	t.Expires = time.UnixMilli(expires).UTC()
	return t, nil
}

// UseToken implements auth.SessionStore: the insert of the hash into
// refresh_token_uses, keyed by it, succeeds once; every other call gets
// AlreadyExists for as long as the token is stored. The same transaction
// prunes what expired more than tokenLeeway before at: a token is only
// ever forgotten together with its use, when GetToken no longer finds it.
func (s *SessionStore) UseToken(ctx context.Context, hash string, at time.Time) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO refresh_token_uses (hash, at, expires)
			VALUES (?, ?, COALESCE((SELECT expires FROM refresh_tokens WHERE hash = ?), ?))`, hash, at.UnixMilli(), hash, at.UnixMilli())
		if err != nil {
			return storeError(err, "refresh token use")
		}
		horizon := at.Add(-tokenLeeway).UnixMilli()
		if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires < ?`, horizon); err != nil {
			return storeError(err, "refresh tokens")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM refresh_token_uses WHERE expires < ?`, horizon)
		return storeError(err, "refresh token uses")
	})
}

// Prune deletes, in one transaction, the refresh tokens and their uses
// that expired more than tokenLeeway before now and the failed sign-ins
// older than failureKept before now, and returns how many rows went. It
// is what MongoDB's TTL indexes do, run by the sweep; every deletion runs
// on an index.
func (s *SessionStore) Prune(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		horizon := now.Add(-tokenLeeway).UnixMilli()
		for _, q := range []struct{ sql, what string }{
			{`DELETE FROM refresh_tokens WHERE expires < ?`, "refresh tokens"},
			{`DELETE FROM refresh_token_uses WHERE expires < ?`, "refresh token uses"},
		} {
			res, err := tx.ExecContext(ctx, q.sql, horizon)
			if err != nil {
				return storeError(err, q.what)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE at < ?`, now.Add(-failureKept).UnixMilli())
		if err != nil {
			return storeError(err, "login failures")
		}
		k, _ := res.RowsAffected()
		n += k
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// AddFailure implements auth.FailureStore in one transaction with its
// event; the same transaction prunes the failures (of anyone) older than
// failureKept before the new one.
func (s *SessionStore) AddFailure(ctx context.Context, f auth.Failure, ev audit.Event) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (staff_id, at, ip) VALUES (?, ?, ?)`, f.Key, f.At.UnixMilli(), f.IP); err != nil {
			return storeError(err, "login failure")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE at < ?`, f.At.Add(-failureKept).UnixMilli()); err != nil {
			return storeError(err, "login failures")
		}
		return appendAudit(ctx, tx, ev)
	})
}

// FailureProjected implements auth.FailureStore: a no-op, as the event went
// into the trail with the failure.
func (s *SessionStore) FailureProjected(context.Context, string) error { return nil }

// Failures implements auth.FailureStore, on the index by key and time.
func (s *SessionStore) Failures(ctx context.Context, key string, since time.Time) ([]auth.Failure, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT at, ip FROM login_failures WHERE staff_id = ? AND at > ? ORDER BY at DESC LIMIT 100`,
		key, since.UnixMilli())
	if err != nil {
		return nil, storeError(err, "login failures")
	}
	defer rows.Close()
	var out []auth.Failure
	for rows.Next() {
		f := auth.Failure{Key: key}
		var at int64
		if err := rows.Scan(&at, &f.IP); err != nil {
			return nil, storeError(err, "login failures")
		}
		f.At = time.UnixMilli(at).UTC()
		out = append(out, f)
	}
	return out, storeError(rows.Err(), "login failures")
}

// FailuresFrom implements auth.FailureStore, on the index by address and
// time.
func (s *SessionStore) FailuresFrom(ctx context.Context, ip string, since time.Time) (int, error) {
	var n int
	err := s.db.sql.QueryRowContext(ctx, `SELECT count(*) FROM login_failures WHERE ip = ? AND at > ?`, ip, since.UnixMilli()).Scan(&n)
	return n, storeError(err, "login failures")
}

// SignInAddresses implements auth.SessionStore, on the index by account
// and start.
func (s *SessionStore) SignInAddresses(ctx context.Context, staffID string, since time.Time) ([]string, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT DISTINCT ip FROM sessions WHERE staff_id = ? AND created > ? AND ip != ''`,
		staffID, since.UnixMilli())
	if err != nil {
		return nil, storeError(err, "sessions")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			return nil, storeError(err, "sessions")
		}
		out = append(out, ip)
	}
	return out, storeError(rows.Err(), "sessions")
}
