package storetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
)

// The auth stores under the fault plan of records.go.

type faultyAccounts struct {
	auth.AccountStore
	f *recordFaults
}

func (s faultyAccounts) Create(ctx context.Context, a auth.Account, ev audit.Event) error {
	return s.f.call(func() error { return s.AccountStore.Create(ctx, a, ev) })
}

func (s faultyAccounts) Get(ctx context.Context, id string) (auth.Account, error) {
	return callValue(s.f, func() (auth.Account, error) { return s.AccountStore.Get(ctx, id) })
}

func (s faultyAccounts) GetByEmail(ctx context.Context, email string) (auth.Account, error) {
	return callValue(s.f, func() (auth.Account, error) { return s.AccountStore.GetByEmail(ctx, email) })
}

func (s faultyAccounts) Update(ctx context.Context, a auth.Account, ev audit.Event) (auth.Account, error) {
	return callValue(s.f, func() (auth.Account, error) { return s.AccountStore.Update(ctx, a, ev) })
}

func (s faultyAccounts) AuditProjected(ctx context.Context, id string, version int64) error {
	return s.f.call(func() error { return s.AccountStore.AuditProjected(ctx, id, version) })
}

type faultySessions struct {
	auth.SessionStore
	f *recordFaults
}

func (s faultySessions) Create(ctx context.Context, sess auth.Session, first auth.RefreshToken, ev audit.Event) error {
	return s.f.call(func() error { return s.SessionStore.Create(ctx, sess, first, ev) })
}

func (s faultySessions) StartProjected(ctx context.Context, id string) error {
	return s.f.call(func() error { return s.SessionStore.StartProjected(ctx, id) })
}

func (s faultySessions) Revoke(ctx context.Context, id string, at time.Time, reason string, ev audit.Event) (bool, error) {
	return callValue(s.f, func() (bool, error) { return s.SessionStore.Revoke(ctx, id, at, reason, ev) })
}

func (s faultySessions) AuditProjected(ctx context.Context, id string) error {
	return s.f.call(func() error { return s.SessionStore.AuditProjected(ctx, id) })
}

func (s faultySessions) SignInAddresses(ctx context.Context, staffID string, since time.Time) ([]string, error) {
	return callValue(s.f, func() ([]string, error) { return s.SessionStore.SignInAddresses(ctx, staffID, since) })
}

func (s faultySessions) ListActive(ctx context.Context, staffID string, now time.Time) ([]auth.Session, error) {
	return callValue(s.f, func() ([]auth.Session, error) { return s.SessionStore.ListActive(ctx, staffID, now) })
}

type faultyFailures struct {
	auth.FailureStore
	f *recordFaults
}

func (s faultyFailures) AddFailure(ctx context.Context, f auth.Failure, ev audit.Event) error {
	return s.f.call(func() error { return s.FailureStore.AddFailure(ctx, f, ev) })
}

func (s faultyFailures) Failures(ctx context.Context, key string, since time.Time) ([]auth.Failure, error) {
	return callValue(s.f, func() ([]auth.Failure, error) { return s.FailureStore.Failures(ctx, key, since) })
}

func (s faultyFailures) FailuresFrom(ctx context.Context, ip string, since time.Time) (int, error) {
	return callValue(s.f, func() (int, error) { return s.FailureStore.FailuresFrom(ctx, ip, since) })
}

// staffWorld is one database and the server processes started on it.
type staffWorld struct {
	e   Auth
	ids int
}

// process starts a server process's auth service; with f, every store,
// trail and change-log call goes through f. Without, it recovers first.
func (w *staffWorld) process(t *testing.T, f *recordFaults) *auth.Service {
	t.Helper()
	ctx := context.Background()
	var (
		accounts auth.AccountStore = w.e.Accounts
		sessions auth.SessionStore = w.e.Sessions
		failures auth.FailureStore = w.e.Failures
		trail    audit.Store       = w.e.Audit
		changes  auth.Changes      = w.e.Changes
	)
	if f != nil {
		accounts, sessions, failures = faultyAccounts{accounts, f}, faultySessions{sessions, f}, faultyFailures{failures, f}
		trail, changes = faultyTrail{trail, f}, faultyLog{changes, f}
	} else {
		project := func(e audit.Event) error { return w.e.Audit.Append(ctx, e) }
		for _, s := range []any{w.e.Accounts, w.e.Sessions, w.e.Failures} {
			if r, ok := s.(auditRecoverer); ok {
				if err := r.ReprojectAudit(ctx, project); err != nil {
					t.Fatalf("recovery: %v", err)
				}
			}
		}
	}
	newID := func() string {
		w.ids++
		return fmt.Sprintf("id-%04d", w.ids)
	}
	rec := audit.NewRecorder(trail, func() time.Time { return authNow }, newID, slog.New(slog.DiscardHandler))
	return newAuthService(t, auth.Deps{Accounts: accounts, Sessions: sessions, Failures: failures, Changes: changes, Audit: rec, NewID: newID}, w.e.Sessions)
}

