package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// Config holds the security settings; DefaultConfig has the shipped values.
type Config struct {
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	Hash       HashParams
	// LockoutThreshold failures in a row lock an account for LockoutBase,
	// doubling with each further failure up to LockoutMax.
	LockoutThreshold int
	LockoutBase      time.Duration
	LockoutMax       time.Duration
	// LoginPerMinute and LoginBurst limit sign-in attempts per address in
	// each server process.
	LoginPerMinute int
	LoginBurst     int
	// AddressFailures failed password checks from one address within
	// AddressWindow, counted in the database across every server process,
	// pause that address's checks.
	AddressFailures int
	AddressWindow   time.Duration
}

// DefaultConfig is what Molar ships with.
var DefaultConfig = Config{
	AccessTTL:        15 * time.Minute,
	RefreshTTL:       12 * time.Hour,
	Hash:             DefaultHashParams,
	LockoutThreshold: 5,
	LockoutBase:      30 * time.Second,
	LockoutMax:       15 * time.Minute,
	LoginPerMinute:   20,
	LoginBurst:       10,
	AddressFailures:  10,
	AddressWindow:    5 * time.Minute,
}

// Service holds the rules of accounts, sign-in and sessions.
type Service struct {
	cfg         Config
	accounts    AccountStore
	sessions    SessionStore
	failures    FailureStore
	tokens      *Tokens
	revocations *Revocations
	changes     Changes
	audit       *audit.Recorder
	limiter     *ipLimiter
	now         func() time.Time
	newID       func() string
	logger      *slog.Logger
	observer    Observer
	// dummyHash is verified against when the email is unknown, so that the
	// answer takes as long as for a wrong password.
	dummyHash string
	// argon bounds the password hashes computed at once: each holds
	// cfg.Hash.MemoryKiB of memory while it runs, so a flood of password
	// checks waits here instead of growing the process.
	argon chan struct{}
}

// Deps are what a Service works with.
type Deps struct {
	Accounts    AccountStore
	Sessions    SessionStore
	Failures    FailureStore
	Tokens      *Tokens
	Revocations *Revocations
	Changes     Changes
	Audit       *audit.Recorder
	Now         func() time.Time
	NewID       func() string
	Logger      *slog.Logger
	// Observer, if set, is told of failed password checks and lockouts.
	Observer Observer
}

// NewService returns a Service.
func NewService(cfg Config, d Deps) (*Service, error) {
	dummy, err := HashPassword("not a password of anyone's", cfg.Hash)
	if err != nil {
		return nil, err
	}
	return &Service{
		cfg: cfg, accounts: d.Accounts, sessions: d.Sessions, failures: d.Failures, tokens: d.Tokens,
		revocations: d.Revocations, changes: d.Changes, audit: d.Audit, limiter: newIPLimiter(cfg.LoginPerMinute, cfg.LoginBurst, d.Now),
		now: d.Now, newID: d.NewID, logger: d.Logger, observer: observerOr(d.Observer), dummyHash: dummy,
		argon: make(chan struct{}, max(2, runtime.NumCPU())),
	}, nil
}

