package storetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
)

// Auth is what an engine gives the auth service: a fresh, empty database's
// account, session and failure stores and audit trail, all on one
// database, dropped when the test ends.
type Auth struct {
	Accounts auth.AccountStore
	Sessions auth.SessionStore
	Failures auth.FailureStore
	Audit    audit.Store
	Changes  auth.Changes
	// Sparse asks the fault matrix to fault each call one way only.
	Sparse bool
	// AuditInCommit says the stores write a change's audit record into the
	// trail inside the change's own commit, so a trail that refuses appends
	// (only the projection after the commit goes through it) does not keep
	// the record out. Otherwise the record is pending until projected.
	AuditInCommit bool
}

// AuthEngine opens a fresh Auth for a test.
type AuthEngine func(t *testing.T) Auth

// TestAuth runs the contract of staff accounts, sessions, refresh tokens
// and failed sign-ins against an engine.
func TestAuth(t *testing.T, open AuthEngine) {
	for name, test := range map[string]func(*testing.T, AuthEngine){
		"account round trip":                          accountRoundTrip,
		"account update is one winner":                accountUpdateIsOneWinner,
		"refresh token is used once":                  refreshTokenIsUsedOnce,
		"session ends once":                           sessionEndsOnce,
		"failures newest first":                       failuresNewestFirst,
		"sign-in addresses":                           signInAddresses,
		"a day of staff changes survives every fault": staffSurvivesEveryFault,
		"change stands when trail fails": func(t *testing.T, open AuthEngine) {
			changeStandsWhenTrailFails(t, func(t *testing.T) *authWorld { return newAuthWorld(t, open(t)) }, authChanges())
		},
		"change projected once": func(t *testing.T, open AuthEngine) {
			changeProjectedOnce(t, func(t *testing.T) *authWorld { return newAuthWorld(t, open(t)) }, authChanges())
		},
		"crash after commit": func(t *testing.T, open AuthEngine) {
			crashAfterCommit(t, func(t *testing.T) *authWorld { return newAuthWorld(t, open(t)) }, authChanges())
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// authNow is the clock of every auth test: nothing here waits on the wall.
// It has a fraction of a millisecond, which stores may drop.
var authNow = time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)

func deskAccount(id, email string) auth.Account {
	return auth.Account{ID: id, Email: email, DisplayName: "데스크", Roles: []molarv1.Role{molarv1.Role_ROLE_FRONT_DESK},
		PasswordHash: "x", Created: authNow, Updated: authNow, Version: 1}
}

// accountRoundTrip stores an account and reads it back by id, by email and
// in the list, to the millisecond; a second account with the same email is
// refused, and unknown ids and emails are not found.
func accountRoundTrip(t *testing.T, open AuthEngine) {
	ctx := context.Background()
	e := open(t)
	a := deskAccount("s1", "desk@molar.test")
	a.Roles = []molarv1.Role{molarv1.Role_ROLE_DENTIST, molarv1.Role_ROLE_FRONT_DESK}
	a.MustChangePassword = true
	if err := e.Accounts.Create(ctx, a, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	want := a
	want.Created, want.Updated = authNow.Truncate(time.Millisecond), authNow.Truncate(time.Millisecond)
	for name, get := range map[string]func() (auth.Account, error){
		"Get":        func() (auth.Account, error) { return e.Accounts.Get(ctx, "s1") },
		"GetByEmail": func() (auth.Account, error) { return e.Accounts.GetByEmail(ctx, "desk@molar.test") },
		"List": func() (auth.Account, error) {
			all, err := e.Accounts.List(ctx)
			if err != nil || len(all) != 1 {
				return auth.Account{}, fmt.Errorf("list: %d accounts, %v", len(all), err)
			}
			return all[0], nil
		},
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if err := e.Accounts.Create(ctx, deskAccount("s2", "desk@molar.test"), audit.Event{}); services.ErrorCode(err) != services.AlreadyExists {
		t.Errorf("second account with the email: %v, want AlreadyExists", err)
	}
	if _, err := e.Accounts.Get(ctx, "s2"); services.ErrorCode(err) != services.NotFound {
		t.Errorf("the refused account: %v, want NotFound", err)
	}
	if _, err := e.Accounts.GetByEmail(ctx, "nobody@molar.test"); services.ErrorCode(err) != services.NotFound {
		t.Errorf("unknown email: %v, want NotFound", err)
	}
}

// accountUpdateIsOneWinner races updates of one account from the same
// version: exactly one wins, the others are refused with Aborted, and the
// account shows the winner's change.
func accountUpdateIsOneWinner(t *testing.T, open AuthEngine) {
	ctx := context.Background()
	repo := open(t).Accounts
	now := authNow
	base := deskAccount("s1", "desk@molar.test")
	if err := repo.Create(ctx, base, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := repo.SetLastLogin(ctx, "s1", now); err != nil {
		t.Fatal(err)
	}
	winner := oneWinner(t, 20, services.Aborted, func(i int) (string, error) {
		a := base
		a.DisplayName = fmt.Sprintf("writer %d", i)
		_, err := repo.Update(ctx, a, audit.Event{})
		return a.DisplayName, err
	})
	got, err := repo.Get(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.DisplayName != winner {
		t.Fatalf("account %q at version %d, want %q at 2", got.DisplayName, got.Version, winner)
	}
	if !got.LastLogin.Equal(now.UTC().Truncate(time.Millisecond)) {
		t.Errorf("last sign-in %v lost by the update, want %v", got.LastLogin, now)
	}
	if _, err := repo.Update(ctx, auth.Account{ID: "nobody", Version: 1}, audit.Event{}); services.ErrorCode(err) != services.NotFound {
		t.Errorf("update of an unknown account: %v, want NotFound", err)
	}
}

// oneWinner races n writers (write(i) returns what writer i wrote):
// exactly one must succeed and every other fail with lose. It returns what
// the winner wrote.
func oneWinner(t *testing.T, n int, lose services.Code, write func(i int) (string, error)) string {
	t.Helper()
	var wins, lost atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wrote, err := write(i)
			switch {
			case err == nil:
				wins.Add(1)
				winner.Store(wrote)
			case services.ErrorCode(err) == lose:
				lost.Add(1)
			default:
				t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || lost.Load() != int32(n-1) {
		t.Fatalf("%d wins and %d lost (%v), want 1 and %d", wins.Load(), lost.Load(), lose, n-1)
	}
	return winner.Load().(string)
}

// refreshTokenIsUsedOnce races uses of one refresh token: exactly one
// succeeds, every other is told AlreadyExists, and so is a use after the
// race.
func refreshTokenIsUsedOnce(t *testing.T, open AuthEngine) {
	ctx := context.Background()
	st := open(t).Sessions
	tok := auth.RefreshToken{Hash: "hash-1", SessionID: "sess-1", Expires: authNow.Add(12 * time.Hour)}
	if err := st.AddToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetToken(ctx, "hash-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != tok.Hash || got.SessionID != tok.SessionID || !got.Expires.Equal(tok.Expires.Truncate(time.Millisecond)) {
		t.Fatalf("token %+v, want %+v", got, tok)
	}
	if _, err := st.GetToken(ctx, "unknown"); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("unknown token: %v, want NotFound", err)
	}
	if err := st.AddToken(ctx, tok); services.ErrorCode(err) != services.AlreadyExists {
		t.Fatalf("the same hash again: %v, want AlreadyExists", err)
	}
	const users = 20
	var used, refused atomic.Int32
	var wg sync.WaitGroup
	for range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := st.UseToken(ctx, "hash-1", authNow); services.ErrorCode(err) {
			case 0:
				if err != nil {
					t.Errorf("use: %v", err)
					return
				}
				used.Add(1)
			case services.AlreadyExists:
				refused.Add(1)
			default:
				t.Errorf("use: %v", err)
			}
		}()
	}
	wg.Wait()
	if used.Load() != 1 || refused.Load() != users-1 {
		t.Fatalf("%d uses succeeded and %d were refused, want 1 and %d", used.Load(), refused.Load(), users-1)
	}
	if err := st.UseToken(ctx, "hash-1", authNow.Add(time.Minute)); services.ErrorCode(err) != services.AlreadyExists {
		t.Fatalf("a use after the race: %v, want AlreadyExists", err)
	}
}

// sessionEndsOnce stores sessions and races the end of one of them: exactly
// one call ends it, its event (and only its) reaches the trail once the
// stores have recovered, the session shows the winner's end, and ending it
// again changes nothing.
func sessionEndsOnce(t *testing.T, open AuthEngine) {
	ctx := context.Background()
	e := open(t)
	st := e.Sessions
	session := func(id, staff string, created time.Time, ttl time.Duration) auth.Session {
		return auth.Session{ID: id, StaffID: staff, Created: created, LastUsed: created, Expires: created.Add(ttl), IP: "10.0.0.7", UserAgent: "Firefox"}
	}
	older := session("sess-1", "s1", authNow.Add(-time.Hour), 12*time.Hour)
	newer := session("sess-2", "s1", authNow.Add(-time.Minute), 12*time.Hour)
	first := func(s auth.Session) auth.RefreshToken {
		return auth.RefreshToken{Hash: "first-" + s.ID, SessionID: s.ID, Expires: s.Expires}
	}
	for _, s := range []auth.Session{older, newer, session("sess-3", "s1", authNow.Add(-13*time.Hour), 12*time.Hour), session("sess-4", "s2", authNow, time.Hour)} {
		if err := st.Create(ctx, s, first(s), audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	if tok, err := st.GetToken(ctx, "first-sess-2"); err != nil || tok.SessionID != "sess-2" {
		t.Fatalf("the first token of a session: %+v, %v", tok, err)
	}
	again := first(older)
	again.Hash = "another"
	if err := st.Create(ctx, older, again, audit.Event{}); services.ErrorCode(err) != services.AlreadyExists {
		t.Fatalf("the same session again: %v, want AlreadyExists", err)
	}
	if _, err := st.Get(ctx, "unknown"); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("unknown session: %v, want NotFound", err)
	}
	if err := st.Touch(ctx, "sess-1", authNow, authNow.Add(12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	want := older
	want.Created = older.Created.Truncate(time.Millisecond)
	want.LastUsed, want.Expires = authNow.Truncate(time.Millisecond), authNow.Add(12*time.Hour).Truncate(time.Millisecond)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("touched session (-want +got):\n%s", diff)
	}
	active := func() []string {
		t.Helper()
		ss, err := st.ListActive(ctx, "s1", authNow)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range ss {
			ids = append(ids, s.ID)
		}
		return ids
	}
	if diff := cmp.Diff([]string{"sess-2", "sess-1"}, active()); diff != "" {
		t.Fatalf("active sessions, newest first, without the expired one (-want +got):\n%s", diff)
	}

	const callers = 20
	end := authNow.Truncate(time.Millisecond).Add(time.Second)
	var ended atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := audit.Event{ID: fmt.Sprintf("ev-%02d", i), Time: end, Action: molarv1.AuditAction_AUDIT_ACTION_SESSION_REVOKED,
				TargetType: "session", TargetID: "sess-1"}
			ok, err := st.Revoke(ctx, "sess-1", end, fmt.Sprintf("caller %d", i), ev)
			if err != nil {
				t.Errorf("revoke: %v", err)
				return
			}
			if ok {
				ended.Add(1)
				winner.Store(i)
			}
		}()
	}
	wg.Wait()
	if ended.Load() != 1 {
		t.Fatalf("%d calls ended the session, want 1", ended.Load())
	}
	rig := newTrailRig(e.Audit, e.AuditInCommit, func() time.Time { return authNow }, e.Accounts, e.Sessions, e.Failures)
	rig.recover(t)
	events := rig.events(t, "sess-1", molarv1.AuditAction_AUDIT_ACTION_SESSION_REVOKED)
	if len(events) != 1 || events[0].ID != fmt.Sprintf("ev-%02d", winner.Load()) {
		t.Fatalf("trail has %v, want only the event of caller %d", events, winner.Load())
	}
	got, err = st.Get(ctx, "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Revoked() || !got.RevokedAt.Equal(end) || got.Reason != fmt.Sprintf("caller %d", winner.Load()) {
		t.Fatalf("session ended at %v for %q, want at %v by caller %d", got.RevokedAt, got.Reason, end, winner.Load())
	}
	if diff := cmp.Diff([]string{"sess-2"}, active()); diff != "" {
		t.Fatalf("active sessions after the end (-want +got):\n%s", diff)
	}
	if ids, err := st.RevokedSince(ctx, end); err != nil || !cmp.Equal(ids, []string{"sess-1"}) {
		t.Fatalf("ended since the end: %v, %v", ids, err)
	}
	if ids, err := st.RevokedSince(ctx, end.Add(time.Millisecond)); err != nil || len(ids) != 0 {
		t.Fatalf("ended after the end: %v, %v", ids, err)
	}
	if ok, err := st.Revoke(ctx, "sess-1", end.Add(time.Minute), "again", audit.Event{}); ok || err != nil {
		t.Fatalf("ending it again: %v, %v; want false and no error", ok, err)
	}
	if got, _ := st.Get(ctx, "sess-1"); !got.RevokedAt.Equal(end) {
		t.Fatalf("ending it again moved the end to %v", got.RevokedAt)
	}
}

// failuresNewestFirst records failed password checks of two keys from two
// addresses and reads those of one key strictly after a time, newest first,
// and counts those of one address whatever their key.
func failuresNewestFirst(t *testing.T, open AuthEngine) {
	ctx := context.Background()
	st := open(t).Failures
	at := func(s int) time.Time { return authNow.Truncate(time.Millisecond).Add(time.Duration(s) * time.Second) }
	for _, f := range []struct {
		key, ip string
		s       int
	}{{"s1", "10.0.0.1", 0}, {"s1", "10.0.0.2", 2}, {"email:x@example.com", "10.0.0.1", 1}, {"s1", "10.0.0.1", 1}} {
		if err := st.AddFailure(ctx, auth.Failure{Key: f.key, At: at(f.s), IP: f.ip}, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	fail := func(s int, ip string) auth.Failure { return auth.Failure{Key: "s1", At: at(s), IP: ip} }
	for _, c := range []struct {
		since time.Time
		want  []auth.Failure
	}{
		{at(0).Add(-time.Millisecond), []auth.Failure{fail(2, "10.0.0.2"), fail(1, "10.0.0.1"), fail(0, "10.0.0.1")}},
		{at(0), []auth.Failure{fail(2, "10.0.0.2"), fail(1, "10.0.0.1")}},
		{at(2), nil},
	} {
		got, err := st.Failures(ctx, "s1", c.since)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.want, got, cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(0)); diff != "" {
			t.Errorf("failures after %v (-want +got):\n%s", c.since, diff)
		}
	}
	for _, c := range []struct {
		ip    string
		since time.Time
		want  int
	}{
		{"10.0.0.1", at(0).Add(-time.Millisecond), 3},
		{"10.0.0.1", at(0), 2},
		{"10.0.0.2", at(0), 1},
		{"10.0.0.3", at(0), 0},
	} {
		if got, err := st.FailuresFrom(ctx, c.ip, c.since); err != nil || got != c.want {
			t.Errorf("failures from %s after %v: %d, %v; want %d", c.ip, c.since, got, err, c.want)
		}
	}
}

// signInAddresses starts sessions of two people from several addresses
// and reads the distinct addresses of one after a time.
func signInAddresses(t *testing.T, open AuthEngine) {
	ctx := context.Background()
	st := open(t).Sessions
	at := func(s int) time.Time { return authNow.Truncate(time.Millisecond).Add(time.Duration(s) * time.Second) }
	for i, s := range []struct {
		staff, ip string
		s         int
	}{{"s1", "10.0.0.1", 0}, {"s1", "10.0.0.2", 1}, {"s1", "10.0.0.1", 2}, {"s2", "10.0.0.3", 2}, {"s1", "10.0.0.4", 3}} {
		id := fmt.Sprintf("sess-%d", i)
		sess := auth.Session{ID: id, StaffID: s.staff, Created: at(s.s), LastUsed: at(s.s), Expires: at(s.s).Add(time.Hour), IP: s.ip}
		if err := st.Create(ctx, sess, auth.RefreshToken{Hash: "h-" + id, SessionID: id, Expires: sess.Expires}, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.SignInAddresses(ctx, "s1", at(0))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"10.0.0.1", "10.0.0.2", "10.0.0.4"}, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("addresses of s1 after its first sign-in (-want +got):\n%s", diff)
	}
}

// authWorld is a server process's auth service over one database, seen
// through a trail that can fail or hold appends.
type authWorld struct {
	e   Auth
	r   *trailRig
	svc *auth.Service
}

func newAuthWorld(t *testing.T, e Auth) *authWorld {
	t.Helper()
	now := func() time.Time { return authNow }
	w := &authWorld{e: e, r: newTrailRig(e.Audit, e.AuditInCommit, now, e.Accounts, e.Sessions, e.Failures)}
	w.svc = newAuthService(t, auth.Deps{Accounts: e.Accounts, Sessions: e.Sessions, Failures: e.Failures, Changes: e.Changes, Audit: w.r.rec,
		NewID: newTestID}, e.Sessions)
	return w
}

// newAuthService is an auth service on the test clock with cheap password
// hashing, over the stores in d; revoked reads ended sessions.
func newAuthService(t *testing.T, d auth.Deps, revoked auth.SessionStore) *auth.Service {
	t.Helper()
	now := func() time.Time { return authNow }
	logger := slog.New(slog.DiscardHandler)
	keys, err := auth.ParseKeySet(auth.NewKeySpec("t1"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := auth.DefaultConfig
	cfg.Hash = auth.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	d.Tokens, d.Revocations = auth.NewTokens(keys, cfg.AccessTTL, now), auth.NewRevocations(revoked, time.Hour, now, logger)
	d.Now, d.Logger = now, logger
	svc, err := auth.NewService(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (w *authWorld) rig() *trailRig { return w.r }

func (w *authWorld) restart(t *testing.T) *authWorld { return newAuthWorld(t, w.e) }

func (w *authWorld) account(t *testing.T, id string) auth.Account {
	t.Helper()
	a, err := w.e.Accounts.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// staffAdmin is a signed-in admin's request context.
func staffAdmin(staffID string) context.Context {
	return services.WithPrincipal(context.Background(), &services.Principal{StaffID: staffID, Email: "admin@molar.test", Name: "원장",
		SessionID: "admin-session", Roles: []molarv1.Role{molarv1.Role_ROLE_ADMIN}, Permissions: map[molarv1.Permission]bool{
			molarv1.Permission_PERMISSION_STAFF_MANAGE: true}})
}

// authChanges lists every change of accounts and sessions that carries its
// audit event.
func authChanges() []trailCase[*authWorld] {
	ctx := staffAdmin("admin-1")
	staff := func(t *testing.T, w *authWorld) auth.Account {
		t.Helper()
		a, err := w.svc.CreateAccount(ctx, "hyg@molar.test", "간호사", []molarv1.Role{molarv1.Role_ROLE_HYGIENIST}, "temporary-pass-1", true)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	login := func(t *testing.T, w *authWorld) *auth.Grant {
		t.Helper()
		g, err := w.svc.Login(context.Background(), staff(t, w).Email, "temporary-pass-1")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	return []trailCase[*authWorld]{
		{"create staff", molarv1.AuditAction_AUDIT_ACTION_STAFF_CREATED, func(t *testing.T, w *authWorld) func() (string, error) {
			return func() (string, error) {
				a, err := w.svc.CreateAccount(ctx, "hyg@molar.test", "간호사", []molarv1.Role{molarv1.Role_ROLE_HYGIENIST}, "temporary-pass-1", true)
				return a.ID, err
			}
		}, func(t *testing.T, w *authWorld, id string) { w.account(t, id) }},
		{"staff roles", molarv1.AuditAction_AUDIT_ACTION_STAFF_UPDATED, func(t *testing.T, w *authWorld) func() (string, error) {
			a := staff(t, w)
			return func() (string, error) {
				_, err := w.svc.UpdateAccount(ctx, a.ID, "치위생사", []molarv1.Role{molarv1.Role_ROLE_DENTIST}, a.Version)
				return a.ID, err
			}
		}, func(t *testing.T, w *authWorld, id string) {
			if a := w.account(t, id); a.DisplayName != "치위생사" || a.Version != 2 {
				t.Errorf("account %q at version %d", a.DisplayName, a.Version)
			}
		}},
		{"disable staff", molarv1.AuditAction_AUDIT_ACTION_STAFF_DISABLED, func(t *testing.T, w *authWorld) func() (string, error) {
			g := login(t, w)
			return func() (string, error) {
				_, err := w.svc.SetDisabled(ctx, g.Account.ID, true)
				return g.Account.ID, err
			}
		}, func(t *testing.T, w *authWorld, id string) {
			if !w.account(t, id).Disabled {
				t.Error("account not disabled")
			}
			if active, _ := w.e.Sessions.ListActive(context.Background(), id, authNow); len(active) != 0 {
				t.Errorf("%d sessions still active", len(active))
			}
		}},
		{"reset password", molarv1.AuditAction_AUDIT_ACTION_PASSWORD_RESET, func(t *testing.T, w *authWorld) func() (string, error) {
			a := staff(t, w)
			return func() (string, error) {
				_, err := w.svc.ResetPassword(ctx, a.ID, "another-temp-22")
				return a.ID, err
			}
		}, func(t *testing.T, w *authWorld, id string) {
			if ok, _ := auth.VerifyPassword("another-temp-22", w.account(t, id).PasswordHash); !ok {
				t.Error("password not reset")
			}
		}},
		{"change password", molarv1.AuditAction_AUDIT_ACTION_PASSWORD_CHANGED, func(t *testing.T, w *authWorld) func() (string, error) {
			g := login(t, w)
			own := services.WithPrincipal(context.Background(), &services.Principal{StaffID: g.Account.ID, Email: g.Account.Email, SessionID: g.SessionID})
			return func() (string, error) {
				return g.Account.ID, w.svc.ChangePassword(own, "temporary-pass-1", "a-brand-new-pass-7")
			}
		}, func(t *testing.T, w *authWorld, id string) {
			if a := w.account(t, id); a.MustChangePassword {
				t.Error("a forced change is still asked for")
			} else if ok, _ := auth.VerifyPassword("a-brand-new-pass-7", a.PasswordHash); !ok {
				t.Error("password not changed")
			}
		}},
		{"sign in", molarv1.AuditAction_AUDIT_ACTION_LOGIN_SUCCEEDED, func(t *testing.T, w *authWorld) func() (string, error) {
			a := staff(t, w)
			return func() (string, error) {
				g, err := w.svc.Login(context.Background(), a.Email, "temporary-pass-1")
				if err != nil {
					return "", err
				}
				if _, err := w.svc.Refresh(context.Background(), g.RefreshToken); err != nil {
					return "", fmt.Errorf("the first refresh token: %w", err)
				}
				return g.SessionID, nil
			}
		}, func(t *testing.T, w *authWorld, id string) {
			s, err := w.e.Sessions.Get(context.Background(), id)
			if err != nil || s.Revoked() {
				t.Fatalf("session %+v, %v", s, err)
			}
			if a := w.account(t, s.StaffID); !a.LastLogin.Equal(authNow.Truncate(time.Millisecond)) {
				t.Errorf("last sign-in %v, want %v", a.LastLogin, authNow)
			}
		}},
		{"failed sign-in", molarv1.AuditAction_AUDIT_ACTION_LOGIN_FAILED, func(t *testing.T, w *authWorld) func() (string, error) {
			a := staff(t, w)
			return func() (string, error) {
				_, err := w.svc.Login(context.Background(), a.Email, "not-the-password")
				if services.ErrorCode(err) != services.Unauthenticated {
					return "", fmt.Errorf("a wrong password: %v, want Unauthenticated", err)
				}
				return a.ID, nil
			}
		}, func(t *testing.T, w *authWorld, id string) {
			if got, err := w.e.Failures.Failures(context.Background(), id, authNow.Add(-time.Hour)); err != nil || len(got) != 1 {
				t.Errorf("failures %v, %v; want one", got, err)
			}
		}},
		{"revoke session", molarv1.AuditAction_AUDIT_ACTION_SESSION_REVOKED, func(t *testing.T, w *authWorld) func() (string, error) {
			g := login(t, w)
			return func() (string, error) { return g.SessionID, w.svc.RevokeSession(ctx, g.SessionID) }
		}, func(t *testing.T, w *authWorld, id string) {
			if s, _ := w.e.Sessions.Get(context.Background(), id); !s.Revoked() {
				t.Error("session not revoked")
			}
		}},
		{"logout", molarv1.AuditAction_AUDIT_ACTION_LOGOUT, func(t *testing.T, w *authWorld) func() (string, error) {
			g := login(t, w)
			return func() (string, error) { return g.SessionID, w.svc.Logout(context.Background(), g.RefreshToken) }
		}, func(t *testing.T, w *authWorld, id string) {
			if s, _ := w.e.Sessions.Get(context.Background(), id); !s.Revoked() {
				t.Error("session not ended")
			}
		}},
	}
}

// The audit recovery cases: every change that carries its audit event is
// made with the trail refusing appends, with it up, and with the process
// stopping right after the commit. The harness is shared by the domains'
// suites (clinic.go).

// gatedTrail is an audit.Store over the engine's trail that can be told to
// fail every append, or to hold appends until released (a process that
// stops between a commit and its projection).
type gatedTrail struct {
	audit.Store

	mu      sync.Mutex
	failing bool
	hold    chan struct{} // appends wait for it to close, then fail
	entered chan struct{} // closed when an append first waits
}

var errGatedTrail = errors.New("audit trail unavailable")

func (g *gatedTrail) Append(ctx context.Context, e audit.Event) error {
	g.mu.Lock()
	failing, hold, entered := g.failing, g.hold, g.entered
	if hold != nil && entered != nil {
		close(entered)
		g.entered = nil
	}
	g.mu.Unlock()
	if hold != nil {
		<-hold
		return errGatedTrail
	}
	if failing {
		return errGatedTrail
	}
	return g.Store.Append(ctx, e)
}

func (g *gatedTrail) setFailing(v bool) {
	g.mu.Lock()
	g.failing = v
	g.mu.Unlock()
}

// holdAppends makes appends wait until the returned release is called; the
// channel is closed once one is waiting.
func (g *gatedTrail) holdAppends() (waiting <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold, g.entered = make(chan struct{}), make(chan struct{})
	hold, entered := g.hold, g.entered
	return entered, func() {
		g.mu.Lock()
		g.hold = nil
		g.mu.Unlock()
		close(hold)
	}
}

// auditRecoverer is a store with a recovery pass, run at start: it projects
// the events of changes committed but not yet in the trail.
type auditRecoverer interface {
	ReprojectAudit(ctx context.Context, project func(audit.Event) error) error
}

// trailRig is a process's side of the audit trail: the engine's trail, the
// gate the process appends through, its recorder, and the stores whose
// recovery pass it runs.
type trailRig struct {
	trail    audit.Store
	gate     *gatedTrail
	rec      *audit.Recorder
	stores   []any
	inCommit bool
}

func newTrailRig(trail audit.Store, inCommit bool, now func() time.Time, stores ...any) *trailRig {
	r := &trailRig{trail: trail, gate: &gatedTrail{Store: trail}, inCommit: inCommit}
	r.rec = audit.NewRecorder(r.gate, now, newTestID, slog.New(slog.DiscardHandler))
	for _, s := range stores {
		if !slices.Contains(r.stores, s) {
			r.stores = append(r.stores, s)
		}
	}
	return r
}

// recover runs every store's recovery pass, as start-up does.
func (r *trailRig) recover(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	project := func(e audit.Event) error { return r.rec.Project(ctx, e) }
	for _, s := range r.stores {
		if rp, ok := s.(auditRecoverer); ok {
			if err := rp.ReprojectAudit(ctx, project); err != nil {
				t.Fatalf("recovery: %v", err)
			}
		}
	}
}

// events returns the trail's events about target with action.
func (r *trailRig) events(t *testing.T, target string, action molarv1.AuditAction) []audit.Event {
	return trailEvents(t, r.trail, target, action)
}

// newestTarget returns the target of the newest event with action in the
// trail, "" if there is none.
func (r *trailRig) newestTarget(t *testing.T, action molarv1.AuditAction) string {
	return newestTarget(t, r.trail, action)
}

// trailEvents returns trail's events about target with action.
func trailEvents(t *testing.T, trail audit.Store, target string, action molarv1.AuditAction) []audit.Event {
	t.Helper()
	got, _, err := trail.List(context.Background(), audit.Filter{TargetID: target, Actions: []molarv1.AuditAction{action}}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// newestTarget returns the target of trail's newest event with action, ""
// if there is none.
func newestTarget(t *testing.T, trail audit.Store, action molarv1.AuditAction) string {
	t.Helper()
	got, _, err := trail.List(context.Background(), audit.Filter{Actions: []molarv1.AuditAction{action}}, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return ""
	}
	return got[0].TargetID
}

// trailWorld is a server process on one database: its side of the trail,
// and how to start another process on the same database.
type trailWorld[W any] interface {
	rig() *trailRig
	restart(t *testing.T) W
}

// trailCase is one kind of data change: prepare makes what it needs (with
// the trail up) and returns the change itself, one command that returns the
// id its audit event targets; check proves the change is stored.
type trailCase[W any] struct {
	name    string
	action  molarv1.AuditAction
	prepare func(t *testing.T, w W) (do func() (string, error))
	check   func(t *testing.T, w W, target string)
}

// withTrailFaults adds to a suite's tests the three audit fault cases
// (changeStandsWhenTrailFails, changeProjectedOnce, crashAfterCommit) of
// the changes cases names, each in a world opened over the engine.
func withTrailFaults[E any, W trailWorld[W]](tests map[string]func(*testing.T, E), world func(*testing.T, E) W, cases func() []trailCase[W]) map[string]func(*testing.T, E) {
	for name, run := range map[string]func(*testing.T, func(*testing.T) W, []trailCase[W]){
		"change stands when trail fails": changeStandsWhenTrailFails[W],
		"change projected once":          changeProjectedOnce[W],
		"crash after commit":             crashAfterCommit[W],
	} {
		tests[name] = func(t *testing.T, open E) { run(t, func(t *testing.T) W { return world(t, open) }, cases()) }
	}
	return tests
}

// runSuite runs a suite's named tests against an engine, in parallel.
func runSuite[E any](t *testing.T, open E, tests map[string]func(*testing.T, E)) {
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// changeStandsWhenTrailFails makes every kind of data change while the
// audit trail refuses appends: each change succeeds for the caller and is
// stored, its event is missing (unless the store wrote it in the commit),
// and the recovery pass at start puts the event in the trail exactly once,
// however often it runs.
func changeStandsWhenTrailFails[W trailWorld[W]](t *testing.T, open func(*testing.T) W, cases []trailCase[W]) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := open(t)
			do := c.prepare(t, w)
			w.rig().gate.setFailing(true)
			target, err := do()
			if err != nil {
				t.Fatalf("the change failed for the caller: %v", err)
			}
			c.check(t, w, target)
			want := 0
			if w.rig().inCommit {
				want = 1
			}
			if got := w.rig().events(t, target, c.action); len(got) != want {
				t.Fatalf("%d events in the trail while it was failing, want %d", len(got), want)
			}
			w.rig().gate.setFailing(false)
			for range 2 {
				w.rig().recover(t)
				if got := w.rig().events(t, target, c.action); len(got) != 1 {
					t.Fatalf("after recovery: %d %s events, want 1", len(got), c.action)
				}
			}
			c.check(t, w, target)
		})
	}
}

// changeProjectedOnce makes every kind of change with the trail up: its
// event is in the trail once at once, and recovery adds nothing.
func changeProjectedOnce[W trailWorld[W]](t *testing.T, open func(*testing.T) W, cases []trailCase[W]) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := open(t)
			target, err := c.prepare(t, w)()
			if err != nil {
				t.Fatal(err)
			}
			if got := w.rig().events(t, target, c.action); len(got) != 1 {
				t.Fatalf("%d events, want 1", len(got))
			}
			w.rig().recover(t)
			if got := w.rig().events(t, target, c.action); len(got) != 1 {
				t.Fatalf("after recovery: %d events, want 1", len(got))
			}
		})
	}
}

// crashAfterCommit stops each kind of change right after its commit: the
// append of its event does not return (a process that died there). A
// process started afresh on the database recovers the change and its
// event, once; the stopped command, let go afterwards, adds nothing. The
// time limits only keep a broken store from hanging the run.
func crashAfterCommit[W trailWorld[W]](t *testing.T, open func(*testing.T) W, cases []trailCase[W]) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := open(t)
			do := c.prepare(t, w)
			waiting, release := w.rig().gate.holdAppends()
			type result struct {
				target string
				err    error
			}
			done := make(chan result, 1)
			go func() {
				target, err := do()
				done <- result{target, err}
			}()
			select {
			case <-waiting:
			case r := <-done:
				t.Fatalf("the command ended (%v) without projecting its event", r.err)
			case <-time.After(2 * time.Minute):
				t.Fatal("the command never reached its projection")
			}
			restarted := w.restart(t)
			restarted.rig().recover(t)
			if target := w.rig().newestTarget(t, c.action); target == "" {
				t.Fatal("after recovery, no event of the stopped change in the trail")
			}
			release()
			var r result
			select {
			case r = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatal("the command did not end once let go")
			}
			if r.err != nil {
				t.Fatalf("the change failed for the caller: %v", r.err)
			}
			c.check(t, restarted, r.target)
			restarted.rig().recover(t)
			if got := restarted.rig().events(t, r.target, c.action); len(got) != 1 {
				t.Fatalf("%d %s events, want 1", len(got), c.action)
			}
		})
	}
}