// staffState is what the clinic's owner can see of the new colleague,
// read from the database.
type staffState struct {
	account  auth.Account
	sessions []auth.Session
}

const staffEmail = "hyg.kim@molar.test"

func (w *staffWorld) state(t *testing.T) staffState {
	t.Helper()
	ctx := context.Background()
	var s staffState
	a, err := w.e.Accounts.GetByEmail(ctx, staffEmail)
	if services.ErrorCode(err) == services.NotFound {
		return s
	}
	if err != nil {
		t.Fatal(err)
	}
	s.account = a
	if s.sessions, err = w.e.Sessions.ListActive(ctx, a.ID, authNow); err != nil {
		t.Fatal(err)
	}
	return s
}

func passwordIs(a auth.Account, pw string) bool {
	ok, _ := auth.VerifyPassword(pw, a.PasswordHash)
	return ok
}

// staffStep is one command of the day and how to tell that it took effect.
type staffStep struct {
	name string
	run  func(svc *auth.Service, s staffState) error
	done func(s staffState) bool
}

// staffDay is a hygienist's first day: the owner creates her account, she
// signs in with the temporary password and chooses her own, a typo in her
// password is refused, the owner gives her a second role, suspends her
// account for a day and lets her back in, and finally resets her
// password when she forgets it.
func staffDay() []staffStep {
	owner := staffAdmin("owner-1")
	own := func(s staffState) context.Context {
		sid := ""
		if len(s.sessions) > 0 {
			sid = s.sessions[0].ID
		}
		return services.WithPrincipal(context.Background(), &services.Principal{StaffID: s.account.ID, Email: staffEmail, SessionID: sid})
	}
	return []staffStep{
		{"create the account", func(svc *auth.Service, _ staffState) error {
			_, err := svc.CreateAccount(owner, staffEmail, "김위생", []molarv1.Role{molarv1.Role_ROLE_HYGIENIST}, "first-temp-pass-1", true)
			return err
		}, func(s staffState) bool { return s.account.ID != "" }},
		{"sign in", func(svc *auth.Service, _ staffState) error {
			_, err := svc.Login(context.Background(), staffEmail, "first-temp-pass-1")
			return err
		}, func(s staffState) bool { return len(s.sessions) > 0 }},
		{"choose a password", func(svc *auth.Service, s staffState) error {
			return svc.ChangePassword(own(s), "first-temp-pass-1", "chosen-by-her-22")
		}, func(s staffState) bool { return passwordIs(s.account, "chosen-by-her-22") }},
		{"mistype it", func(svc *auth.Service, _ staffState) error {
			_, err := svc.Login(context.Background(), staffEmail, "chosen-by-her-23")
			if services.ErrorCode(err) == services.Unauthenticated {
				return nil
			}
			return err
		}, nil},
		{"add a role", func(svc *auth.Service, s staffState) error {
			_, err := svc.UpdateAccount(owner, s.account.ID, "김위생", []molarv1.Role{molarv1.Role_ROLE_FRONT_DESK, molarv1.Role_ROLE_HYGIENIST}, s.account.Version)
			return err
		}, func(s staffState) bool { return len(s.account.Roles) == 2 }},
		{"suspend", func(svc *auth.Service, s staffState) error {
			_, err := svc.SetDisabled(owner, s.account.ID, true)
			return err
		}, func(s staffState) bool { return s.account.Disabled && len(s.sessions) == 0 }},
		{"let her back in", func(svc *auth.Service, s staffState) error {
			_, err := svc.SetDisabled(owner, s.account.ID, false)
			return err
		}, func(s staffState) bool { return !s.account.Disabled && s.account.Version >= 5 }},
		{"reset the password", func(svc *auth.Service, s staffState) error {
			_, err := svc.ResetPassword(owner, s.account.ID, "second-temp-pass-3")
			return err
		}, func(s staffState) bool { return passwordIs(s.account, "second-temp-pass-3") }},
	}
}