// hashingSlot waits for a free hashing slot (or fails as the caller gives
// up) and returns its release.
func (s *Service) hashingSlot(ctx context.Context) (func(), error) {
	select {
	case s.argon <- struct{}{}:
		return func() { <-s.argon }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hash hashes pw in a hashing slot.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	release, err := s.hashingSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(pw, s.cfg.Hash)
}

// Grant is what a successful sign-in or refresh hands out.
type Grant struct {
	AccessToken   string
	AccessExpires time.Time
	// RefreshToken goes into the cookie; it is never stored in clear.
	RefreshToken   string
	RefreshExpires time.Time
	Account        Account
	SessionID      string
}

var errBadCredentials = services.Errorf(services.Unauthenticated, "email or password is incorrect")

// NormalizeEmail is how emails are compared and stored.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// Login checks credentials and starts a session. Unknown emails, wrong
// passwords and disabled accounts get the same answer after the same work,
// and so do locked accounts and locked unknown emails: failures are counted
// for an email that belongs to no account as for one that does.
func (s *Service) Login(ctx context.Context, email, password string) (*Grant, error) {
	email = NormalizeEmail(email)
	peer := services.PeerFrom(ctx)
	if ok, wait := s.limiter.allow(peer.IP); !ok {
		_ = s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_RATE_LIMITED, ActorEmail: email, Detail: "sign-in attempts from this address"})
		s.observer.PasswordCheckFailed(FailedRateLimited)
		return nil, &services.Error{Code: services.ResourceExhausted, Message: "too many sign-in attempts from this address; try again later", RetryAfter: wait}
	}
	acct, err := s.accounts.GetByEmail(ctx, email)
	known := err == nil
	if services.ErrorCode(err) == services.NotFound {
		acct = Account{ID: "email:" + email, Email: email, PasswordHash: s.dummyHash}
	} else if err != nil {
		return nil, err
	}
	_, err = s.checkPassword(ctx, acct, password, "sign-in", func(ok bool) (string, FailureReason) {
		switch {
		case !known:
			return "unknown email", FailedUnknownEmail
		case !ok:
			return "wrong password", FailedWrongPassword
		case acct.Disabled:
			return "account disabled", FailedDisabled
		}
		return "", ""
	})
	if err != nil {
		return nil, err
	}
	return s.startSession(ctx, acct)
}

// checkPassword checks pw against acct's hash under the limits every
// password check is under, in a hashing slot so that checks queued behind
// others see the failures those recorded:
//   - failures from the caller's address, counted across every server
//     process, pause its checks for a while;
//   - the account's lockout (see lockedFor).
//
// A paused or locked check hashes as a real one does, so that its answer
// takes as long. what names the check in the answer. refused says, from
// whether the password matched, why the check fails (empty: it passes);
// a failure is recorded (see failed) before the slot is released, so the
// next check sees it, and its error returned.
func (s *Service) checkPassword(ctx context.Context, acct Account, pw, what string, refused func(ok bool) (string, FailureReason)) (bool, error) {
	release, err := s.hashingSlot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	ip := services.PeerFrom(ctx).IP
	n, err := s.failures.FailuresFrom(ctx, ip, s.now().Add(-s.cfg.AddressWindow))
	if err != nil {
		return false, err
	}
	if n >= s.cfg.AddressFailures {
		_ = s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_RATE_LIMITED, ActorEmail: acct.Email,
			Detail: fmt.Sprintf("%d failed password checks from this address", n)})
		s.observer.PasswordCheckFailed(FailedRateLimited)
		return false, &services.Error{Code: services.ResourceExhausted, Message: "too many failed attempts from this address; try again later",
			RetryAfter: s.cfg.AddressWindow / 5}
	}
	wait, _, err := s.lockedFor(ctx, acct, ip)
	if err != nil {
		return false, err
	}
	if wait > 0 {
		_, _ = VerifyPassword(pw, s.dummyHash)
		_ = s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_LOGIN_FAILED, ActorEmail: acct.Email, Detail: what + " while locked"})
		s.observer.PasswordCheckFailed(FailedLocked)
		return false, &services.Error{Code: services.ResourceExhausted, Message: "too many failed attempts; the account is locked for a while", RetryAfter: wait}
	}
	ok, err := VerifyPassword(pw, acct.PasswordHash)
	if err != nil {
		return false, err
	}
	if detail, reason := refused(ok); detail != "" {
		s.observer.PasswordCheckFailed(reason)
		return false, s.failed(ctx, acct, reason != FailedUnknownEmail, detail)
	}
	return true, nil
}

