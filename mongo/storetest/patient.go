package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/patient"
)

// PatientStore is what an engine's patient store offers: the service's
// store, the recovery pass run at start, and the bulk load of demo data and
// migrations.
type PatientStore interface {
	patient.Store
	ReprojectAudit(ctx context.Context, project func(audit.Event) error) error
	InsertMany(ctx context.Context, recs []patient.Record) error
}

// Patients is what an engine gives the patient service: a fresh, empty
// database's patient store, audit trail and change log, all on one
// database, dropped when the test ends.
type Patients struct {
	Store   PatientStore
	Audit   audit.Store
	Changes patient.Changes
	// AuditInCommit says the store writes a change's audit record into the
	// trail inside the change's own commit: then the record is in the trail
	// as soon as the change is, even while appends to the trail fail.
	AuditInCommit bool
}

// PatientEngine opens a fresh Patients for a test.
type PatientEngine func(t *testing.T) Patients

// TestPatients runs the patient contract against an engine.
func TestPatients(t *testing.T, open PatientEngine) {
	for name, test := range map[string]func(*testing.T, PatientEngine){
		"stale save is aborted":           patientStaleSave,
		"save race has one winner":        patientSaveRace,
		"record round trip":               patientRoundTrip,
		"chart numbers are given once":    patientChartNumbers,
		"bulk load":                       patientBulkLoad,
		"change stands when trail fails":  func(t *testing.T, open PatientEngine) { carriedStandsWhenTrailFails(t, patientWorlds(open)) },
		"change projected once":           func(t *testing.T, open PatientEngine) { carriedProjectedOnce(t, patientWorlds(open)) },
		"crash after commit is recovered": func(t *testing.T, open PatientEngine) { carriedCrashAfterCommit(t, patientWorlds(open)) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

func newPatientInput(memo string) *molarv1.PatientInput {
	return &molarv1.PatientInput{Name: "김민지", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1990-03-15", MobilePhone: "010-1234-5678", Memo: memo}
}

// patientStaleSave: a save from an older version is refused with Aborted
// and changes nothing.
func patientStaleSave(t *testing.T, open PatientEngine) {
	ctx := context.Background()
	repo := open(t).Store
	now := time.Now()
	v1 := patient.Record{ID: "p1", ChartNumber: 1, Details: newPatientInput("first"), Active: true, Created: now, Updated: now, Version: 1}
	if _, err := repo.Create(ctx, v1, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	next := v1
	next.Details = newPatientInput("second")
	v2, err := repo.Save(ctx, next, audit.Event{})
	if err != nil || v2.Version != 2 {
		t.Fatalf("save from version 1: version %d, %v", v2.Version, err)
	}
	stale := v1
	stale.Details = newPatientInput("stale")
	if _, err := repo.Save(ctx, stale, audit.Event{}); services.ErrorCode(err) != services.Aborted {
		t.Fatalf("save from version 1 after version 2: %v, want Aborted", err)
	}
	got, err := repo.Get(ctx, "p1")
	if err != nil || got.Version != 2 || got.Details.GetMemo() != "second" {
		t.Fatalf("after the stale save: version %d memo %q (%v), want version 2 memo second", got.Version, got.Details.GetMemo(), err)
	}
}

// patientSaveRace races writers that each save one patient over and over,
// from the version they last read, while a reader watches; some writers
// also keep saving from the first version. Exactly one save wins each
// version, every other one is refused with Aborted, and neither the reader
// during the race nor the stored record afterwards ever shows an older
// version than one already won.
func patientSaveRace(t *testing.T, open PatientEngine) {
	ctx := context.Background()
	repo := open(t).Store
	now := time.Now()
	first := patient.Record{ID: "p1", ChartNumber: 1, Details: newPatientInput("v1"), Active: true, Created: now, Updated: now, Version: 1}
	if _, err := repo.Create(ctx, first, audit.Event{}); err != nil {
		t.Fatal(err)
	}

	const writers, savesEach = 12, 6
	var (
		won     atomic.Int64 // the highest version won so far
		mu      sync.Mutex
		winners = map[int64][]string{} // version → memos of the saves that won it
	)
	won.Store(1)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			floor := won.Load()
			r, err := repo.Get(ctx, "p1")
			if err != nil {
				t.Errorf("get during the race: %v", err)
				return
			}
			if r.Version < floor {
				t.Errorf("get answered version %d after version %d was won: rolled back", r.Version, floor)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for n := range savesEach {
				from := first // long stale
				if i%4 != 3 {
					var err error
					if from, err = repo.Get(ctx, "p1"); err != nil {
						t.Errorf("get: %v", err)
						return
					}
				}
				memo := fmt.Sprintf("writer %d save %d", i, n)
				r := from
				r.Details = newPatientInput(memo)
				saved, err := repo.Save(ctx, r, audit.Event{})
				switch {
				case err == nil:
					if saved.Version != from.Version+1 {
						t.Errorf("a save from version %d stored version %d", from.Version, saved.Version)
					}
					mu.Lock()
					winners[saved.Version] = append(winners[saved.Version], memo)
					mu.Unlock()
					for v := won.Load(); v < saved.Version && !won.CompareAndSwap(v, saved.Version); v = won.Load() {
					}
				case services.ErrorCode(err) == services.Aborted:
				default:
					t.Errorf("save: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-readerDone

	last := won.Load()
	for v := int64(2); v <= last; v++ {
		if len(winners[v]) != 1 {
			t.Errorf("version %d won by %d saves %v, want 1", v, len(winners[v]), winners[v])
		}
	}
	if int64(len(winners)) != last-1 {
		t.Errorf("%d versions won, but the newest is %d", len(winners), last)
	}
	got, err := repo.Get(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != last || got.Details.GetMemo() != winners[last][0] {
		t.Errorf("stored version %d by %q, want %d by %q", got.Version, got.Details.GetMemo(), last, winners[last])
	}
	// What a process starting now loads is the last version won.
	all, err := repo.All(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("all: %d records, %v", len(all), err)
	}
	if all[0].Version != last {
		t.Errorf("loaded at start: version %d, want %d (rolled back)", all[0].Version, last)
	}
}

// fullPatient is a record with every field set.
func fullPatient(id string, chartNumber int64, at time.Time) patient.Record {
	return patient.Record{ID: id, ChartNumber: chartNumber, RRNKeyID: "k1", RRNSealed: []byte{0, 1, 2, 0xfe, 0xff}, RRNMasked: "900315-2******",
		Active: false, DeactivationReason: "이사", Created: at, Updated: at.Add(time.Hour), Version: 1,
		Details: &molarv1.PatientInput{Name: "이서연", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1990-03-15", MobilePhone: "010-9876-5432",
			Address: "서울특별시 강남구 테헤란로 1", Email: "seoyeon@example.kr", InsuranceType: molarv1.InsuranceType(1), SmsConsent: true,
			FirstVisitDate: "2024-01-02", Tags: []string{"교정", "VIP"}, Memo: "치실 사용 권장",
			Alerts: &molarv1.MedicalAlerts{Allergies: []string{"페니실린"}, Conditions: []string{"고혈압"}, Medications: []string{"아스피린"}}}}
}

// samePatient compares records as stored: times to the millisecond.
func samePatient(t *testing.T, what string, got, want patient.Record) {
	t.Helper()
	want.Created, want.Updated = want.Created.UTC().Truncate(time.Millisecond), want.Updated.UTC().Truncate(time.Millisecond)
	if diff := cmp.Diff(want, got, protocmp.Transform(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// patientRoundTrip: every field of a record comes back as stored, by Get,
// Save and All; the registration number is never kept in clear; an unknown
// patient is NotFound and a second create of an id is refused.
func patientRoundTrip(t *testing.T, open PatientEngine) {
	ctx := context.Background()
	repo := open(t).Store
	at := time.Date(2026, 3, 2, 9, 30, 15, 123456789, time.FixedZone("KST", 9*3600))
	want := fullPatient("p1", 1, at)
	withRRN := want
	withRRN.Details = fullPatient("p1", 1, at).Details
	withRRN.Details.Rrn = "900315-2345678"
	withRRN.ChartNumber = 7 // not read: the store gives the number
	created, err := repo.Create(ctx, withRRN, audit.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if created.ChartNumber != 1 {
		t.Errorf("the first patient got chart number %d, want 1", created.ChartNumber)
	}
	got, err := repo.Get(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Details.GetRrn() != "" {
		t.Errorf("the registration number came back in clear: %q", got.Details.GetRrn())
	}
	samePatient(t, "get after create", got, want)

	next := got
	next.Details = fullPatient("p1", 7, at).Details
	next.Details.Memo, next.Active, next.DeactivationReason = "스케일링 예정", true, ""
	saved, err := repo.Save(ctx, next, audit.Event{})
	if err != nil {
		t.Fatal(err)
	}
	next.Version = 2
	samePatient(t, "answer of save", saved, next)
	got, err = repo.Get(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	samePatient(t, "get after save", got, next)
	all, err := repo.All(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("all: %d records, %v", len(all), err)
	}
	samePatient(t, "all", all[0], next)

	if _, err := repo.Get(ctx, "nobody"); services.ErrorCode(err) != services.NotFound {
		t.Errorf("get of an unknown patient: %v, want NotFound", err)
	}
	if _, err := repo.Create(ctx, fullPatient("p1", 8, at), audit.Event{}); services.ErrorCode(err) != services.AlreadyExists {
		t.Errorf("second create of p1: %v, want AlreadyExists", err)
	}
	if p2, err := repo.Create(ctx, fullPatient("p2", 0, at), audit.Event{}); err != nil || p2.ChartNumber != 2 {
		t.Errorf("the patient after a refused create: chart number %d, %v; want 2 (the refused one took none)", p2.ChartNumber, err)
	}
}

// patientChartNumbers: registrations racing each get a chart number of
// their own, consecutive from 1, and the highest given is known.
func patientChartNumbers(t *testing.T, open PatientEngine) {
	ctx := context.Background()
	repo := open(t).Store
	if n, err := repo.MaxChartNumber(ctx); err != nil || n != 0 {
		t.Fatalf("highest chart number of an empty store: %d, %v", n, err)
	}
	const registrations = 10
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	numbers := map[int64]string{}
	var wg sync.WaitGroup
	for i := range registrations {
		wg.Go(func() {
			r, err := repo.Create(ctx, fullPatient(fmt.Sprintf("p%d", i), 0, at), audit.Event{})
			if err != nil {
				t.Errorf("create: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if other, taken := numbers[r.ChartNumber]; taken {
				t.Errorf("chart number %d given to %s and %s", r.ChartNumber, other, r.ID)
			}
			numbers[r.ChartNumber] = r.ID
		})
	}
	wg.Wait()
	for n := int64(1); n <= registrations; n++ {
		id, ok := numbers[n]
		if !ok {
			t.Errorf("chart number %d given to nobody", n)
			continue
		}
		if got, err := repo.Get(ctx, id); err != nil || got.ChartNumber != n {
			t.Errorf("%s stored with chart number %d, %v; want %d", id, got.ChartNumber, err, n)
		}
	}
	if n, err := repo.MaxChartNumber(ctx); err != nil || n != registrations {
		t.Fatalf("highest chart number: %d, %v, want %d", n, err, registrations)
	}
}

// patientBulkLoad: InsertMany stores records at their versions with their
// chart numbers, read back by Get and All; their chart numbers are taken.
func patientBulkLoad(t *testing.T, open PatientEngine) {
	ctx := context.Background()
	repo := open(t).Store
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var recs []patient.Record
	for i := range 510 { // past the MongoDB repository's batch of 500
		r := fullPatient(fmt.Sprintf("p%04d", i), int64(i+1), at)
		r.Version = int64(1 + i%3) // moved from another engine at any version
		recs = append(recs, r)
	}
	if err := repo.InsertMany(ctx, recs); err != nil {
		t.Fatal(err)
	}
	all, err := repo.All(ctx)
	if err != nil || len(all) != len(recs) {
		t.Fatalf("all: %d records, %v, want %d", len(all), err, len(recs))
	}
	byID := map[string]patient.Record{}
	for _, r := range all {
		byID[r.ID] = r
	}
	for _, want := range []patient.Record{recs[0], recs[255], recs[len(recs)-1]} {
		samePatient(t, "loaded "+want.ID, byID[want.ID], want)
		got, err := repo.Get(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		samePatient(t, "get "+want.ID, got, want)
	}
	if n, err := repo.MaxChartNumber(ctx); err != nil || n != int64(len(recs)) {
		t.Fatalf("highest chart number: %d, %v, want %d", n, err, len(recs))
	}
	if r, err := repo.Create(ctx, fullPatient("after", 0, at), audit.Event{}); err != nil || r.ChartNumber != int64(len(recs))+1 {
		t.Errorf("a registration after the load: chart number %d, %v; want %d", r.ChartNumber, err, len(recs)+1)
	}
	next := recs[1]
	next.Details = newPatientInput("after the load")
	if saved, err := repo.Save(ctx, next, audit.Event{}); err != nil || saved.Version != next.Version+1 {
		t.Errorf("save after the load: version %d, %v, want %d", saved.Version, err, next.Version+1)
	}
}

// carriedWorld is one database with a server process on it whose changes
// carry their audit records: the process's trail (gated, as in auth.go),
// the trail as stored, and the stores to recover from.
type carriedWorld struct {
	trail    *gatedTrail
	stored   audit.Store
	inCommit bool
	stores   []auditRecoverer

	patients     *patient.Service
	patientStore PatientStore
	chart        *chart.Service
	chartStore   ChartStore
}

// carriedCase is one kind of data change: prepare makes what it needs
// (with the trail up) and returns the change itself, one command that
// returns the id its audit event targets; check proves the change is
// stored.
type carriedCase struct {
	name    string
	action  molarv1.AuditAction
	prepare func(t *testing.T, w *carriedWorld) (do func() (string, error))
	check   func(t *testing.T, w *carriedWorld, target string)
}

// carriedWorlds opens fresh worlds, and names the changes to make in them.
type carriedWorlds struct {
	open  func(t *testing.T) *carriedWorld
	cases []carriedCase
}

func newCarriedWorld(stored audit.Store, inCommit bool) (*carriedWorld, *audit.Recorder, *slog.Logger) {
	w := &carriedWorld{trail: &gatedTrail{Store: stored}, stored: stored, inCommit: inCommit}
	logger := slog.New(slog.DiscardHandler)
	return w, audit.NewRecorder(w.trail, time.Now, newTestID, logger), logger
}

// recover runs every store's recovery pass into trail, as start-up does.
func (w *carriedWorld) recover(t *testing.T, trail audit.Store) {
	t.Helper()
	ctx := context.Background()
	project := func(e audit.Event) error { return trail.Append(ctx, e) }
	for _, s := range w.stores {
		if err := s.ReprojectAudit(ctx, project); err != nil {
			t.Fatalf("recovery: %v", err)
		}
	}
}

// events returns the trail's events about target with action.
func (w *carriedWorld) events(t *testing.T, target string, action molarv1.AuditAction) []audit.Event {
	return trailEvents(t, w.stored, target, action)
}

// newestTarget returns the target of the newest event with action in the
// trail, "" if there is none.
func (w *carriedWorld) newestTarget(t *testing.T, action molarv1.AuditAction) string {
	return newestTarget(t, w.stored, action)
}

// deskAdmin is a signed-in admin's request context.
func deskAdmin() context.Context {
	return services.WithPrincipal(context.Background(), &services.Principal{StaffID: "admin-1", Email: "admin@molar.test", Name: "원장",
		SessionID: "admin-session", Roles: []molarv1.Role{molarv1.Role_ROLE_ADMIN}, Permissions: map[molarv1.Permission]bool{
			molarv1.Permission_PERMISSION_STAFF_MANAGE: true}})
}

// patientWorlds is the patient service over an engine, and its changes.
func patientWorlds(open PatientEngine) carriedWorlds {
	ctx := deskAdmin()
	register := func(t *testing.T, w *carriedWorld) patient.Record {
		t.Helper()
		r, err := w.patients.Create(ctx, newPatientInput(""), true)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stored := func(t *testing.T, w *carriedWorld, id string) patient.Record {
		t.Helper()
		r, err := w.patientStore.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return carriedWorlds{
		open: func(t *testing.T) *carriedWorld {
			e := open(t)
			w, rec, logger := newCarriedWorld(e.Audit, e.AuditInCommit)
			sealer, err := patient.ParseSealer(patient.NewSealerSpec("k1"))
			if err != nil {
				t.Fatal(err)
			}
			w.patientStore, w.stores = e.Store, []auditRecoverer{e.Store}
			w.patients = patient.NewService(patient.Deps{Store: e.Store, Changes: e.Changes, Sealer: sealer, Audit: rec,
				Now: time.Now, NewID: newTestID, Logger: logger})
			return w
		},
		cases: []carriedCase{
			{"register patient", molarv1.AuditAction_AUDIT_ACTION_PATIENT_CREATED, func(t *testing.T, w *carriedWorld) func() (string, error) {
				return func() (string, error) {
					r, err := w.patients.Create(ctx, newPatientInput(""), true)
					return r.ID, err
				}
			}, func(t *testing.T, w *carriedWorld, id string) {
				if r := stored(t, w, id); r.Version != 1 || r.ChartNumber != 1 {
					t.Errorf("patient at version %d with chart number %d, want 1 and 1", r.Version, r.ChartNumber)
				}
			}},
			{"update patient", molarv1.AuditAction_AUDIT_ACTION_PATIENT_UPDATED, func(t *testing.T, w *carriedWorld) func() (string, error) {
				r := register(t, w)
				return func() (string, error) {
					_, err := w.patients.Update(ctx, r.ID, newPatientInput("치실 사용 권장"), r.Version)
					return r.ID, err
				}
			}, func(t *testing.T, w *carriedWorld, id string) {
				if r := stored(t, w, id); r.Version != 2 || r.Details.GetMemo() != "치실 사용 권장" {
					t.Errorf("patient at version %d with memo %q", r.Version, r.Details.GetMemo())
				}
			}},
			{"deactivate patient", molarv1.AuditAction_AUDIT_ACTION_PATIENT_DEACTIVATED, func(t *testing.T, w *carriedWorld) func() (string, error) {
				r := register(t, w)
				return func() (string, error) {
					_, err := w.patients.SetActive(ctx, r.ID, false, "이사")
					return r.ID, err
				}
			}, func(t *testing.T, w *carriedWorld, id string) {
				if r := stored(t, w, id); r.Active || r.DeactivationReason != "이사" {
					t.Errorf("patient active %v, reason %q", r.Active, r.DeactivationReason)
				}
			}},
			{"reactivate patient", molarv1.AuditAction_AUDIT_ACTION_PATIENT_REACTIVATED, func(t *testing.T, w *carriedWorld) func() (string, error) {
				r := register(t, w)
				if _, err := w.patients.SetActive(ctx, r.ID, false, "이사"); err != nil {
					t.Fatal(err)
				}
				return func() (string, error) {
					_, err := w.patients.SetActive(ctx, r.ID, true, "")
					return r.ID, err
				}
			}, func(t *testing.T, w *carriedWorld, id string) {
				if r := stored(t, w, id); !r.Active || r.Version != 3 {
					t.Errorf("patient active %v at version %d, want active at 3", r.Active, r.Version)
				}
			}},
		},
	}
}

// carriedStandsWhenTrailFails makes every kind of change while the audit
// trail refuses appends: each change succeeds for the caller and is
// stored; its event is missing (or, on an engine that commits it with the
// change, already there), and the recovery pass at start leaves it in the
// trail exactly once, however often it runs.
func carriedStandsWhenTrailFails(t *testing.T, ws carriedWorlds) {
	for _, c := range ws.cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := ws.open(t)
			do := c.prepare(t, w)
			w.trail.setFailing(true)
			target, err := do()
			if err != nil {
				t.Fatalf("the change failed for the caller: %v", err)
			}
			c.check(t, w, target)
			want := 0
			if w.inCommit {
				want = 1
			}
			if got := w.events(t, target, c.action); len(got) != want {
				t.Fatalf("%d events in the trail while it was failing, want %d", len(got), want)
			}
			w.trail.setFailing(false)
			for range 2 {
				w.recover(t, w.trail)
				if got := w.events(t, target, c.action); len(got) != 1 {
					t.Fatalf("after recovery: %d %s events, want 1", len(got), c.action)
				}
			}
			c.check(t, w, target)
		})
	}
}

// carriedProjectedOnce makes every kind of change with the trail up: its
// event is in the trail once at once, and recovery adds nothing.
func carriedProjectedOnce(t *testing.T, ws carriedWorlds) {
	for _, c := range ws.cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := ws.open(t)
			target, err := c.prepare(t, w)()
			if err != nil {
				t.Fatal(err)
			}
			if got := w.events(t, target, c.action); len(got) != 1 {
				t.Fatalf("%d events, want 1", len(got))
			}
			w.recover(t, w.trail)
			if got := w.events(t, target, c.action); len(got) != 1 {
				t.Fatalf("after recovery: %d events, want 1", len(got))
			}
		})
	}
}

// carriedCrashAfterCommit stops each kind of change right after its
// commit: the append of its event does not return (a process that died
// there). A process started afresh on the database recovers the change and
// its event, once; the stopped command, let go afterwards, adds nothing.
func carriedCrashAfterCommit(t *testing.T, ws carriedWorlds) {
	for _, c := range ws.cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := ws.open(t)
			do := c.prepare(t, w)
			waiting, release := w.trail.holdAppends()
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
			// The process started afresh appends to the trail as stored.
			w.recover(t, w.stored)
			if target := w.newestTarget(t, c.action); target == "" {
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
			c.check(t, w, r.target)
			w.recover(t, w.stored)
			if got := w.events(t, r.target, c.action); len(got) != 1 {
				t.Fatalf("%d %s events, want 1", len(got), c.action)
			}
		})
	}
}
