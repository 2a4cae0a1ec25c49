package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
)

// StaffStore keeps staff accounts. A change is one transaction: the
// version row keyed (staff id, version) is its commit point (of two
// writers from one version only one can insert it), the account's current
// row follows it, and the change's audit record goes into the trail with
// them. Nothing is left to do after the commit, so nothing is ever pending.
// Version rows are the account's history without its password hashes: an
// old hash is of no use to anyone but an attacker.
type StaffStore struct {
	db *DB
}

var _ auth.AccountStore = (*StaffStore)(nil)

// NewStaffStore returns the staff store of db.
func NewStaffStore(db *DB) *StaffStore { return &StaffStore{db: db} }

const staffColumns = `id, email, display_name, roles, disabled, must_change_password, password_hash, created, updated, last_login, version`

// Create implements auth.AccountStore: the account's row, its version row
// and ev in one transaction. AlreadyExists if the email (or id) is taken.
func (s *StaffStore) Create(ctx context.Context, a auth.Account, ev audit.Event) error {
	roles, err := rolesJSON(a.Roles)
	if err != nil {
		return err
	}
	return s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO staff (`+staffColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Email, a.DisplayName, roles, a.Disabled, a.MustChangePassword, a.PasswordHash,
			a.Created.UnixMilli(), a.Updated.UnixMilli(), optionalMillis(a.LastLogin), a.Version); err != nil {
			return storeError(err, "staff account")
		}
		if err := insertStaffVersion(ctx, tx, a, a.Version, roles, ev); err != nil {
			return err
		}
		return appendAudit(ctx, tx, ev)
	})
}

// insertStaffVersion inserts the row of version v of a: the commit point of
// a change, AlreadyExists if another change took the number.
func insertStaffVersion(ctx context.Context, tx *sql.Tx, a auth.Account, v int64, roles string, ev audit.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO staff_versions (staff_id, version, at, display_name, roles, disabled, must_change_password, audit_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, v, a.Updated.UnixMilli(), a.DisplayName, roles, a.Disabled, a.MustChangePassword, ev.ID)
	return storeError(err, "staff version")
}

// Get implements auth.AccountStore.
func (s *StaffStore) Get(ctx context.Context, id string) (auth.Account, error) {
	return scanAccount(s.db.sql.QueryRowContext(ctx, `SELECT `+staffColumns+` FROM staff WHERE id = ?`, id))
}

// GetByEmail implements auth.AccountStore.
func (s *StaffStore) GetByEmail(ctx context.Context, email string) (auth.Account, error) {
	return scanAccount(s.db.sql.QueryRowContext(ctx, `SELECT `+staffColumns+` FROM staff WHERE email = ?`, email))
}

// List implements auth.AccountStore, in the order of the ids.
func (s *StaffStore) List(ctx context.Context) ([]auth.Account, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT `+staffColumns+` FROM staff ORDER BY id`)
	if err != nil {
		return nil, storeError(err, "staff accounts")
	}
	defer rows.Close()
	var out []auth.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, storeError(rows.Err(), "staff accounts")
}

// Update implements auth.AccountStore in one transaction: the stored
// version must still be a.Version (Aborted otherwise, NotFound if there is
// no account), then the version row, the current row and ev.
func (s *StaffStore) Update(ctx context.Context, a auth.Account, ev audit.Event) (auth.Account, error) {
	roles, err := rolesJSON(a.Roles)
	if err != nil {
		return auth.Account{}, err
	}
	var saved auth.Account
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		cur, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+staffColumns+` FROM staff WHERE id = ?`, a.ID))
		if err != nil {
			return err
		}
		if cur.Version != a.Version {
			return errStaffChanged
		}
		next := a
		next.Version, next.Email, next.Created, next.LastLogin = a.Version+1, cur.Email, cur.Created, cur.LastLogin
		if err := insertStaffVersion(ctx, tx, next, next.Version, roles, ev); err != nil {
			if services.ErrorCode(err) == services.AlreadyExists {
				return errStaffChanged
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE staff SET display_name = ?, roles = ?, disabled = ?, must_change_password = ?, password_hash = ?,
			updated = ?, version = ? WHERE id = ?`, next.DisplayName, roles, next.Disabled, next.MustChangePassword, next.PasswordHash,
			next.Updated.UnixMilli(), next.Version, next.ID); err != nil {
			return storeError(err, "staff account")
		}
		if err := appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		saved = next
		return nil
	})
	if err != nil {
		return auth.Account{}, err
	}
	return normalAccount(saved), nil
}

var errStaffChanged = services.Errorf(services.Aborted, "the account was changed by someone else; reload and try again")

// AuditProjected implements auth.AccountStore: a no-op, as the event went
// into the trail with the change.
func (s *StaffStore) AuditProjected(context.Context, string, int64) error { return nil }

// ReprojectAudit is the recovery pass of the MongoDB repository: a no-op
// here, as no change is ever committed without its event.
func (s *StaffStore) ReprojectAudit(context.Context, func(audit.Event) error) error { return nil }

// SetLastLogin implements auth.AccountStore. It is no version of the
// account: an update neither needs nor changes it.
func (s *StaffStore) SetLastLogin(ctx context.Context, id string, at time.Time) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE staff SET last_login = ? WHERE id = ?`, optionalMillis(at), id)
		return storeError(err, "staff account")
	})
}

func scanAccount(row interface{ Scan(dest ...any) error }) (auth.Account, error) {
	var a auth.Account
	var roles string
	var created, updated int64
	var lastLogin sql.NullInt64
	if err := row.Scan(&a.ID, &a.Email, &a.DisplayName, &roles, &a.Disabled, &a.MustChangePassword, &a.PasswordHash,
		&created, &updated, &lastLogin, &a.Version); err != nil {
		return auth.Account{}, storeError(err, "staff account")
	}
	var rs []int32
	if err := json.Unmarshal([]byte(roles), &rs); err != nil {
		return auth.Account{}, storeError(err, "staff roles")
	}
	for _, r := range rs {
		a.Roles = append(a.Roles, molarv1.Role(r))
	}
	a.Created, a.Updated, a.LastLogin = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC(), optionalTime(lastLogin)
	return a, nil
}

// normalAccount is a as a read returns it: times to the millisecond, in UTC.
func normalAccount(a auth.Account) auth.Account {
	a.Created, a.Updated = time.UnixMilli(a.Created.UnixMilli()).UTC(), time.UnixMilli(a.Updated.UnixMilli()).UTC()
	if !a.LastLogin.IsZero() {
		a.LastLogin = time.UnixMilli(a.LastLogin.UnixMilli()).UTC()
	}
	return a
}

// rolesJSON is the roles column: a JSON array of the roles' numbers.
func rolesJSON(rs []molarv1.Role) (string, error) {
	ns := make([]int32, len(rs))
	for i, r := range rs {
		ns[i] = int32(r)
	}
	b, err := json.Marshal(ns)
	return string(b), err
}

// optionalMillis stores the zero time (never) as NULL, any other in milliseconds.
func optionalMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// optionalTime reads what optionalMillis stored.
func optionalTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}