// failed records a failed password check of acct (known says whether it is
// an account or an email that belongs to none) and locks it when it is one
// too many. The failure and its event are one commit; the lock is derived
// from the failures, so its event is recorded after it, as a consequence.
func (s *Service) failed(ctx context.Context, acct Account, known bool, detail string) error {
	ev := audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_LOGIN_FAILED, ActorEmail: acct.Email, Detail: detail}
	if known {
		ev.ActorID, ev.TargetType, ev.TargetID = acct.ID, "staff", acct.ID
	}
	ev = s.audit.Stamp(ctx, ev)
	if err := s.failures.AddFailure(ctx, Failure{Key: acct.ID, At: ev.Time, IP: ev.IP}, ev); err != nil {
		return err
	}
	if s.audit.Project(ctx, ev) == nil {
		if err := s.failures.FailureProjected(context.WithoutCancel(ctx), ev.ID); err != nil {
			s.logger.Warn("sign-in failure audit mark not cleared", "event_id", ev.ID, "error", err.Error())
		}
	}
	if wait, own, err := s.lockedFor(ctx, acct, ev.IP); err == nil && wait > 0 {
		from := "other"
		if own {
			from = "its own"
		}
		lock := audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_ACCOUNT_LOCKED, ActorEmail: acct.Email,
			Detail: fmt.Sprintf("locked for %s from %s addresses", wait.Round(time.Second), from)}
		if known {
			lock.ActorID, lock.TargetType, lock.TargetID = acct.ID, "staff", acct.ID
		}
		_ = s.audit.Record(ctx, lock)
		s.observer.AccountLocked()
	}
	return errBadCredentials
}

// lockedFor says how long acct stays locked for a check from ip, and
// whether ip is one of the account's own addresses. Failures
// since its last successful sign-in (within a day) beyond the threshold
// lock it for a time that doubles with each further failure. Failures from
// the addresses the account signed in from in the last 30 days count apart
// from all others: a stranger's guesses lock out strangers, not the staff
// at their own desk. The state is in the database, so every server process
// sees the same lock.
func (s *Service) lockedFor(ctx context.Context, acct Account, ip string) (wait time.Duration, own bool, err error) {
	since := s.now().Add(-24 * time.Hour)
	if acct.LastLogin.After(since) {
		since = acct.LastLogin
	}
	fails, err := s.failures.Failures(ctx, acct.ID, since)
	if err != nil {
		return 0, false, err
	}
	addrs, err := s.sessions.SignInAddresses(ctx, acct.ID, s.now().Add(-30*24*time.Hour))
	if err != nil {
		return 0, false, err
	}
	own = slices.Contains(addrs, ip)
	var counted []time.Time
	for _, f := range fails {
		if slices.Contains(addrs, f.IP) == own {
			counted = append(counted, f.At)
		}
	}
	if len(counted) < s.cfg.LockoutThreshold {
		return 0, own, nil
	}
	extra := len(counted) - s.cfg.LockoutThreshold
	lock := s.cfg.LockoutMax
	if extra < 30 {
		lock = time.Duration(math.Min(float64(s.cfg.LockoutBase)*math.Pow(2, float64(extra)), float64(s.cfg.LockoutMax)))
	}
	until := counted[0].Add(lock)
	return max(0, until.Sub(s.now())), own, nil
}

// startSession commits a new session with its first refresh token, the
// sign-in's event and the account's last sign-in in one step, then projects
// the event.
func (s *Service) startSession(ctx context.Context, acct Account) (*Grant, error) {
	now := s.now()
	peer := services.PeerFrom(ctx)
	sess := Session{ID: s.newID(), StaffID: acct.ID, Created: now, LastUsed: now, Expires: now.Add(s.cfg.RefreshTTL),
		IP: peer.IP, UserAgent: truncate(peer.UserAgent, 300)}
	refresh, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_LOGIN_SUCCEEDED, ActorID: acct.ID, ActorEmail: acct.Email,
		TargetType: "session", TargetID: sess.ID})
	if err := s.sessions.Create(ctx, sess, RefreshToken{Hash: hashToken(refresh), SessionID: sess.ID, Expires: sess.Expires}, ev); err != nil {
		return nil, err
	}
	if s.audit.Project(ctx, ev) == nil {
		if err := s.sessions.StartProjected(context.WithoutCancel(ctx), sess.ID); err != nil {
			s.logger.Warn("sign-in audit mark not cleared", "session_id", sess.ID, "error", err.Error())
		}
	}
	acct.LastLogin = now
	return s.issue(acct, sess.ID, refresh, sess.Expires)
}

