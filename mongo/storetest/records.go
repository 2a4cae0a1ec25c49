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
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/patient"
)

// Records is what an engine gives the patient and chart services together:
// a fresh, empty database's patient and clinical stores, audit trail and
// change log, all on one database, dropped when the test ends.
type Records struct {
	Patients PatientStore
	Chart    ChartStore
	Audit    audit.Store
	Changes  chart.Changes
	// Sparse asks for each call to be faulted one way only, in turn, instead
	// of all three: for an engine too slow to run the whole matrix in CI.
	Sparse bool
}

// RecordsEngine opens a fresh Records for a test.
type RecordsEngine func(t *testing.T) Records

// The ways a call can go wrong: it fails before it is made; the process
// dies before it is made (and every later call of it fails); or it is made
// and its answer is lost, as when a connection drops after the server
// committed.
type faultMode int

const (
	faultFail faultMode = iota
	faultCrash
	faultLost
)

func (m faultMode) String() string {
	return [...]string{"fail", "crash at", "lose the answer of"}[m]
}

// recordFaults counts calls and injects one fault at call number at.
type recordFaults struct {
	faults
	mode faultMode
}

// call makes one call under the fault plan.
func (f *recordFaults) call(run func() error) error {
	f.mu.Lock()
	if f.crashed {
		f.mu.Unlock()
		return errInjected
	}
	f.calls++
	hit := f.calls == f.at
	if hit && f.mode == faultCrash {
		f.crashed = true
	}
	f.mu.Unlock()
	if hit && f.mode != faultLost {
		return errInjected
	}
	err := run()
	if hit {
		return errInjected
	}
	return err
}