func staffSummary(s staffState) []string {
	return []string{fmt.Sprintf("version %d, roles %v, disabled %v, must change %v, active sessions %d",
		s.account.Version, s.account.Roles, s.account.Disabled, s.account.MustChangePassword, len(s.sessions))}
}

// signIns returns the ids of the sessions the trail says staffID began.
func (w *staffWorld) signIns(t *testing.T, staffID string) []string {
	t.Helper()
	got, _, err := w.e.Audit.List(context.Background(), audit.Filter{Actions: []molarv1.AuditAction{molarv1.AuditAction_AUDIT_ACTION_LOGIN_SUCCEEDED}}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		if e.ActorID == staffID {
			ids = append(ids, e.TargetID)
		}
	}
	return ids
}

// staffSurvivesEveryFault is recordsSurviveEveryFault for staff accounts
// and sessions: every call of the day failed, crashed at, and answered and
// lost in turn; after a fault a new process recovers and the owner retries
// what did not happen. The account must end as in the clean run, with one
// audit record per version of it; every sign-in stored has its record and
// every sign-in recorded is stored.
func staffSurvivesEveryFault(t *testing.T, open AuthEngine) {
	clean := &staffWorld{e: open(t)}
	counter := &recordFaults{}
	svc := clean.process(t, counter)
	for _, st := range staffDay() {
		if err := st.run(svc, clean.state(t)); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	want := staffSummary(clean.state(t))
	calls := counter.calls
	t.Logf("a clean day makes %d calls and ends with %v", calls, want)

	for _, mode := range []faultMode{faultFail, faultCrash, faultLost} {
		for at := 1; at <= calls; at++ {
			if clean.e.Sparse && at%3 != int(mode) {
				continue
			}
			t.Run(fmt.Sprintf("%s call %d", mode, at), func(t *testing.T) {
				t.Parallel()
				w := &staffWorld{e: open(t)}
				svc := w.process(t, &recordFaults{faults: faults{at: at}, mode: mode})
				for _, st := range staffDay() {
					err := st.run(svc, w.state(t))
					if err == nil {
						if st.done != nil && !st.done(w.state(t)) {
							t.Fatalf("%s was acknowledged but is not stored", st.name)
						}
						continue
					}
					if !errors.Is(err, errInjected) {
						t.Logf("%s: %v", st.name, err)
					}
					svc = w.process(t, nil)
					if st.done == nil || !st.done(w.state(t)) {
						if err := st.run(svc, w.state(t)); err != nil {
							t.Fatalf("%s retried after a fault: %v", st.name, err)
						}
					}
				}
				w.process(t, nil)
				got := w.state(t)
				if diff := cmp.Diff(want, staffSummary(got)); diff != "" {
					t.Errorf("the day ended differently (-clean +faulty):\n%s", diff)
				}
				for _, pw := range []string{"second-temp-pass-3"} {
					if !passwordIs(got.account, pw) {
						t.Errorf("the password is not %q", pw)
					}
				}
				events, _, err := w.e.Audit.List(context.Background(), audit.Filter{TargetID: got.account.ID}, "", 1000)
				if err != nil {
					t.Fatal(err)
				}
				seen, byAccount := map[string]int{}, 0
				for _, e := range events {
					if seen[e.ID]++; seen[e.ID] == 2 {
						t.Errorf("audit record %s appears more than once", e.ID)
					}
					if e.Action != molarv1.AuditAction_AUDIT_ACTION_LOGIN_FAILED && e.Action != molarv1.AuditAction_AUDIT_ACTION_ACCOUNT_LOCKED {
						byAccount++
					}
				}
				if byAccount != int(got.account.Version) {
					t.Errorf("%d audit records of account changes for %d versions", byAccount, got.account.Version)
				}
				for _, sid := range w.signIns(t, got.account.ID) {
					if _, err := w.e.Sessions.Get(context.Background(), sid); err != nil {
						t.Errorf("the trail has a sign-in to session %s, which is not stored: %v", sid, err)
					}
				}
				if failed := slices.IndexFunc(events, func(e audit.Event) bool { return e.Action == molarv1.AuditAction_AUDIT_ACTION_LOGIN_FAILED }); failed < 0 {
					t.Error("the mistyped password left no record")
				}
			})
		}
	}
}