// grant issues an access token and a fresh refresh token for a session.
func (s *Service) grant(ctx context.Context, acct Account, sessionID string, refreshExpires time.Time) (*Grant, error) {
	refresh, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	if err := s.sessions.AddToken(ctx, RefreshToken{Hash: hashToken(refresh), SessionID: sessionID, Expires: refreshExpires}); err != nil {
		return nil, err
	}
	return s.issue(acct, sessionID, refresh, refreshExpires)
}

// issue signs an access token for a session whose refresh token is stored.
func (s *Service) issue(acct Account, sessionID, refresh string, refreshExpires time.Time) (*Grant, error) {
	access, exp, err := s.tokens.Issue(acct, sessionID)
	if err != nil {
		return nil, err
	}
	return &Grant{AccessToken: access, AccessExpires: exp, RefreshToken: refresh, RefreshExpires: refreshExpires, Account: acct, SessionID: sessionID}, nil
}

// newRefreshToken returns 32 random bytes, URL-safe.
func newRefreshToken() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

var errNoSession = services.Errorf(services.Unauthenticated, "not signed in")

// Refresh exchanges a refresh token for a new one and a new access token.
// Each refresh token works once: presenting one again means it was stolen
// or replayed, so the whole session ends and the event is recorded.
func (s *Service) Refresh(ctx context.Context, refresh string) (*Grant, error) {
	if refresh == "" {
		return nil, errNoSession
	}
	hash := hashToken(refresh)
	tok, err := s.sessions.GetToken(ctx, hash)
	if services.ErrorCode(err) == services.NotFound {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	sess, err := s.sessions.Get(ctx, tok.SessionID)
	if err != nil {
		if services.ErrorCode(err) == services.NotFound {
			return nil, errNoSession
		}
		return nil, err
	}
	now := s.now()
	if sess.Revoked() || !now.Before(tok.Expires) || !now.Before(sess.Expires) {
		return nil, errNoSession
	}
	if err := s.sessions.UseToken(ctx, hash, now); err != nil {
		if services.ErrorCode(err) != services.AlreadyExists {
			return nil, err
		}
		if err := s.revoke(ctx, sess.ID, "refresh token reused", audit.Event{}); err != nil {
			return nil, err
		}
		_ = s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_TOKEN_REUSE, ActorID: sess.StaffID,
			TargetType: "session", TargetID: sess.ID, Detail: "a used refresh token was presented again; the session was ended"})
		return nil, errNoSession
	}
	acct, err := s.accounts.Get(ctx, sess.StaffID)
	if err != nil {
		return nil, err
	}
	if acct.Disabled {
		_ = s.revoke(ctx, sess.ID, "account disabled", audit.Event{})
		return nil, errNoSession
	}
	expires := now.Add(s.cfg.RefreshTTL)
	if err := s.sessions.Touch(ctx, sess.ID, now, expires); err != nil {
		return nil, err
	}
	return s.grant(ctx, acct, sess.ID, expires)
}

// Logout ends the session of a refresh token. Without a valid one there is
// nothing to end, and that is not an error.
func (s *Service) Logout(ctx context.Context, refresh string) error {
	if refresh == "" {
		return nil
	}
	tok, err := s.sessions.GetToken(ctx, hashToken(refresh))
	if services.ErrorCode(err) == services.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	sess, err := s.sessions.Get(ctx, tok.SessionID)
	if err != nil || sess.Revoked() {
		return nil
	}
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_LOGOUT, ActorID: sess.StaffID, TargetType: "session", TargetID: sess.ID})
	return s.revoke(ctx, sess.ID, "signed out", ev)
}

