// Package sqlite is the embedded engine: Molar's stores in one SQLite
// database file in write-ahead-log mode, with real indexes and
// transactions, safe for several processes on one data directory. Each
// change is one transaction; a transaction takes the write lock when it
// begins (BEGIN IMMEDIATE), so writers never deadlock and readers are
// never blocked by them.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/molar-dental/molar/services"
)

// DB is an open database.
type DB struct {
	sql *sql.DB
}

// Open opens (creating if need be) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		// Every commit is on disk before it is acknowledged: money and
		// records survive a power cut, not only a crash of the process.
		"synchronous(FULL)",
		"busy_timeout(10000)",
		"foreign_keys(1)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := openSQL("file:"+path+"?"+q.Encode(), opts)
	if err != nil {
		return nil, err
	}
	d := &DB{sql: db}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.sql.PingContext(ctx) }

// write runs fn in one transaction, committed if fn returns nil and rolled
// back otherwise: the one commit point of a change.
func (d *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return storeError(err, "transaction")
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return storeError(tx.Commit(), "commit")
}

// schema is every version of the schema in order; version n is reached by
// running schema[n-1] on version n-1. Entries are never edited once
// released, only appended.
var schema = []string{
	`CREATE TABLE audit_events (
		id TEXT PRIMARY KEY,
		at INTEGER NOT NULL,
		action INTEGER NOT NULL,
		actor_id TEXT NOT NULL DEFAULT '',
		actor_email TEXT NOT NULL DEFAULT '',
		ip TEXT NOT NULL DEFAULT '',
		target_type TEXT NOT NULL DEFAULT '',
		target_id TEXT NOT NULL DEFAULT '',
		detail TEXT NOT NULL DEFAULT '',
		request_id TEXT NOT NULL DEFAULT ''
	) WITHOUT ROWID;
	CREATE INDEX audit_at ON audit_events (at DESC, id DESC);
	CREATE INDEX audit_actor_at ON audit_events (actor_id, at DESC, id DESC);
	CREATE INDEX audit_target_at ON audit_events (target_id, at DESC, id DESC);

	CREATE TABLE changes (
		rev INTEGER PRIMARY KEY AUTOINCREMENT,
		kind TEXT NOT NULL,
		key TEXT NOT NULL,
		key_rev INTEGER NOT NULL,
		at INTEGER NOT NULL
	);

	CREATE TABLE billing_accounts (
		patient_id TEXT PRIMARY KEY,
		seq INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE billing_changes (
		patient_id TEXT NOT NULL REFERENCES billing_accounts (patient_id),
		seq INTEGER NOT NULL,
		at INTEGER NOT NULL,
		invoices TEXT NOT NULL,
		audit_id TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (patient_id, seq)
	) WITHOUT ROWID;
	CREATE TABLE invoices (
		id TEXT PRIMARY KEY,
		patient_id TEXT NOT NULL REFERENCES billing_accounts (patient_id),
		created INTEGER NOT NULL,
		status TEXT NOT NULL,
		balance INTEGER NOT NULL,
		version INTEGER NOT NULL,
		doc TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX invoices_patient ON invoices (patient_id, created);
	CREATE INDEX invoices_owing ON invoices (balance) WHERE balance > 0;`,

	// 2: the appointment book (mongo/sqlite/schedule.go).
	`CREATE TABLE schedule_cells (
		kind INTEGER NOT NULL,
		resource TEXT NOT NULL,
		minute INTEGER NOT NULL,
		day TEXT NOT NULL,
		owner TEXT NOT NULL,
		op TEXT NOT NULL DEFAULT '',
		version INTEGER NOT NULL DEFAULT 0,
		at INTEGER NOT NULL,
		PRIMARY KEY (kind, resource, minute)
	) WITHOUT ROWID;
	CREATE INDEX schedule_cells_day ON schedule_cells (day);

	CREATE TABLE schedule_events (
		revision INTEGER PRIMARY KEY,
		at INTEGER NOT NULL,
		op TEXT NOT NULL DEFAULT '',
		appointment TEXT,
		blockout TEXT,
		audit_id TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE schedule_marks (
		name TEXT PRIMARY KEY,
		revision INTEGER NOT NULL
	) WITHOUT ROWID;

	CREATE TABLE appointments (
		id TEXT PRIMARY KEY,
		provider_id TEXT NOT NULL,
		chair_id TEXT NOT NULL,
		patient_id TEXT NOT NULL,
		start INTEGER NOT NULL,
		minutes INTEGER NOT NULL,
		status TEXT NOT NULL,
		revision INTEGER NOT NULL,
		doc TEXT NOT NULL
	);
	CREATE INDEX appointments_provider_start ON appointments (provider_id, start);
	CREATE INDEX appointments_chair_start ON appointments (chair_id, start);
	CREATE INDEX appointments_patient_start ON appointments (patient_id, start);
	CREATE TABLE blockouts (
		id TEXT PRIMARY KEY,
		provider_id TEXT NOT NULL DEFAULT '',
		chair_id TEXT NOT NULL DEFAULT '',
		start INTEGER NOT NULL,
		minutes INTEGER NOT NULL,
		deleted INTEGER NOT NULL DEFAULT 0,
		revision INTEGER NOT NULL,
		doc TEXT NOT NULL
	);
	CREATE INDEX blockouts_live_start ON blockouts (start) WHERE deleted = 0;

	CREATE TABLE providers (
		id TEXT PRIMARY KEY,
		doc TEXT NOT NULL
	);
	CREATE TABLE chairs (
		id TEXT PRIMARY KEY,
		doc TEXT NOT NULL
	);
	CREATE TABLE appointment_types (
		id TEXT PRIMARY KEY,
		doc TEXT NOT NULL
	);`,

	// 3: patients, their clinical records and the procedure catalog
	// (mongo/sqlite/patient.go, chart.go).
	`CREATE TABLE chart_numbers (
		number INTEGER PRIMARY KEY,
		patient_id TEXT NOT NULL
	);
	CREATE TABLE patients (
		id TEXT PRIMARY KEY,
		chart_number INTEGER NOT NULL UNIQUE,
		name TEXT NOT NULL,
		phone TEXT NOT NULL DEFAULT '',
		birth_date TEXT NOT NULL DEFAULT '',
		active INTEGER NOT NULL,
		deactivation_reason TEXT NOT NULL DEFAULT '',
		created INTEGER NOT NULL,
		updated INTEGER NOT NULL,
		version INTEGER NOT NULL,
		rrn_kid TEXT NOT NULL DEFAULT '',
		rrn_sealed BLOB,
		rrn_masked TEXT NOT NULL DEFAULT '',
		details TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE patient_versions (
		patient_id TEXT NOT NULL REFERENCES patients (id),
		version INTEGER NOT NULL,
		chart_number INTEGER NOT NULL,
		name TEXT NOT NULL,
		phone TEXT NOT NULL DEFAULT '',
		birth_date TEXT NOT NULL DEFAULT '',
		active INTEGER NOT NULL,
		deactivation_reason TEXT NOT NULL DEFAULT '',
		created INTEGER NOT NULL,
		updated INTEGER NOT NULL,
		rrn_kid TEXT NOT NULL DEFAULT '',
		rrn_sealed BLOB,
		rrn_masked TEXT NOT NULL DEFAULT '',
		details TEXT NOT NULL,
		audit_id TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (patient_id, version)
	) WITHOUT ROWID;

	CREATE TABLE clinical_versions (
		patient_id TEXT NOT NULL,
		version INTEGER NOT NULL,
		at INTEGER NOT NULL,
		events INTEGER NOT NULL,
		notes INTEGER NOT NULL,
		doc TEXT NOT NULL,
		audit_id TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (patient_id, version)
	);

	CREATE TABLE procedures (
		code TEXT PRIMARY KEY,
		category INTEGER NOT NULL,
		active INTEGER NOT NULL,
		change_id TEXT NOT NULL,
		doc TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE procedure_changes (
		id TEXT PRIMARY KEY,
		code TEXT NOT NULL,
		at INTEGER NOT NULL,
		doc TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX procedure_changes_code ON procedure_changes (code, id);`,

	// 4: staff accounts, sessions, refresh tokens, failed sign-ins and the
	// clinic profile (mongo/sqlite/staff.go, session.go, clinic.go).
	`CREATE TABLE staff (
		id TEXT PRIMARY KEY,
		email TEXT NOT NULL UNIQUE,
		display_name TEXT NOT NULL,
		roles TEXT NOT NULL,
		disabled INTEGER NOT NULL,
		must_change_password INTEGER NOT NULL,
		password_hash TEXT NOT NULL,
		created INTEGER NOT NULL,
		updated INTEGER NOT NULL,
		last_login INTEGER,
		version INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE staff_versions (
		staff_id TEXT NOT NULL REFERENCES staff (id),
		version INTEGER NOT NULL,
		at INTEGER NOT NULL,
		display_name TEXT NOT NULL,
		roles TEXT NOT NULL,
		disabled INTEGER NOT NULL,
		must_change_password INTEGER NOT NULL,
		audit_id TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (staff_id, version)
	) WITHOUT ROWID;

	CREATE TABLE sessions (
		id TEXT PRIMARY KEY,
		staff_id TEXT NOT NULL,
		created INTEGER NOT NULL,
		last_used INTEGER NOT NULL,
		expires INTEGER NOT NULL,
		ip TEXT NOT NULL DEFAULT '',
		user_agent TEXT NOT NULL DEFAULT '',
		revoked_at INTEGER,
		reason TEXT NOT NULL DEFAULT '',
		audit_id TEXT NOT NULL DEFAULT ''
	) WITHOUT ROWID;
	CREATE INDEX sessions_open_staff_created ON sessions (staff_id, created DESC, id DESC) WHERE revoked_at IS NULL;
	CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

	CREATE TABLE refresh_tokens (
		hash TEXT PRIMARY KEY,
		session_id TEXT NOT NULL,
		expires INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires);
	CREATE TABLE refresh_token_uses (
		hash TEXT PRIMARY KEY,
		at INTEGER NOT NULL,
		expires INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX refresh_token_uses_expires ON refresh_token_uses (expires);

	CREATE TABLE login_failures (
		staff_id TEXT NOT NULL,
		at INTEGER NOT NULL
	);
	CREATE INDEX login_failures_staff_at ON login_failures (staff_id, at);
	CREATE INDEX login_failures_at ON login_failures (at);

	CREATE TABLE clinic_revisions (
		version INTEGER PRIMARY KEY,
		at INTEGER NOT NULL,
		doc TEXT NOT NULL,
		audit_id TEXT NOT NULL DEFAULT ''
	);`,

	// 5: the book is read by date range (only a window around today is
	// kept in memory).
	`CREATE INDEX appointments_start ON appointments (start);`,

	// 6: when something happened to each invoice (issue, payments, refunds,
	// discounts), for the daily closing; filled from the invoices by
	// fillInvoiceTimes.
	`CREATE TABLE invoice_times (
		at INTEGER NOT NULL,
		invoice_id TEXT NOT NULL,
		PRIMARY KEY (at, invoice_id)
	) WITHOUT ROWID;
	CREATE INDEX invoice_times_invoice ON invoice_times (invoice_id);`,

	// 7: a clinical version stores what it changed (delta = 1), not the
	// whole record; the versions stored whole before are rewritten so by
	// compactClinical.
	`ALTER TABLE clinical_versions ADD COLUMN delta INTEGER NOT NULL DEFAULT 0;`,

	// 8: a registration takes its chart number in its own transaction, so
	// numbers are no longer claimed ahead of it.
	`DROP TABLE IF EXISTS chart_numbers;`,

	// 9: the queue of background jobs (mongo/sqlite/jobs.go). due is when
	// a job can next be claimed (its run_at while queued, the end of its
	// lease while running), NULL once it is done or dead.
	`CREATE TABLE IF NOT EXISTS jobs (
		id TEXT PRIMARY KEY,
		kind TEXT NOT NULL,
		payload BLOB,
		state TEXT NOT NULL,
		attempts INTEGER NOT NULL,
		max_attempts INTEGER NOT NULL,
		run_at INTEGER NOT NULL,
		last_error TEXT NOT NULL DEFAULT '',
		worker TEXT NOT NULL DEFAULT '',
		lease_until INTEGER NOT NULL DEFAULT 0,
		created INTEGER NOT NULL,
		updated INTEGER NOT NULL,
		due INTEGER
	) WITHOUT ROWID;
	CREATE INDEX IF NOT EXISTS jobs_due ON jobs (due, id) WHERE due IS NOT NULL;
	CREATE INDEX IF NOT EXISTS jobs_state_run_at ON jobs (state, run_at, id);`,

	// 10: patients' images (mongo/sqlite/images.go): every version whole,
	// the newest, and where each image's thumbnails stand.
	`CREATE TABLE IF NOT EXISTS image_versions (
		image_id TEXT NOT NULL,
		version INTEGER NOT NULL,
		patient_id TEXT NOT NULL,
		at INTEGER NOT NULL,
		doc TEXT NOT NULL,
		audit_id TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (image_id, version)
	) WITHOUT ROWID;
	CREATE TABLE IF NOT EXISTS images (
		id TEXT PRIMARY KEY,
		patient_id TEXT NOT NULL,
		version INTEGER NOT NULL,
		uploaded INTEGER NOT NULL,
		doc TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX IF NOT EXISTS images_patient_uploaded ON images (patient_id, uploaded DESC, id DESC);
	CREATE TABLE IF NOT EXISTS image_thumbnails (
		image_id TEXT PRIMARY KEY,
		status INTEGER NOT NULL,
		error TEXT NOT NULL DEFAULT '',
		at INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX IF NOT EXISTS image_thumbnails_status ON image_thumbnails (status);`,

	// 11: a failed password check keeps the address it came from (the
	// per-address limit and the lockout read it; the column is added by
	// addFailureAddress), its key may be an email that belongs to no
	// account, and the addresses staff signed in from are read by account
	// and time.
	`CREATE INDEX IF NOT EXISTS sessions_staff_created ON sessions (staff_id, created);`,

	// 12: the record of backups (mongo/sqlite/backup_runs.go).
	`CREATE TABLE IF NOT EXISTS backup_runs (
		id TEXT PRIMARY KEY,
		start INTEGER NOT NULL,
		ok INTEGER NOT NULL,
		doc TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX IF NOT EXISTS backup_runs_start ON backup_runs (start DESC);
	CREATE INDEX IF NOT EXISTS backup_runs_ok_start ON backup_runs (ok, start DESC);`,
}

