package mongo_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/clinic"
	"github.com/molar-dental/molar/services/patient"
)

// trail is an audit.Store over the real audit repository that can be told
// to fail every append, or to hold appends until released (a process that
// stops between a commit and its projection).
type trail struct {
	repo *mongo.AuditRepo

	mu      sync.Mutex
	failing bool
	hold    chan struct{} // appends wait for it to close, then fail
	entered chan struct{} // closed when an append first waits
}

var errTrailDown = errors.New("audit trail unavailable")

func (tr *trail) Append(ctx context.Context, e audit.Event) error {
	tr.mu.Lock()
	failing, hold, entered := tr.failing, tr.hold, tr.entered
	if hold != nil && entered != nil {
		close(entered)
		tr.entered = nil
	}
	tr.mu.Unlock()
	if hold != nil {
		<-hold
		return errTrailDown
	}
	if failing {
		return errTrailDown
	}
	return tr.repo.Append(ctx, e)
}

func (tr *trail) List(ctx context.Context, f audit.Filter, after string, limit int) ([]audit.Event, string, error) {
	return tr.repo.List(ctx, f, after, limit)
}

func (tr *trail) setFailing(v bool) {
	tr.mu.Lock()
	tr.failing = v
	tr.mu.Unlock()
}

// holdAppends makes appends wait until the returned release is called; the
// channel is closed once one is waiting.
func (tr *trail) holdAppends() (waiting <-chan struct{}, release func()) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.hold, tr.entered = make(chan struct{}), make(chan struct{})
	hold, entered := tr.hold, tr.entered
	return entered, func() {
		tr.mu.Lock()
		tr.hold = nil
		tr.mu.Unlock()
		close(hold)
	}
}

// stack is every service whose changes carry audit events, over one
// throwaway database, with its trail and the repositories to recover from.
type stack struct {
	db       *mongo.DB
	trail    *trail
	rec      *audit.Recorder
	patients *patient.Service
	chart    *chart.Service
	clinic   *clinic.Service
	auth     *auth.Service
}

func newStack(t *testing.T) *stack {
	t.Helper()
	db := mongotest.DB(t)
	ctx := context.Background()
	if err := db.EnsureIndexes(ctx, mongo.AllIndexes()); err != nil {
		t.Fatal(err)
	}
	return stackOn(t, db)
}