// revoke ends a session, its end carrying ev (none if ev.ID is empty). Only
// the call that ends it projects ev: a session ends once. An error after the
// end is committed is returned (the session may still work until its end is
// recorded on it), and calling again finishes it without a second event.
func (s *Service) revoke(ctx context.Context, sessionID, reason string, ev audit.Event) error {
	ended, err := s.sessions.Revoke(ctx, sessionID, s.now(), reason, ev)
	if ended || err == nil {
		s.revocations.Add(sessionID)
		// The other processes hear of it from the change log at once, or
		// from their minute sweep of the ended sessions if this is lost.
		if perr := s.changes.Publish(context.WithoutCancel(ctx), ChangeKindSession, sessionID, 1); perr != nil {
			s.logger.Warn("session end not published", "session_id", sessionID, "error", perr.Error())
		}
	}
	if ended && ev.ID != "" && s.audit.Project(ctx, ev) == nil && err == nil {
		if err := s.sessions.AuditProjected(context.WithoutCancel(ctx), sessionID); err != nil {
			s.logger.Warn("session audit mark not cleared", "session_id", sessionID, "error", err.Error())
		}
	}
	return err
}

// projectAccount appends the event committed with version a of an account
// to the trail and clears its mark. Nothing here can fail the change.
func (s *Service) projectAccount(ctx context.Context, a Account, ev audit.Event) {
	if s.audit.Project(ctx, ev) != nil {
		return // logged by the recorder; recovery projects it again
	}
	if err := s.accounts.AuditProjected(context.WithoutCancel(ctx), a.ID, a.Version); err != nil {
		s.logger.Warn("staff audit mark not cleared", "staff_id", a.ID, "error", err.Error())
	}
}

// revokeAll ends every session of staffID except keep.
func (s *Service) revokeAll(ctx context.Context, staffID, keep, reason string) error {
	active, err := s.sessions.ListActive(ctx, staffID, s.now())
	if err != nil {
		return err
	}
	for _, sess := range active {
		if sess.ID != keep {
			if err := s.revoke(ctx, sess.ID, reason, audit.Event{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context) (Account, error) {
	p := services.PrincipalFrom(ctx)
	if p == nil {
		return Account{}, errNoSession
	}
	return s.accounts.Get(ctx, p.StaffID)
}

// ChangePassword changes the caller's password after checking the current
// one, clears a forced change, and ends the caller's other sessions.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	p := services.PrincipalFrom(ctx)
	acct, err := s.Me(ctx)
	if err != nil {
		return err
	}
	// The current password is checked under the sign-in's limits: per
	// address, and the account's lockout, which wrong guesses here count
	// towards as at sign-in.
	if ok, wait := s.limiter.allow(services.PeerFrom(ctx).IP); !ok {
		_ = s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_RATE_LIMITED, ActorEmail: acct.Email, Detail: "password checks from this address"})
		s.observer.PasswordCheckFailed(FailedRateLimited)
		return &services.Error{Code: services.ResourceExhausted, Message: "too many password checks from this address; try again later", RetryAfter: wait}
	}
	_, err = s.checkPassword(ctx, acct, current, "password change", func(ok bool) (string, FailureReason) {
		if !ok {
			return "wrong current password when changing it", FailedWrongPassword
		}
		return "", ""
	})
	if err == errBadCredentials {
		return services.InvalidFields(services.Violation{Field: "current_password", Rule: "auth.current_password.wrong", Message: "the current password is wrong"})
	}
	if err != nil {
		return err
	}
	if err := checkNewPassword("new_password", next, acct); err != nil {
		return err
	}
	if next == current {
		return services.InvalidFields(services.Violation{Field: "new_password", Rule: "auth.new_password.unchanged", Message: "the new password must differ from the current one"})
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return err
	}
	acct.PasswordHash, acct.MustChangePassword, acct.Updated = hash, false, s.now()
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_PASSWORD_CHANGED, TargetType: "staff", TargetID: acct.ID})
	saved, err := s.accounts.Update(ctx, acct, ev)
	if err != nil {
		return err
	}
	// The password is changed whatever happens next. The other sessions end
	// first, and a failure to end them is reported, as they may go on working.
	err = s.revokeAll(ctx, acct.ID, p.SessionID, "password changed")
	s.projectAccount(ctx, saved, ev)
	return err
}

