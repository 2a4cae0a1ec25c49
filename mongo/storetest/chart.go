package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/testing/protocmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/chart"
)

// ChartStore is what an engine's clinical store offers: the service's
// record store and catalog, the recovery pass run at start, and the bulk
// load of demo charts and migrations.
type ChartStore interface {
	chart.Store
	chart.Catalog
	ReprojectAudit(ctx context.Context, project func(audit.Event) error) error
	InsertMany(ctx context.Context, recs []chart.Record) error
}

// Chart is what an engine gives the chart service: a fresh, empty
// database's clinical store, audit trail and change log, all on one
// database, dropped when the test ends.
type Chart struct {
	Store   ChartStore
	Audit   audit.Store
	Changes chart.Changes
	// AuditInCommit says the store writes a change's audit record into the
	// trail inside the change's own commit (see Patients).
	AuditInCommit bool
}

// ChartEngine opens a fresh Chart for a test.
type ChartEngine func(t *testing.T) Chart

// TestChart runs the chart and catalog contract against an engine.
func TestChart(t *testing.T, open ChartEngine) {
	for name, test := range map[string]func(*testing.T, ChartEngine){
		"record round trip":               chartRoundTrip,
		"insert race has one winner":      chartInsertRace,
		"bulk load":                       chartBulkLoad,
		"note versions name authors":      noteVersionsNameAuthors,
		"catalog last change wins":        catalogLastChangeWins,
		"change stands when trail fails":  func(t *testing.T, open ChartEngine) { carriedStandsWhenTrailFails(t, chartWorlds(open)) },
		"change projected once":           func(t *testing.T, open ChartEngine) { carriedProjectedOnce(t, chartWorlds(open)) },
		"crash after commit is recovered": func(t *testing.T, open ChartEngine) { carriedCrashAfterCommit(t, chartWorlds(open)) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// fullChart is a record at version with every kind of change and a note
// amended once, as the service makes them: an added entry's update and
// completion times are its creation.
func fullChart(patientID string, version int64, at time.Time) chart.Record {
	fill := chart.Entry{ID: "e1", Tooth: 16, Surfaces: []molarv1.Surface{molarv1.Surface(1), molarv1.Surface(2)}, ProcedureCode: "D2391",
		ProcedureName: "레진 충전", Fee: 90000, Status: molarv1.EntryStatus_ENTRY_STATUS_COMPLETED, CreatedBy: "김원장", Created: at,
		UpdatedBy: "김원장", Updated: at, Completed: at}
	caries := chart.Entry{ID: "e2", Tooth: 36, Condition: molarv1.Condition_CONDITION_CARIES, CreatedBy: "김원장", Created: at, UpdatedBy: "김원장", Updated: at}
	later := at.Add(10 * time.Minute)
	return chart.Record{PatientID: patientID, Version: version,
		Events: []chart.Event{
			{Type: chart.EventAdd, At: at, By: "s1", ByName: "김원장", Entry: fill},
			{Type: chart.EventAdd, At: at, By: "s1", ByName: "김원장", Entry: caries},
			{Type: chart.EventStatus, At: later, By: "s2", ByName: "박위생사", EntryID: "e1", Status: molarv1.EntryStatus_ENTRY_STATUS_PLANNED},
			{Type: chart.EventRemove, At: later, By: "s1", ByName: "김원장", EntryID: "e2", Reason: "오진"},
		},
		Notes: []chart.Note{
			{ID: "n1", Title: "초진", Content: "#16 우식, 레진 충전", Tags: []string{"초진", "보존"}, AuthorID: "s1", AuthorName: "김원장", Created: at,
				Revisions: []chart.NoteRevision{{Title: "초진", Content: "#16 우식", Tags: []string{"초진"}, AuthorName: "김원장", Time: at}},
				Version:   2, Updated: later, UpdatedBy: "김원장"},
			{ID: "n2", Title: "메모", Content: "잘못 작성", AuthorID: "s2", AuthorName: "박위생사", Created: later, Removed: true, RemovedReason: "중복",
				Version: 1, Updated: later, UpdatedBy: "박위생사"},
		}}
}

// GrowingChart is n versions of a patient's record as the service makes
// them, each adding a chart entry and amending the one note.
func GrowingChart(patientID string, n int) []chart.Record {
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	var versions []chart.Record
	r := chart.Record{PatientID: patientID}
	for v := int64(1); v <= int64(n); v++ {
		r.Version = v
		r.Events = append(slices.Clone(r.Events), chart.Event{Type: chart.EventAdd, At: at, By: "s1", ByName: "김원장",
			Entry: chart.Entry{ID: fmt.Sprint("e", v), Tooth: 16, Condition: molarv1.Condition_CONDITION_CARIES, CreatedBy: "김원장", Created: at,
				UpdatedBy: "김원장", Updated: at}})
		note := chart.Note{ID: "n1", Title: "경과", Content: fmt.Sprint("방문 ", v), AuthorID: "s1", AuthorName: "김원장", Created: at,
			Version: v, Updated: at, UpdatedBy: "김원장"}
		if v > 1 {
			note.Revisions = append(slices.Clone(r.Notes[0].Revisions), chart.NoteRevision{Title: "경과", Content: r.Notes[0].Content, AuthorName: "김원장", Time: at})
		}
		r.Notes = []chart.Note{note}
		versions = append(versions, r)
	}
	return versions
}

// SameChart compares records as stored: times to the millisecond.
func SameChart(t *testing.T, what string, got, want chart.Record) {
	t.Helper()
	opts := cmp.Options{cmpopts.EquateEmpty(), protocmp.Transform(),
		cmp.Comparer(func(a, b time.Time) bool { return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond)) })}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// chartRoundTrip: a patient with nothing charted has an empty record at
// version 0; every field of every version comes back from the changes
// stored (chart changes appended, notes added and amended with their
// revisions); a version stored already is refused with AlreadyExists and
// changes nothing.
func chartRoundTrip(t *testing.T, open ChartEngine) {
	ctx := context.Background()
	repo := open(t).Store
	got, err := repo.Latest(ctx, "p1")
	if err != nil || got.Version != 0 || len(got.Events) != 0 || len(got.Notes) != 0 || got.PatientID != "p1" {
		t.Fatalf("record of a patient with nothing charted: %+v, %v", got, err)
	}
	at := time.Date(2026, 3, 2, 9, 30, 15, 123456789, time.FixedZone("KST", 9*3600))
	v1 := fullChart("p1", 1, at)
	v1.Events, v1.Notes = v1.Events[:1], v1.Notes[:1]
	v1.Notes[0] = chart.Note{ID: "n1", Title: "초진", Content: "#16 우식", Tags: []string{"초진"}, AuthorID: "s1", AuthorName: "김원장", Created: at,
		Version: 1, Updated: at, UpdatedBy: "김원장"}
	v2 := fullChart("p1", 2, at)
	v3 := fullChart("p1", 3, at)
	v3.Events = append(v3.Events, chart.Event{Type: chart.EventStatus, At: at.Add(time.Hour), By: "s1", ByName: "김원장", EntryID: "e1",
		Status: molarv1.EntryStatus_ENTRY_STATUS_COMPLETED})
	v3.Notes[0].Revisions = append(v3.Notes[0].Revisions, chart.NoteRevision{Title: v3.Notes[0].Title, Content: v3.Notes[0].Content,
		Tags: v3.Notes[0].Tags, AuthorName: "김원장", Time: v3.Notes[0].Updated})
	v3.Notes[0].Content, v3.Notes[0].Version = "#16 우식, 레진 충전 완료", 3
	prev := chart.Record{PatientID: "p1"}
	for _, v := range []chart.Record{v1, v2, v3} {
		if err := repo.Insert(ctx, chart.ChangeFrom(prev, v), audit.Event{}); err != nil {
			t.Fatal(err)
		}
		got, err := repo.Latest(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		SameChart(t, fmt.Sprintf("version %d", v.Version), got, v)
		prev = v
	}
	again := fullChart("p1", 3, at)
	again.Notes = nil
	if err := repo.Insert(ctx, chart.ChangeFrom(v2, again), audit.Event{}); services.ErrorCode(err) != services.AlreadyExists {
		t.Fatalf("second insert of version 3: %v, want AlreadyExists", err)
	}
	got, err = repo.Latest(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	SameChart(t, "after the refused insert", got, v3)
	entries, n := got.ChartAt(time.Time{})
	if n != 5 || len(entries) != 1 || entries[0].Status != molarv1.EntryStatus_ENTRY_STATUS_COMPLETED {
		t.Errorf("chart replayed from the stored record: %d changes, %+v", n, entries)
	}
}

// noteVersionsNameAuthors: a note written by one person and amended
// by another, then by the first again, keeps with each earlier version who
// wrote that text and when (not the note's first author and creation
// time), and names the last author and time on the current text, as
// stored and as listed.
func noteVersionsNameAuthors(t *testing.T, open ChartEngine) {
	e := open(t)
	start := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	var tick atomic.Int64
	now := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Minute) }
	logger := slog.New(slog.DiscardHandler)
	svc := chart.NewService(chart.Deps{Store: e.Store, Catalog: e.Store, Patients: chartPatients{}, Changes: e.Changes,
		Audit: audit.NewRecorder(e.Audit, now, newTestID, logger), Now: now, NewID: newTestID, Logger: logger})
	as := func(id, name string) context.Context {
		return services.WithPrincipal(context.Background(), &services.Principal{StaffID: id, Name: name, Roles: []molarv1.Role{molarv1.Role_ROLE_DENTIST}})
	}
	kim, park := as("s1", "김원장"), as("s2", "박위생사")
	written, err := svc.AddNote(kim, "p1", "초진", "#16 우식", []string{"초진"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := svc.AmendNote(park, written.ID, "초진", "#16 우식, 레진 충전", []string{"초진", "보존"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	second, err := svc.AmendNote(kim, written.ID, "초진 완료", "#16 우식, 레진 충전 완료", []string{"보존"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !written.Created.Before(first.Updated) || !first.Updated.Before(second.Updated) {
		t.Fatalf("times: written %v, amended %v then %v", written.Created, first.Updated, second.Updated)
	}
	want := chart.Note{ID: written.ID, Title: "초진 완료", Content: "#16 우식, 레진 충전 완료", Tags: []string{"보존"}, AuthorID: "s1", AuthorName: "김원장",
		Created: written.Created, Version: 3, Updated: second.Updated, UpdatedBy: "김원장",
		Revisions: []chart.NoteRevision{
			{Title: "초진", Content: "#16 우식", Tags: []string{"초진"}, AuthorName: "김원장", Time: written.Created},
			{Title: "초진", Content: "#16 우식, 레진 충전", Tags: []string{"초진", "보존"}, AuthorName: "박위생사", Time: first.Updated},
		}}
	stored, err := e.Store.Latest(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	listed, _, err := svc.Notes(kim, "p1", "", false, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Notes) != 1 || len(listed) != 1 {
		t.Fatalf("%d notes stored, %d listed, want 1", len(stored.Notes), len(listed))
	}
	SameChart(t, "note as stored", chart.Record{Notes: stored.Notes}, chart.Record{Notes: []chart.Note{want}})
	SameChart(t, "note as listed", chart.Record{Notes: listed}, chart.Record{Notes: []chart.Note{want}})
}

// chartInsertRace races writers that each add events to one patient's
// record from the newest version they read, as the service does: each
// version is won by exactly one insert, the others are told AlreadyExists
// and start again from the winner's, no event is lost, and the newest
// version never goes back.
func chartInsertRace(t *testing.T, open ChartEngine) {
	ctx := context.Background()
	repo := open(t).Store
	const writers, addsEach = 8, 5
	var (
		mu      sync.Mutex
		winners = map[int64]int{}
		newest  atomic.Int64
	)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for n := range addsEach {
				for attempt := 0; ; attempt++ {
					if attempt > 10*writers*addsEach {
						t.Errorf("writer %d never won a version", i)
						return
					}
					floor := newest.Load()
					cur, err := repo.Latest(ctx, "p1")
					if err != nil {
						t.Errorf("latest: %v", err)
						return
					}
					if cur.Version < floor {
						t.Errorf("latest answered version %d after version %d was won: rolled back", cur.Version, floor)
						return
					}
					next := cur
					next.Version++
					next.Events = append(append([]chart.Event(nil), cur.Events...), chart.Event{Type: chart.EventAdd, At: time.Now(),
						Entry: chart.Entry{ID: fmt.Sprintf("w%d-%d", i, n), Tooth: 11, Condition: molarv1.Condition_CONDITION_CARIES}})
					err = repo.Insert(ctx, chart.ChangeFrom(cur, next), audit.Event{})
					if services.ErrorCode(err) == services.AlreadyExists {
						continue
					}
					if err != nil {
						t.Errorf("insert: %v", err)
						return
					}
					mu.Lock()
					winners[next.Version]++
					mu.Unlock()
					for v := newest.Load(); v < next.Version && !newest.CompareAndSwap(v, next.Version); v = newest.Load() {
					}
					break
				}
			}
		})
	}
	wg.Wait()
	const total = writers * addsEach
	for v := int64(1); v <= total; v++ {
		if winners[v] != 1 {
			t.Errorf("version %d won %d times, want once", v, winners[v])
		}
	}
	got, err := repo.Latest(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != total || len(got.Events) != total {
		t.Fatalf("newest version %d with %d events, want %d with %d", got.Version, len(got.Events), total, total)
	}
	seen := map[string]bool{}
	for _, e := range got.Events {
		if seen[e.Entry.ID] {
			t.Errorf("event %s stored twice", e.Entry.ID)
		}
		seen[e.Entry.ID] = true
	}
}

// chartBulkLoad: InsertMany stores records at their versions (demo charts
// at 1, records moved from another engine at any), found by Latest; the
// next version is inserted as usual and a loaded one is refused.
func chartBulkLoad(t *testing.T, open ChartEngine) {
	ctx := context.Background()
	repo := open(t).Store
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var recs []chart.Record
	for i := range 510 { // past the MongoDB repository's batch of 500
		recs = append(recs, fullChart(fmt.Sprintf("p%04d", i), int64(1+i%4), at))
	}
	if err := repo.InsertMany(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []chart.Record{recs[0], recs[3], recs[len(recs)-1]} {
		got, err := repo.Latest(ctx, want.PatientID)
		if err != nil {
			t.Fatal(err)
		}
		SameChart(t, "loaded "+want.PatientID, got, want)
	}
	loaded := recs[3]
	if err := repo.Insert(ctx, chart.Change{PatientID: loaded.PatientID, Version: loaded.Version}, audit.Event{}); services.ErrorCode(err) != services.AlreadyExists {
		t.Errorf("insert of a loaded version: %v, want AlreadyExists", err)
	}
	next := fullChart(loaded.PatientID, loaded.Version+1, at)
	next.Notes = append(next.Notes, chart.Note{ID: "n3", Title: "재진", Content: "경과 양호", AuthorID: "s1", AuthorName: "김원장", Created: at,
		Version: 1, Updated: at, UpdatedBy: "김원장"})
	if err := repo.Insert(ctx, chart.ChangeFrom(loaded, next), audit.Event{}); err != nil {
		t.Fatal(err)
	}
	got, err := repo.Latest(ctx, loaded.PatientID)
	if err != nil {
		t.Fatal(err)
	}
	SameChart(t, "after the load", got, next)
}

// catalogLastChangeWins: a change needs its audit event; saving a code
// again replaces its procedure; saves racing on distinct codes all stand,
// and of saves racing on one code one is the procedure, whole.
func catalogLastChangeWins(t *testing.T, open ChartEngine) {
	ctx := context.Background()
	repo := open(t).Store
	stamp := func() audit.Event {
		return audit.Event{ID: newTestID(), Time: time.Now(), Action: molarv1.AuditAction_AUDIT_ACTION_CATALOG_CHANGED, TargetType: "procedure"}
	}
	p := &molarv1.Procedure{Code: "D2391", NameKo: "레진 충전", NameEn: "Resin filling", Category: molarv1.ProcedureCategory(1), Fee: 90000,
		Insured: true, RequiresTooth: true, RequiresSurfaces: true, Active: true}
	if err := repo.Save(ctx, p, audit.Event{}); err == nil {
		t.Error("a catalog change without its audit event was stored")
	}
	if err := repo.Save(ctx, p, stamp()); err != nil {
		t.Fatal(err)
	}
	changed := &molarv1.Procedure{Code: "D2391", NameKo: "레진 충전(2면)", NameEn: "Resin filling, two surfaces", Fee: 120000, Active: false}
	if err := repo.Save(ctx, changed, stamp()); err != nil {
		t.Fatal(err)
	}
	procs, err := repo.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*molarv1.Procedure{changed}, procs, protocmp.Transform()); diff != "" {
		t.Errorf("catalog after the second save (-want +got):\n%s", diff)
	}

	const racers = 8
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			for _, code := range []string{fmt.Sprintf("R%02d", i), "SHARED"} {
				q := &molarv1.Procedure{Code: code, NameKo: fmt.Sprintf("처치 %d", i), NameEn: fmt.Sprintf("treatment %d", i), Fee: int64(1000 * (i + 1)), Active: true}
				if err := repo.Save(ctx, q, stamp()); err != nil {
					t.Errorf("save %s: %v", code, err)
				}
			}
		})
	}
	wg.Wait()
	procs, err = repo.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byCode := map[string]*molarv1.Procedure{}
	for _, p := range procs {
		byCode[p.GetCode()] = p
	}
	if len(byCode) != racers+2 {
		t.Fatalf("%d procedures, want %d", len(byCode), racers+2)
	}
	shared := byCode["SHARED"]
	var i int
	if _, err := fmt.Sscanf(shared.GetNameEn(), "treatment %d", &i); err != nil || shared.GetFee() != int64(1000*(i+1)) || shared.GetNameKo() != fmt.Sprintf("처치 %d", i) {
		t.Errorf("the shared code is a mix of saves: %v", shared)
	}
}

// chartPatients says every patient exists: the chart contract is about
// the clinical store, not the patient store.
type chartPatients struct{}

func (chartPatients) Exists(context.Context, string) error { return nil }

// chartWorlds is the chart service over an engine, and its changes.
func chartWorlds(open ChartEngine) carriedWorlds {
	ctx := deskAdmin()
	latest := func(w *carriedWorld, id string) chart.Record {
		got, _ := w.chartStore.Latest(context.Background(), id)
		return got
	}
	return carriedWorlds{
		open: func(t *testing.T) *carriedWorld {
			e := open(t)
			w, rec, logger := newCarriedWorld(e.Audit, e.AuditInCommit)
			w.chartStore, w.stores = e.Store, []auditRecoverer{e.Store}
			w.chart = chart.NewService(chart.Deps{Store: e.Store, Catalog: e.Store, Patients: chartPatients{}, Changes: e.Changes, Audit: rec,
				Now: time.Now, NewID: newTestID, Logger: logger})
			return w
		},
		cases: []carriedCase{
			{"chart entry", molarv1.AuditAction_AUDIT_ACTION_CHART_CHANGED, func(t *testing.T, w *carriedWorld) func() (string, error) {
				id := newTestID()
				return func() (string, error) {
					_, err := w.chart.AddEntry(ctx, id, chart.AddEntryInput{Tooth: 16, Condition: molarv1.Condition_CONDITION_CARIES})
					return id, err
				}
			}, func(t *testing.T, w *carriedWorld, id string) {
				if got := latest(w, id); len(got.Events) != 1 {
					t.Errorf("chart has %d events, want 1", len(got.Events))
				}
			}},
			{"note", molarv1.AuditAction_AUDIT_ACTION_NOTE_ADDED, func(t *testing.T, w *carriedWorld) func() (string, error) {
				id := newTestID()
				return func() (string, error) {
					_, err := w.chart.AddNote(ctx, id, "초진", "#16 우식", nil)
					return id, err
				}
			}, func(t *testing.T, w *carriedWorld, id string) {
				if got := latest(w, id); len(got.Notes) != 1 {
					t.Errorf("record has %d notes, want 1", len(got.Notes))
				}
			}},
			{"catalog", molarv1.AuditAction_AUDIT_ACTION_CATALOG_CHANGED, func(t *testing.T, w *carriedWorld) func() (string, error) {
				return func() (string, error) {
					p := &molarv1.Procedure{Code: "D2391", NameKo: "레진 충전", NameEn: "Resin filling", Fee: 90000, RequiresTooth: true, Active: true}
					return p.Code, w.chart.SaveProcedure(ctx, p)
				}
			}, func(t *testing.T, w *carriedWorld, code string) {
				procs, _ := w.chartStore.List(context.Background())
				if len(procs) != 1 || procs[0].GetCode() != code || procs[0].GetFee() != 90000 {
					t.Errorf("catalog %v, want %s", procs, code)
				}
			}},
		},
	}
}