// steps are what a version needs beyond its SQL, run in the same
// transaction: steps[n] after schema[n-1].
var steps = map[int]func(context.Context, *sql.Tx) error{
	6:  fillInvoiceTimes,
	7:  compactClinical,
	11: addFailureAddress,
}

// addFailureAddress adds login_failures.ip and its index, unless a
// database brought back to an earlier version by hand has them already.
func addFailureAddress(ctx context.Context, tx *sql.Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('login_failures') WHERE name = 'ip'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE login_failures ADD COLUMN ip TEXT NOT NULL DEFAULT ''`); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS login_failures_ip_at ON login_failures (ip, at)`)
	return err
}

// migrate brings the schema to the newest version, one transaction per
// version, so a crash leaves it at a whole version.
func (d *DB) migrate(ctx context.Context) error {
	for {
		var v int
		if err := d.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if v > len(schema) {
			return fmt.Errorf("the database has schema version %d; this program knows up to %d: run the newer version", v, len(schema))
		}
		if v == len(schema) {
			return nil
		}
		err := d.write(ctx, func(tx *sql.Tx) error {
			var again int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&again); err != nil {
				return err
			}
			if again != v {
				return nil // another process migrated meanwhile
			}
			if _, err := tx.ExecContext(ctx, schema[v]); err != nil {
				return fmt.Errorf("schema version %d: %w", v+1, err)
			}
			if step := steps[v+1]; step != nil {
				if err := step(ctx, tx); err != nil {
					return fmt.Errorf("schema version %d: %w", v+1, err)
				}
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1))
			return err
		})
		if err != nil {
			return err
		}
	}
}