// checkNewPassword applies the password policy: long enough, and not the
// email or name.
func checkNewPassword(field, pw string, acct Account) error {
	if len([]rune(pw)) < MinPasswordLength {
		return services.InvalidFields(services.Violation{Field: field, Rule: "auth.password.length", Message: fmt.Sprintf("use at least %d characters", MinPasswordLength)})
	}
	low := strings.ToLower(pw)
	local, _, _ := strings.Cut(acct.Email, "@")
	if low == acct.Email || (len(local) >= 4 && strings.Contains(low, local)) {
		return services.InvalidFields(services.Violation{Field: field, Rule: "auth.password.personal", Message: "the password must not contain the email"})
	}
	return nil
}

// Sessions lists active sessions of staffID (the caller's when empty).
func (s *Service) Sessions(ctx context.Context, staffID string) ([]Session, error) {
	p := services.PrincipalFrom(ctx)
	if staffID == "" {
		staffID = p.StaffID
	}
	if staffID != p.StaffID && !p.Can(molarv1.Permission_PERMISSION_STAFF_MANAGE) {
		return nil, services.Errorf(services.PermissionDenied, "only admins see other people's sessions")
	}
	return s.sessions.ListActive(ctx, staffID, s.now())
}

// RevokeSession ends a session of the caller, or anyone's for an admin.
func (s *Service) RevokeSession(ctx context.Context, id string) error {
	p := services.PrincipalFrom(ctx)
	sess, err := s.sessions.Get(ctx, id)
	if err != nil {
		return err
	}
	if sess.StaffID != p.StaffID && !p.Can(molarv1.Permission_PERMISSION_STAFF_MANAGE) {
		return services.Errorf(services.NotFound, "session not found")
	}
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_SESSION_REVOKED, TargetType: "session", TargetID: id,
		Detail: "session of staff " + sess.StaffID})
	return s.revoke(ctx, id, "revoked by "+p.Email, ev)
}

// CreateAccount creates a staff account. With mustChange the password is
// temporary (set by an admin); the first admin, created from the command
// line, chooses their own.
func (s *Service) CreateAccount(ctx context.Context, email, name string, roles []molarv1.Role, password string, mustChange bool) (Account, error) {
	now := s.now()
	acct := Account{ID: s.newID(), Email: NormalizeEmail(email), DisplayName: strings.TrimSpace(name), Roles: sortedRoles(roles),
		MustChangePassword: mustChange, Created: now, Updated: now, Version: 1}
	if err := checkNewPassword("temporary_password", password, acct); err != nil {
		return Account{}, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return Account{}, err
	}
	acct.PasswordHash = hash
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_STAFF_CREATED, TargetType: "staff", TargetID: acct.ID,
		Detail: "roles " + roleList(acct.Roles)})
	if err := s.accounts.Create(ctx, acct, ev); err != nil {
		if services.ErrorCode(err) == services.AlreadyExists {
			return Account{}, services.InvalidFields(services.Violation{Field: "email", Rule: "staff.email.taken", Message: "an account with this email exists"})
		}
		return Account{}, err
	}
	s.projectAccount(ctx, acct, ev)
	return acct, nil
}

// UpdateAccount changes name and roles. An admin cannot remove their own
// admin role, so the clinic is never left without one by accident.
func (s *Service) UpdateAccount(ctx context.Context, id, name string, roles []molarv1.Role, version int64) (Account, error) {
	acct, err := s.accounts.Get(ctx, id)
	if err != nil {
		return Account{}, err
	}
	if acct.Version != version {
		return Account{}, services.Errorf(services.Aborted, "the account was changed by someone else; reload and try again")
	}
	roles = sortedRoles(roles)
	if p := services.PrincipalFrom(ctx); p != nil && p.StaffID == id && slices.Contains(acct.Roles, molarv1.Role_ROLE_ADMIN) && !slices.Contains(roles, molarv1.Role_ROLE_ADMIN) {
		return Account{}, services.InvalidFields(services.Violation{Field: "roles", Rule: "staff.roles.keep_own_admin", Message: "you cannot remove your own admin role"})
	}
	before := roleList(acct.Roles)
	// Access tokens carry the roles they were issued with: a change of roles
	// ends the account's sessions, so that its next call of every session
	// is refused and the next sign-in carries the new roles. They end before
	// the change commits (a failed change only costs a sign-in) and again
	// after it, for a session begun in between.
	rolesChanged := !slices.Equal(sortedRoles(acct.Roles), roles)
	if rolesChanged {
		if err := s.revokeAll(ctx, id, "", "roles changed"); err != nil {
			return Account{}, err
		}
	}
	acct.DisplayName, acct.Roles, acct.Updated = strings.TrimSpace(name), roles, s.now()
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_STAFF_UPDATED, TargetType: "staff", TargetID: id,
		Detail: fmt.Sprintf("roles %s → %s", before, roleList(roles))})
	acct, err = s.accounts.Update(ctx, acct, ev)
	if err != nil {
		return Account{}, err
	}
	if rolesChanged {
		err = s.revokeAll(ctx, id, "", "roles changed")
	}
	s.projectAccount(ctx, acct, ev)
	if err != nil {
		return Account{}, err
	}
	return acct, nil
}