// stackOn builds the services afresh over db, as a restarted process does.
func stackOn(t *testing.T, db *mongo.DB) *stack {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	newID := func() string { return uuid.Must(uuid.NewV7()).String() }
	st := &stack{db: db, trail: &trail{repo: mongo.NewAuditRepo(db)}}
	st.rec = audit.NewRecorder(st.trail, time.Now, newID, logger)
	sealer, err := patient.ParseSealer(patient.NewSealerSpec("k1"))
	if err != nil {
		t.Fatal(err)
	}
	changes := mongo.NewChangeLog(db, time.Now, logger)
	st.patients = patient.NewService(patient.Deps{Store: mongo.NewPatientRepo(db), Changes: changes, Sealer: sealer, Audit: st.rec,
		Now: time.Now, NewID: newID, Logger: logger})
	clinical := mongo.NewClinicalRepo(db)
	st.chart = chart.NewService(chart.Deps{Store: clinical, Catalog: clinical, Patients: st.patients, Changes: changes, Audit: st.rec,
		Now: time.Now, NewID: newID, Logger: logger})
	st.clinic = clinic.NewService(mongo.NewClinicRepo(db), time.Now)
	keys, err := auth.ParseKeySet(auth.NewKeySpec("t1"))
	if err != nil {
		t.Fatal(err)
	}
	sessions := mongo.NewSessionRepo(db)
	cfg := auth.DefaultConfig
	cfg.Hash = auth.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	st.auth, err = auth.NewService(cfg, auth.Deps{Accounts: mongo.NewStaffRepo(db), Sessions: sessions, Failures: sessions,
		Tokens: auth.NewTokens(keys, cfg.AccessTTL, time.Now), Revocations: auth.NewRevocations(sessions, time.Hour, time.Now, logger),
		Audit: st.rec, Now: time.Now, NewID: newID, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// recover runs every repository's recovery pass, as start-up does.
func (st *stack) recover(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	project := func(e audit.Event) error { return st.rec.Project(ctx, e) }
	for _, r := range []interface {
		ReprojectAudit(context.Context, func(audit.Event) error) error
	}{mongo.NewPatientRepo(st.db), mongo.NewClinicalRepo(st.db), mongo.NewClinicRepo(st.db), mongo.NewStaffRepo(st.db), mongo.NewSessionRepo(st.db)} {
		if err := r.ReprojectAudit(ctx, project); err != nil {
			t.Fatalf("recovery: %v", err)
		}
	}
}

// events returns the trail's events about target with action.
func (st *stack) events(t *testing.T, target string, action molarv1.AuditAction) []audit.Event {
	t.Helper()
	got, _, err := mongo.NewAuditRepo(st.db).List(context.Background(), audit.Filter{TargetID: target, Actions: []molarv1.AuditAction{action}}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// pendingTarget returns the target of the newest event with action in the
// trail, "" if there is none.
func (st *stack) pendingTarget(t *testing.T, action molarv1.AuditAction) string {
	t.Helper()
	got, _, err := mongo.NewAuditRepo(st.db).List(context.Background(), audit.Filter{Actions: []molarv1.AuditAction{action}}, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return ""
	}
	return got[0].TargetID
}

// admin is a signed-in admin's request context.
func admin(staffID string) context.Context {
	return services.WithPrincipal(context.Background(), &services.Principal{StaffID: staffID, Email: "admin@molar.test", Name: "원장",
		SessionID: "admin-session", Roles: []molarv1.Role{molarv1.Role_ROLE_ADMIN}, Permissions: map[molarv1.Permission]bool{
			molarv1.Permission_PERMISSION_STAFF_MANAGE: true}})
}

func newPatientInput(memo string) *molarv1.PatientInput {
	return &molarv1.PatientInput{Name: "김민지", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1990-03-15", MobilePhone: "010-1234-5678", Memo: memo}
}

// change is one kind of data change: prepare makes what it needs (with the
// trail up) and returns the change itself, one command that returns the id
// its audit event targets; check proves the change is stored.
type change struct {
	name    string
	action  molarv1.AuditAction
	prepare func(t *testing.T, st *stack) (do func() (string, error))
	check   func(t *testing.T, st *stack, target string)
}

// changes lists every kind of data change that carries its audit event.
func changes() []change {
	ctx := admin("admin-1")
	register := func(t *testing.T, st *stack) patient.Record {
		t.Helper()
		r, err := st.patients.Create(ctx, newPatientInput(""), true)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	staff := func(t *testing.T, st *stack) auth.Account {
		t.Helper()
		a, err := st.auth.CreateAccount(ctx, "hyg@molar.test", "간호사", []molarv1.Role{molarv1.Role_ROLE_HYGIENIST}, "temporary-pass-1", true)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	login := func(t *testing.T, st *stack) *auth.Grant {
		t.Helper()
		g, err := st.auth.Login(context.Background(), staff(t, st).Email, "temporary-pass-1")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	account := func(t *testing.T, st *stack, id string) auth.Account {
		t.Helper()
		a, err := mongo.NewStaffRepo(st.db).Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	storedPatient := func(t *testing.T, st *stack, id string) patient.Record {
		t.Helper()
		r, err := mongo.NewPatientRepo(st.db).Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return []change{
		{"register patient", molarv1.AuditAction_AUDIT_ACTION_PATIENT_CREATED, func(t *testing.T, st *stack) func() (string, error) {
			return func() (string, error) {
				r, err := st.patients.Create(ctx, newPatientInput(""), true)
				return r.ID, err
			}
		}, func(t *testing.T, st *stack, id string) {
			if r := storedPatient(t, st, id); r.Version != 1 || r.ChartNumber != 1 {
				t.Errorf("patient at version %d with chart number %d, want 1 and 1", r.Version, r.ChartNumber)
			}
		}},
		{"update patient", molarv1.AuditAction_AUDIT_ACTION_PATIENT_UPDATED, func(t *testing.T, st *stack) func() (string, error) {
			r := register(t, st)
			return func() (string, error) {
				_, err := st.patients.Update(ctx, r.ID, newPatientInput("치실 사용 권장"), r.Version)
				return r.ID, err
			}
		}, func(t *testing.T, st *stack, id string) {
			if r := storedPatient(t, st, id); r.Version != 2 || r.Details.GetMemo() != "치실 사용 권장" {
				t.Errorf("patient at version %d with memo %q", r.Version, r.Details.GetMemo())
			}
		}},
		{"deactivate patient", molarv1.AuditAction_AUDIT_ACTION_PATIENT_DEACTIVATED, func(t *testing.T, st *stack) func() (string, error) {
			r := register(t, st)
			return func() (string, error) {
				_, err := st.patients.SetActive(ctx, r.ID, false, "이사")
				return r.ID, err
			}
		}, func(t *testing.T, st *stack, id string) {
			if r := storedPatient(t, st, id); r.Active || r.DeactivationReason != "이사" {
				t.Errorf("patient active %v, reason %q", r.Active, r.DeactivationReason)
			}
		}},
		{"reactivate patient", molarv1.AuditAction_AUDIT_ACTION_PATIENT_REACTIVATED, func(t *testing.T, st *stack) func() (string, error) {
			r := register(t, st)
			if _, err := st.patients.SetActive(ctx, r.ID, false, "이사"); err != nil {
				t.Fatal(err)
			}
			return func() (string, error) {
				_, err := st.patients.SetActive(ctx, r.ID, true, "")
				return r.ID, err
			}
		}, func(t *testing.T, st *stack, id string) {
			if r := storedPatient(t, st, id); !r.Active || r.Version != 3 {
				t.Errorf("patient active %v at version %d, want active at 3", r.Active, r.Version)
			}
		}},
		{"chart entry", molarv1.AuditAction_AUDIT_ACTION_CHART_CHANGED, func(t *testing.T, st *stack) func() (string, error) {
			r := register(t, st)
			return func() (string, error) {
				_, err := st.chart.AddEntry(ctx, r.ID, chart.AddEntryInput{Tooth: 16, Condition: molarv1.Condition_CONDITION_CARIES})
				return r.ID, err
			}
		}, func(t *testing.T, st *stack, id string) {
			if got, _ := mongo.NewClinicalRepo(st.db).Latest(context.Background(), id, 0); len(got.Events) != 1 {
				t.Errorf("chart has %d events, want 1", len(got.Events))
			}
		}},
		{"note", molarv1.AuditAction_AUDIT_ACTION_NOTE_ADDED, func(t *testing.T, st *stack) func() (string, error) {
			r := register(t, st)
			return func() (string, error) {
				_, err := st.chart.AddNote(ctx, r.ID, "초진", "#16 우식", nil)
				return r.ID, err
			}
		}, func(t *testing.T, st *stack, id string) {
			if got, _ := mongo.NewClinicalRepo(st.db).Latest(context.Background(), id, 0); len(got.Notes) != 1 {
				t.Errorf("record has %d notes, want 1", len(got.Notes))
			}
		}},
		{"catalog", molarv1.AuditAction_AUDIT_ACTION_CATALOG_CHANGED, func(t *testing.T, st *stack) func() (string, error) {
			return func() (string, error) {
				p := &molarv1.Procedure{Code: "D2391", NameKo: "레진 충전", NameEn: "Resin filling", Fee: 90000, RequiresTooth: true, Active: true}
				return p.Code, st.chart.SaveProcedure(ctx, p)
			}
		}, func(t *testing.T, st *stack, code string) {
			procs, _ := mongo.NewClinicalRepo(st.db).List(context.Background())
			if len(procs) != 1 || procs[0].GetCode() != code || procs[0].GetFee() != 90000 {
				t.Errorf("catalog %v, want %s", procs, code)
			}
		}},
		{"clinic profile", molarv1.AuditAction_AUDIT_ACTION_CLINIC_UPDATED, func(t *testing.T, st *stack) func() (string, error) {
			return func() (string, error) {
				c := clinic.Default()
				c.Name, c.Phone = "서울미소치과의원", "02-555-2875"
				_, err := st.clinic.UpdateRecorded(ctx, c, st.rec)
				return "clinic", err
			}
		}, func(t *testing.T, st *stack, _ string) {
			if c, err := mongo.NewClinicRepo(st.db).Get(context.Background()); err != nil || c.GetVersion() != 1 {
				t.Errorf("clinic %v, %v", c, err)
			}
		}},
		{"create staff", molarv1.AuditAction_AUDIT_ACTION_STAFF_CREATED, func(t *testing.T, st *stack) func() (string, error) {
			return func() (string, error) {
				a, err := st.auth.CreateAccount(ctx, "hyg@molar.test", "간호사", []molarv1.Role{molarv1.Role_ROLE_HYGIENIST}, "temporary-pass-1", true)
				return a.ID, err
			}
		}, func(t *testing.T, st *stack, id string) { account(t, st, id) }},
		{"staff roles", molarv1.AuditAction_AUDIT_ACTION_STAFF_UPDATED, func(t *testing.T, st *stack) func() (string, error) {
			a := staff(t, st)
			return func() (string, error) {
				_, err := st.auth.UpdateAccount(ctx, a.ID, "치위생사", []molarv1.Role{molarv1.Role_ROLE_DENTIST}, a.Version)
				return a.ID, err
			}
		}, func(t *testing.T, st *stack, id string) {
			if a := account(t, st, id); a.DisplayName != "치위생사" || a.Version != 2 {
				t.Errorf("account %q at version %d", a.DisplayName, a.Version)
			}
		}},
		{"disable staff", molarv1.AuditAction_AUDIT_ACTION_STAFF_DISABLED, func(t *testing.T, st *stack) func() (string, error) {
			g := login(t, st)
			return func() (string, error) {
				_, err := st.auth.SetDisabled(ctx, g.Account.ID, true)
				return g.Account.ID, err
			}
		}, func(t *testing.T, st *stack, id string) {
			if !account(t, st, id).Disabled {
				t.Error("account not disabled")
			}
			if active, _ := mongo.NewSessionRepo(st.db).ListActive(context.Background(), id, time.Now()); len(active) != 0 {
				t.Errorf("%d sessions still active", len(active))
			}
		}},
		{"reset password", molarv1.AuditAction_AUDIT_ACTION_PASSWORD_RESET, func(t *testing.T, st *stack) func() (string, error) {
			a := staff(t, st)
			return func() (string, error) {
				_, err := st.auth.ResetPassword(ctx, a.ID, "another-temp-22")
				return a.ID, err
			}
		}, func(t *testing.T, st *stack, id string) {
			if ok, _ := auth.VerifyPassword("another-temp-22", account(t, st, id).PasswordHash); !ok {
				t.Error("password not reset")
			}
		}},
		{"change password", molarv1.AuditAction_AUDIT_ACTION_PASSWORD_CHANGED, func(t *testing.T, st *stack) func() (string, error) {
			g := login(t, st)
			own := services.WithPrincipal(context.Background(), &services.Principal{StaffID: g.Account.ID, Email: g.Account.Email, SessionID: g.SessionID})
			return func() (string, error) {
				return g.Account.ID, st.auth.ChangePassword(own, "temporary-pass-1", "a-brand-new-pass-7")
			}
		}, func(t *testing.T, st *stack, id string) {
			if a := account(t, st, id); a.MustChangePassword {
				t.Error("a forced change is still asked for")
			} else if ok, _ := auth.VerifyPassword("a-brand-new-pass-7", a.PasswordHash); !ok {
				t.Error("password not changed")
			}
		}},
		{"revoke session", molarv1.AuditAction_AUDIT_ACTION_SESSION_REVOKED, func(t *testing.T, st *stack) func() (string, error) {
			g := login(t, st)
			return func() (string, error) { return g.SessionID, st.auth.RevokeSession(ctx, g.SessionID) }
		}, func(t *testing.T, st *stack, id string) {
			if s, _ := mongo.NewSessionRepo(st.db).Get(context.Background(), id); !s.Revoked() {
				t.Error("session not revoked")
			}
		}},
		{"logout", molarv1.AuditAction_AUDIT_ACTION_LOGOUT, func(t *testing.T, st *stack) func() (string, error) {
			g := login(t, st)
			return func() (string, error) { return g.SessionID, st.auth.Logout(context.Background(), g.RefreshToken) }
		}, func(t *testing.T, st *stack, id string) {
			if s, _ := mongo.NewSessionRepo(st.db).Get(context.Background(), id); !s.Revoked() {
				t.Error("session not ended")
			}
		}},
	}
}

// TestChangeStandsWhenTrailFails makes every kind of data change while the
// audit trail refuses appends: each change succeeds for the caller and is
// stored, its event is missing, and the recovery pass at start puts the
// event in the trail exactly once, however often it runs.
func TestChangeStandsWhenTrailFails(t *testing.T) {
	t.Parallel()
	for _, c := range changes() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := newStack(t)
			do := c.prepare(t, st)
			st.trail.setFailing(true)
			target, err := do()
			if err != nil {
				t.Fatalf("the change failed for the caller: %v", err)
			}
			c.check(t, st, target)
			if got := st.events(t, target, c.action); len(got) != 0 {
				t.Fatalf("%d events in the trail while it was failing", len(got))
			}
			st.trail.setFailing(false)
			for range 2 {
				st.recover(t)
				if got := st.events(t, target, c.action); len(got) != 1 {
					t.Fatalf("after recovery: %d %s events, want 1", len(got), c.action)
				}
			}
			c.check(t, st, target)
		})
	}
}

// TestChangeProjectedOnce makes every kind of change with the trail up: its
// event is in the trail once at once, and recovery adds nothing.
func TestChangeProjectedOnce(t *testing.T) {
	t.Parallel()
	for _, c := range changes() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := newStack(t)
			target, err := c.prepare(t, st)()
			if err != nil {
				t.Fatal(err)
			}
			if got := st.events(t, target, c.action); len(got) != 1 {
				t.Fatalf("%d events, want 1", len(got))
			}
			st.recover(t)
			if got := st.events(t, target, c.action); len(got) != 1 {
				t.Fatalf("after recovery: %d events, want 1", len(got))
			}
		})
	}
}

// TestCrashAfterCommit stops each kind of change right after its commit:
// the append of its event does not return (a process that died there). A
// process started afresh on the database recovers the change and its event,
// once; the stopped command, let go afterwards, adds nothing.
func TestCrashAfterCommit(t *testing.T) {
	t.Parallel()
	for _, c := range changes() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := newStack(t)
			do := c.prepare(t, st)
			waiting, release := st.trail.holdAppends()
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
			restarted := stackOn(t, st.db)
			restarted.recover(t)
			if target := st.pendingTarget(t, c.action); target == "" {
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
			restarted.recover(t)
			if got := restarted.events(t, r.target, c.action); len(got) != 1 {
				t.Fatalf("%d %s events, want 1", len(got), c.action)
			}
		})
	}
}
