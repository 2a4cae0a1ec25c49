package auth

import (
	"context"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
)

// Account is a staff account with its credentials.
type Account struct {
	ID                 string
	Email              string
	DisplayName        string
	Roles              []molarv1.Role
	Disabled           bool
	MustChangePassword bool
	PasswordHash       string
	Created            time.Time
	Updated            time.Time
	LastLogin          time.Time
	Version            int64
}

// AccountStore keeps staff accounts.
type AccountStore interface {
	// Create stores a new account (Version 1). AlreadyExists if the email is
	// taken. The one insert that commits it carries ev, marked pending until
	// AuditProjected.
	Create(ctx context.Context, a Account, ev audit.Event) error
	// Get returns the newest committed version of an account by id. NotFound
	// if there is none.
	Get(ctx context.Context, id string) (Account, error)
	// GetByEmail returns an account by lower-case email, as Get. NotFound if
	// there is none.
	GetByEmail(ctx context.Context, email string) (Account, error)
	// List returns every account.
	List(ctx context.Context) ([]Account, error)
	// Update stores a (all fields but ID, Email, Created, LastLogin) as
	// version a.Version+1 if the stored version is still a.Version, and
	// returns it. Atomic: of concurrent updates from one version exactly one
	// wins; the others get Aborted and change nothing. NotFound if there is no
	// such account. The one insert that commits the version carries ev,
	// marked pending until AuditProjected.
	Update(ctx context.Context, a Account, ev audit.Event) (Account, error)
	// AuditProjected clears the pending mark of the event committed with
	// version of account id, once it is in the trail.
	AuditProjected(ctx context.Context, id string, version int64) error
	// SetLastLogin records a successful sign-in.
	SetLastLogin(ctx context.Context, id string, at time.Time) error
}

// Session is one signed-in browser: a family of refresh tokens.
type Session struct {
	ID        string
	StaffID   string
	Created   time.Time
	LastUsed  time.Time
	Expires   time.Time
	IP        string
	UserAgent string
	RevokedAt time.Time
	Reason    string
}

// Revoked reports whether the session was ended.
func (s Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// RefreshToken is the stored form of a refresh token: its hash, never the
// token itself.
type RefreshToken struct {
	Hash      string
	SessionID string
	Expires   time.Time
}

// SessionStore keeps sessions and their refresh tokens.
type SessionStore interface {
	// Create commits a new session, its first refresh token, ev (the
	// sign-in's event, marked pending until StartProjected) and s.Created as
	// the account's last sign-in, in one step: before it nothing of the
	// sign-in is stored that a read could find, after it all of it is (the
	// last sign-in derived from the session where the engine has no
	// transaction). AlreadyExists if the id is taken.
	Create(ctx context.Context, s Session, first RefreshToken, ev audit.Event) error
	// StartProjected clears the pending mark of the event committed with the
	// start of session id, once it is in the trail.
	StartProjected(ctx context.Context, id string) error
	// Get returns a session. NotFound if there is none.
	Get(ctx context.Context, id string) (Session, error)
	// Touch records a refresh and the session's new expiry.
	Touch(ctx context.Context, id string, lastUsed, expires time.Time) error
	// Revoke ends a session and reports whether this call ended it: of any
	// number of calls for one session exactly one does, and ending an ended
	// one changes nothing. The one insert that commits the end carries ev
	// (none if ev.ID is empty), marked pending until AuditProjected. An error
	// with true means the end is committed but the session not yet marked;
	// calling again finishes it.
	Revoke(ctx context.Context, id string, at time.Time, reason string, ev audit.Event) (bool, error)
	// AuditProjected clears the pending mark of the event committed with the
	// end of session id, once it is in the trail.
	AuditProjected(ctx context.Context, id string) error
	// ListActive returns the sessions of staffID not ended and not expired at
	// now, newest first.
	ListActive(ctx context.Context, staffID string, now time.Time) ([]Session, error)
	// SignInAddresses returns the distinct addresses of staffID's sessions
	// begun after since.
	SignInAddresses(ctx context.Context, staffID string, since time.Time) ([]string, error)
	// RevokedSince returns the ids of sessions ended at or after since.
	RevokedSince(ctx context.Context, since time.Time) ([]string, error)

	// AddToken stores a refresh token's hash.
	AddToken(ctx context.Context, t RefreshToken) error
	// GetToken returns a refresh token by hash. NotFound if unknown.
	GetToken(ctx context.Context, hash string) (RefreshToken, error)
	// UseToken marks a refresh token used. It is atomic: of any number of
	// concurrent calls for one hash exactly one succeeds; every other call,
	// then or later, gets AlreadyExists.
	UseToken(ctx context.Context, hash string, at time.Time) error
}

// Failure is one failed password check.
type Failure struct {
	// Key is whose password was tried: a staff id, or for an email that
	// belongs to no account, "email:" and the email.
	Key string
	At  time.Time
	// IP is the address the attempt came from.
	IP string
}

// FailureStore records failed password checks, for the lockout and the
// per-address limit that every server process shares.
type FailureStore interface {
	// AddFailure records f in one commit carrying ev, marked pending until
	// FailureProjected. ev.ID identifies the failure.
	AddFailure(ctx context.Context, f Failure, ev audit.Event) error
	// FailureProjected clears the pending mark of the failure whose event is
	// eventID, once the event is in the trail.
	FailureProjected(ctx context.Context, eventID string) error
	// Failures returns the newest 100 failures of key after since, newest
	// first.
	Failures(ctx context.Context, key string, since time.Time) ([]Failure, error)
	// FailuresFrom counts the failures from ip after since, of any key.
	FailuresFrom(ctx context.Context, ip string, since time.Time) (int, error)
}

// Changes announces changes to every server process.
type Changes interface {
	// Publish records that the thing of kind and key is now at rev.
	Publish(ctx context.Context, kind, key string, rev int64) error
}

// ChangeKindSession is the kind of change record an ended session
// publishes, keyed by the session's id: every process then refuses its
// access tokens at once.
const ChangeKindSession = "session"