// SetDisabled disables (ending every session) or enables an account.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool) (Account, error) {
	acct, err := s.accounts.Get(ctx, id)
	if err != nil {
		return Account{}, err
	}
	if p := services.PrincipalFrom(ctx); p != nil && p.StaffID == id && disabled {
		return Account{}, services.Errorf(services.FailedPrecondition, "you cannot disable your own account")
	}
	if acct.Disabled == disabled {
		if disabled {
			// A retry finishes a disable whose sessions were not all ended.
			return acct, s.revokeAll(ctx, id, "", "account disabled")
		}
		return acct, nil
	}
	acct.Disabled, acct.Updated = disabled, s.now()
	action := molarv1.AuditAction_AUDIT_ACTION_STAFF_ENABLED
	if disabled {
		action = molarv1.AuditAction_AUDIT_ACTION_STAFF_DISABLED
	}
	ev := s.audit.Stamp(ctx, audit.Event{Action: action, TargetType: "staff", TargetID: id})
	if acct, err = s.accounts.Update(ctx, acct, ev); err != nil {
		return Account{}, err
	}
	if disabled {
		// Disabled whatever happens next. The sessions end first, and a
		// failure to end them is reported, as they may go on working; a retry
		// ends them.
		err = s.revokeAll(ctx, id, "", "account disabled")
	}
	s.projectAccount(ctx, acct, ev)
	if err != nil {
		return Account{}, err
	}
	return acct, nil
}

// ResetPassword sets a temporary password, forces a change and ends the
// account's sessions.
func (s *Service) ResetPassword(ctx context.Context, id, temporary string) (Account, error) {
	acct, err := s.accounts.Get(ctx, id)
	if err != nil {
		return Account{}, err
	}
	if err := checkNewPassword("temporary_password", temporary, acct); err != nil {
		return Account{}, err
	}
	hash, err := s.hash(ctx, temporary)
	if err != nil {
		return Account{}, err
	}
	acct.PasswordHash, acct.MustChangePassword, acct.Updated = hash, true, s.now()
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_PASSWORD_RESET, TargetType: "staff", TargetID: id})
	if acct, err = s.accounts.Update(ctx, acct, ev); err != nil {
		return Account{}, err
	}
	// Reset whatever happens next. The sessions end first, and a failure to
	// end them is reported, as they may go on working.
	err = s.revokeAll(ctx, id, "", "password reset")
	s.projectAccount(ctx, acct, ev)
	if err != nil {
		return Account{}, err
	}
	return acct, nil
}

// ListAccounts lists every account by display name.
func (s *Service) ListAccounts(ctx context.Context) ([]Account, error) {
	all, err := s.accounts.List(ctx)
	slices.SortFunc(all, func(a, b Account) int { return strings.Compare(a.DisplayName, b.DisplayName) })
	return all, err
}

func sortedRoles(rs []molarv1.Role) []molarv1.Role {
	out := slices.Clone(rs)
	slices.Sort(out)
	return slices.Compact(out)
}

func roleList(rs []molarv1.Role) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = RoleName(r)
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