// callValue is call for a call that answers with a value.
func callValue[T any](f *recordFaults, run func() (T, error)) (T, error) {
	var v T
	err := f.call(func() error {
		var err error
		v, err = run()
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

type faultyPatients struct {
	PatientStore
	f *recordFaults
}

func (s faultyPatients) Create(ctx context.Context, r patient.Record, ev audit.Event) (patient.Record, error) {
	return callValue(s.f, func() (patient.Record, error) { return s.PatientStore.Create(ctx, r, ev) })
}

func (s faultyPatients) Get(ctx context.Context, id string) (patient.Record, error) {
	return callValue(s.f, func() (patient.Record, error) { return s.PatientStore.Get(ctx, id) })
}

func (s faultyPatients) Save(ctx context.Context, r patient.Record, ev audit.Event) (patient.Record, error) {
	return callValue(s.f, func() (patient.Record, error) { return s.PatientStore.Save(ctx, r, ev) })
}

func (s faultyPatients) AuditProjected(ctx context.Context, id string, version int64) error {
	return s.f.call(func() error { return s.PatientStore.AuditProjected(ctx, id, version) })
}

type faultyChart struct {
	ChartStore
	f *recordFaults
}

func (s faultyChart) Latest(ctx context.Context, patientID string) (chart.Record, error) {
	return callValue(s.f, func() (chart.Record, error) { return s.ChartStore.Latest(ctx, patientID) })
}

func (s faultyChart) Insert(ctx context.Context, c chart.Change, ev audit.Event) error {
	return s.f.call(func() error { return s.ChartStore.Insert(ctx, c, ev) })
}

func (s faultyChart) AuditProjected(ctx context.Context, patientID string, version int64) error {
	return s.f.call(func() error { return s.ChartStore.AuditProjected(ctx, patientID, version) })
}

type faultyTrail struct {
	audit.Store
	f *recordFaults
}

func (s faultyTrail) Append(ctx context.Context, e audit.Event) error {
	return s.f.call(func() error { return s.Store.Append(ctx, e) })
}

type faultyLog struct {
	chart.Changes
	f *recordFaults
}

func (s faultyLog) Publish(ctx context.Context, kind, key string, rev int64) error {
	return s.f.call(func() error { return s.Changes.Publish(ctx, kind, key, rev) })
}

// recordsWorld is one database and the server processes started on it.
type recordsWorld struct {
	e   Records
	now time.Time
	ids int
}

// recordsProcess is one server process's patient and chart services.
type recordsProcess struct {
	patients *patient.Service
	chart    *chart.Service
}

// process starts a server process; with f, everything it reads and writes
// goes through f. It recovers and loads as start-up does.
func (w *recordsWorld) process(t *testing.T, f *recordFaults) recordsProcess {
	t.Helper()
	ctx := context.Background()
	var ps patient.Store = w.e.Patients
	var cs chart.Store = w.e.Chart
	var trail audit.Store = w.e.Audit
	var log chart.Changes = w.e.Changes
	if f != nil {
		ps, cs, trail, log = faultyPatients{w.e.Patients, f}, faultyChart{w.e.Chart, f}, faultyTrail{trail, f}, faultyLog{log, f}
	} else {
		project := func(e audit.Event) error { return w.e.Audit.Append(ctx, e) }
		for _, r := range []auditRecoverer{w.e.Patients, w.e.Chart} {
			if err := r.ReprojectAudit(ctx, project); err != nil {
				t.Fatalf("recovery: %v", err)
			}
		}
	}
	logger := slog.New(slog.DiscardHandler)
	now := func() time.Time { return w.now }
	newID := func() string {
		w.ids++
		return fmt.Sprintf("id-%04d", w.ids)
	}
	sealer, err := patient.ParseSealer(patient.NewSealerSpec("k1"))
	if err != nil {
		t.Fatal(err)
	}
	rec := audit.NewRecorder(trail, now, newID, logger)
	p := recordsProcess{patients: patient.NewService(patient.Deps{Store: ps, Changes: log, Sealer: sealer, Audit: rec, Now: now, NewID: newID, Logger: logger})}
	p.chart = chart.NewService(chart.Deps{Store: cs, Catalog: w.e.Chart, Patients: p.patients, Changes: log, Audit: rec, Now: now, NewID: newID, Logger: logger})
	if f == nil {
		if err := p.patients.Load(ctx); err != nil {
			t.Fatalf("load: %v", err)
		}
	}
	return p
}

// recordsState is what the desk and the dentist can see of the day's
// patient: read from the database, never from a process's memory.
type recordsState struct {
	found   int // patients registered under the day's name
	patient patient.Record
	chart   chart.Record
}

const recordsName = "한지우"

func (w *recordsWorld) state(t *testing.T) recordsState {
	t.Helper()
	ctx := context.Background()
	all, err := w.e.Patients.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var s recordsState
	for _, r := range all {
		if r.Details.GetName() == recordsName {
			s.found++
			s.patient = r
		}
	}
	if s.found > 0 {
		if s.chart, err = w.e.Chart.Latest(ctx, s.patient.ID); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// recordsStep is one command of the day and how to tell, from what is
// stored, that it took effect.
type recordsStep struct {
	name string
	run  func(ctx context.Context, p recordsProcess, s recordsState) error
	done func(s recordsState) bool
}

func entryOf(s recordsState, code string) (chart.Entry, bool) {
	entries, _ := s.chart.ChartAt(time.Time{})
	i := slices.IndexFunc(entries, func(e chart.Entry) bool { return e.ProcedureCode == code || (code == "" && e.Condition != 0) })
	if i < 0 {
		return chart.Entry{}, false
	}
	return entries[i], true
}

// recordsDay is a new patient's first visit: registered, details
// corrected, a cavity and a filling charted, the filling completed, a note
// written and amended, and the patient's record closed when they move away.
func recordsDay() []recordsStep {
	note := func(s recordsState) (chart.Note, bool) {
		if len(s.chart.Notes) == 0 {
			return chart.Note{}, false
		}
		return s.chart.Notes[0], true
	}
	return []recordsStep{
		{"register", func(ctx context.Context, p recordsProcess, _ recordsState) error {
			_, err := p.patients.Create(ctx, &molarv1.PatientInput{Name: recordsName, Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1992-05-17",
				MobilePhone: "010-3141-5926"}, false)
			return err
		}, func(s recordsState) bool { return s.found > 0 }},
		{"correct the phone", func(ctx context.Context, p recordsProcess, s recordsState) error {
			_, err := p.patients.Update(ctx, s.patient.ID, &molarv1.PatientInput{Name: recordsName, Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1992-05-17",
				MobilePhone: "010-3141-5927", Memo: "오후 진료 선호"}, s.patient.Version)
			return err
		}, func(s recordsState) bool { return s.patient.Details.GetMemo() != "" }},
		{"chart the cavity", func(ctx context.Context, p recordsProcess, s recordsState) error {
			_, err := p.chart.AddEntry(ctx, s.patient.ID, chart.AddEntryInput{Tooth: 36, Condition: molarv1.Condition_CONDITION_CARIES})
			return err
		}, func(s recordsState) bool { _, ok := entryOf(s, ""); return ok }},
		{"plan the filling", func(ctx context.Context, p recordsProcess, s recordsState) error {
			_, err := p.chart.AddEntry(ctx, s.patient.ID, chart.AddEntryInput{Tooth: 36, Surfaces: []molarv1.Surface{molarv1.Surface(1)},
				ProcedureCode: "RESIN", Status: molarv1.EntryStatus_ENTRY_STATUS_PLANNED})
			return err
		}, func(s recordsState) bool { _, ok := entryOf(s, "RESIN"); return ok }},
		{"complete the filling", func(ctx context.Context, p recordsProcess, s recordsState) error {
			e, _ := entryOf(s, "RESIN")
			_, err := p.chart.SetStatus(ctx, s.patient.ID, e.ID, molarv1.EntryStatus_ENTRY_STATUS_COMPLETED)
			return err
		}, func(s recordsState) bool {
			e, _ := entryOf(s, "RESIN")
			return e.Status == molarv1.EntryStatus_ENTRY_STATUS_COMPLETED
		}},
		{"write the note", func(ctx context.Context, p recordsProcess, s recordsState) error {
			_, err := p.chart.AddNote(ctx, s.patient.ID, "초진", "#36 우식", []string{"초진"})
			return err
		}, func(s recordsState) bool { _, ok := note(s); return ok }},
		{"amend the note", func(ctx context.Context, p recordsProcess, s recordsState) error {
			n, _ := note(s)
			_, err := p.chart.AmendNote(ctx, n.ID, "초진", "#36 우식, 레진 충전", []string{"초진"}, n.Version)
			return err
		}, func(s recordsState) bool { n, _ := note(s); return n.Version == 2 }},
		{"close the record", func(ctx context.Context, p recordsProcess, s recordsState) error {
			_, err := p.patients.SetActive(ctx, s.patient.ID, false, "이사")
			return err
		}, func(s recordsState) bool { return !s.patient.Active }},
	}
}

// recordsSummary is the day's end, as compared between runs.
func recordsSummary(s recordsState) []string {
	out := []string{fmt.Sprintf("patients %d, version %d, active %v, phone %s", s.found, s.patient.Version, s.patient.Active, s.patient.Details.GetMobilePhone())}
	entries, changes := s.chart.ChartAt(time.Time{})
	out = append(out, fmt.Sprintf("chart version %d, %d changes", s.chart.Version, changes))
	for _, e := range entries {
		out = append(out, fmt.Sprintf("entry %d %s %v %s", e.Tooth, e.ProcedureCode, e.Condition, e.Status))
	}
	for _, n := range s.chart.Notes {
		out = append(out, fmt.Sprintf("note %s v%d %q, %d earlier", n.Title, n.Version, n.Content, len(n.Revisions)))
	}
	return out
}

// recordsAudited counts the trail's events about the day's patient by id;
// every version of the patient and of the chart has one.
func (w *recordsWorld) recordsAudited(t *testing.T, patientID string) map[string]int {
	t.Helper()
	got, _, err := w.e.Audit.List(context.Background(), audit.Filter{TargetID: patientID}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range got {
		n[e.ID]++
	}
	return n
}

// recordsSurviveEveryFault runs the day once cleanly, counting the calls it
// makes to the stores, the trail and the change log; then again with each
// call failing in turn, again with the process dying at each call, and
// again with each call's answer lost after it was made. After a fault the
// desk starts a new process (which recovers and loads), looks at what is
// stored and retries only what did not happen. Every acknowledged command
// must be stored, nothing twice (one patient, not two), the day must end as
// the clean run did, and every version of the patient and of the chart must
// have exactly one audit record.
func recordsSurviveEveryFault(t *testing.T, open RecordsEngine) {
	ctx := deskAdmin()
	setup := func(t *testing.T) *recordsWorld {
		w := &recordsWorld{e: open(t), now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
		if err := w.process(t, nil).chart.SaveProcedure(ctx, &molarv1.Procedure{Code: "RESIN", NameKo: "레진 충전", NameEn: "Resin filling",
			Category: molarv1.ProcedureCategory_PROCEDURE_CATEGORY_RESTORATIVE, Fee: 90000, RequiresTooth: true, RequiresSurfaces: true, Active: true}); err != nil {
			t.Fatal(err)
		}
		return w
	}
	clean := setup(t)
	counter := &recordFaults{}
	p := clean.process(t, counter)
	for _, st := range recordsDay() {
		if err := st.run(ctx, p, clean.state(t)); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	end := clean.state(t)
	want := recordsSummary(end)
	calls := counter.calls
	wantAudited := int(end.patient.Version + end.chart.Version)
	if n := len(clean.recordsAudited(t, end.patient.ID)); n != wantAudited {
		t.Fatalf("clean run: %d audit records for %d versions", n, wantAudited)
	}
	t.Logf("a clean day makes %d calls and ends with %v", calls, want)

	for _, mode := range []faultMode{faultFail, faultCrash, faultLost} {
		for at := 1; at <= calls; at++ {
			if clean.e.Sparse && at%3 != int(mode) {
				continue
			}
			t.Run(fmt.Sprintf("%s call %d", mode, at), func(t *testing.T) {
				t.Parallel()
				w := setup(t)
				p := w.process(t, &recordFaults{faults: faults{at: at}, mode: mode})
				for _, st := range recordsDay() {
					err := st.run(ctx, p, w.state(t))
					if err == nil {
						if !st.done(w.state(t)) {
							t.Fatalf("%s was acknowledged but is not stored", st.name)
						}
						continue
					}
					if !errors.Is(err, errInjected) {
						t.Logf("%s: %v", st.name, err)
					}
					// The process may be gone: start a new one, which
					// recovers and loads, and retry what did not happen.
					p = w.process(t, nil)
					if !st.done(w.state(t)) {
						if err := st.run(ctx, p, w.state(t)); err != nil {
							t.Fatalf("%s retried after a fault: %v", st.name, err)
						}
					}
				}
				w.process(t, nil)
				got := w.state(t)
				if diff := cmp.Diff(want, recordsSummary(got)); diff != "" {
					t.Errorf("the day ended differently (-clean +faulty):\n%s", diff)
				}
				audited := w.recordsAudited(t, got.patient.ID)
				if len(audited) != int(got.patient.Version+got.chart.Version) {
					t.Errorf("%d audit records for %d patient and %d chart versions", len(audited), got.patient.Version, got.chart.Version)
				}
				for id, n := range audited {
					if n != 1 {
						t.Errorf("audit record %s appears %d times", id, n)
					}
				}
				// The patient the desk searches for is the one stored.
				found, _, err := w.process(t, nil).patients.Search(ctx, recordsName, true, "", 10)
				if err != nil || len(found) != 1 || found[0].ID != got.patient.ID || found[0].Active {
					t.Errorf("search for the patient: %+v, %v", found, err)
				}
			})
		}
	}
}

// TestRecords runs the fault matrix of the patient and chart services
// against an engine.
func TestRecords(t *testing.T, open RecordsEngine) {
	t.Run("a day of records survives every fault", func(t *testing.T) {
		t.Parallel()
		recordsSurviveEveryFault(t, open)
	})
}