// storeError turns driver errors into the services' error vocabulary: no
// row is NotFound, a unique key taken is AlreadyExists, a database still
// busy after the timeout is Unavailable.
func storeError(err error, what string) error {
	var se *sqlite.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return services.Errorf(services.NotFound, "%s not found", what)
	case errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE):
		return services.Errorf(services.AlreadyExists, "%s already exists", what)
	case errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED):
		return &services.Error{Code: services.Unavailable, Message: "database busy", Err: err, RetryAfter: time.Second}
	case strings.Contains(err.Error(), "database is closed"):
		return &services.Error{Code: services.Unavailable, Message: "database closed", Err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CommitWatcher tells whether any connection, of this process or another,
// committed to the database since it last looked. It asks SQLite's change
// counter (PRAGMA data_version) on a connection of its own, which reads no
// table, so looking often costs next to nothing.
type CommitWatcher struct {
	conn *sql.Conn
	last int64
}

// CommitWatcher returns a watcher whose first look reports a commit.
func (d *DB) CommitWatcher(ctx context.Context) (*CommitWatcher, error) {
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return nil, storeError(err, "database")
	}
	return &CommitWatcher{conn: conn, last: -1}, nil
}

// Changed reports whether anything was committed since the last call. When
// it cannot tell, it says yes: reading for nothing is harmless.
func (w *CommitWatcher) Changed(ctx context.Context) bool {
	var v int64
	if err := w.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return true
	}
	changed := v != w.last
	w.last = v
	return changed
}

// Close gives the watcher's connection back.
func (w *CommitWatcher) Close() error { return w.conn.Close() }
