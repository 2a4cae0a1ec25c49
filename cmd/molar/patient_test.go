package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.mongodb.org/mongo-driver/v2/bson"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/patient"
)

// clinicStaff signs in one account per role on ts and returns their tokens.
func clinicStaff(t *testing.T, ts *testServer) map[molarv1.Role]string {
	t.Helper()
	out := map[molarv1.Role]string{}
	for _, r := range []molarv1.Role{molarv1.Role_ROLE_ADMIN, molarv1.Role_ROLE_DENTIST, molarv1.Role_ROLE_FRONT_DESK} {
		email := strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_")) + "@clinic.test"
		ts.addStaff(t, email, "staff-password-99", r)
		_, out[r] = ts.login(t, email, "staff-password-99")
	}
	return out
}

func seedCatalog(t *testing.T, ts *testServer) {
	t.Helper()
	for _, p := range demoCatalog() {
		if err := ts.app.chart.SaveProcedure(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPatientWorkflow registers, finds, charts and notes a patient with
// distinctive values, then checks that none of them reached the logs and
// that the registration number is not stored in clear.
func TestPatientWorkflow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	staff := clinicStaff(t, ts)
	seedCatalog(t, ts)
	desk := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	const (
		name  = "황보칠성"
		phone = "010-7391-4826"
		rrn   = "770312-1849263"
	)
	created, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: name, Sex: molarv1.Sex_SEX_MALE, BirthDate: "1977-03-12", MobilePhone: "01073914826", Rrn: "7703121849263",
		Alerts: &molarv1.MedicalAlerts{Allergies: []string{"페니실린"}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	p := created.Msg.GetPatient()
	if p.GetChartNumber() != 1 || p.GetDetails().GetMobilePhone() != phone || p.GetRrnMasked() != "770312-1******" || p.GetDetails().GetRrn() != "" {
		t.Fatalf("created %v", p)
	}

	// Every search key finds the patient.
	for _, q := range []string{"황보", "칠성", "ㅎㅂㅊㅅ", "4826", phone, "01073914826", "1", "770312"} {
		res, err := desk.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: q}))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Msg.GetPatients()) == 0 || res.Msg.GetPatients()[0].GetId() != p.GetId() {
			t.Errorf("search %q: %v", q, res.Msg.GetPatients())
		} else if s := res.Msg.GetPatients()[0]; s.GetPhoneTail() != "4826" || len(s.GetAlerts()) != 1 {
			t.Errorf("summary %v", s)
		}
	}

	// A second registration of the same person is caught.
	dupReq := &molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{Name: name, Sex: molarv1.Sex_SEX_MALE, BirthDate: "1977-03-12"}}
	if _, err := desk.CreatePatient(ctx, connect.NewRequest(dupReq)); codeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("duplicate: %v", err)
	}
	dups, _ := desk.FindDuplicates(ctx, connect.NewRequest(&molarv1.FindDuplicatesRequest{MobilePhone: "010 7391 4826"}))
	if len(dups.Msg.GetPatients()) != 1 {
		t.Fatalf("duplicates by phone: %v", dups.Msg.GetPatients())
	}
	dupReq.AllowDuplicate = true
	if _, err := desk.CreatePatient(ctx, connect.NewRequest(dupReq)); err != nil {
		t.Fatalf("duplicate allowed: %v", err)
	}

	// The front desk reads contact data and alerts, but not the chart.
	got, err := desk.GetPatient(ctx, connect.NewRequest(&molarv1.GetPatientRequest{Id: p.GetId()}))
	if err != nil || got.Msg.GetPatient().GetDetails().GetAlerts().GetAllergies()[0] != "페니실린" {
		t.Fatalf("get: %v %v", got, err)
	}
	deskChart := molarv1connect.NewChartServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	if _, err := deskChart.AddChartEntry(ctx, connect.NewRequest(&molarv1.AddChartEntryRequest{PatientId: p.GetId(), Tooth: 36, Condition: molarv1.Condition_CONDITION_CARIES})); codeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("front desk charting: %v", err)
	}

	// The dentist plans a filling on 36 MO, completes it, writes and amends a note.
	chartc := molarv1connect.NewChartServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_DENTIST]))
	planned, err := chartc.AddChartEntry(ctx, connect.NewRequest(&molarv1.AddChartEntryRequest{PatientId: p.GetId(), Tooth: 36,
		Surfaces: []molarv1.Surface{molarv1.Surface_SURFACE_M, molarv1.Surface_SURFACE_O}, ProcedureCode: "RS-CR", Status: molarv1.EntryStatus_ENTRY_STATUS_PLANNED}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartc.AddChartEntry(ctx, connect.NewRequest(&molarv1.AddChartEntryRequest{PatientId: p.GetId(), Tooth: 36, ProcedureCode: "RS-CR", Status: molarv1.EntryStatus_ENTRY_STATUS_PLANNED})); codeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("filling without surfaces: %v", err)
	}
	if _, err := chartc.AddChartEntry(ctx, connect.NewRequest(&molarv1.AddChartEntryRequest{PatientId: p.GetId(), Tooth: 19, Condition: molarv1.Condition_CONDITION_CARIES})); codeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("tooth 19: %v", err)
	}
	beforeCompletion := time.Now()
	time.Sleep(20 * time.Millisecond)
	done, err := chartc.SetChartEntryStatus(ctx, connect.NewRequest(&molarv1.SetChartEntryStatusRequest{PatientId: p.GetId(), EntryId: planned.Msg.GetEntry().GetId(), Status: molarv1.EntryStatus_ENTRY_STATUS_COMPLETED}))
	if err != nil || done.Msg.GetEntry().GetCompleteTime() == nil || done.Msg.GetEntry().GetFee() != 100000 {
		t.Fatalf("complete: %v %v", done, err)
	}
	now, _ := chartc.GetChart(ctx, connect.NewRequest(&molarv1.GetChartRequest{PatientId: p.GetId()}))
	then, _ := chartc.GetChart(ctx, connect.NewRequest(&molarv1.GetChartRequest{PatientId: p.GetId(), AsOf: timestamppb.New(beforeCompletion)}))
	if now.Msg.GetEntries()[0].GetStatus() != molarv1.EntryStatus_ENTRY_STATUS_COMPLETED || then.Msg.GetEntries()[0].GetStatus() != molarv1.EntryStatus_ENTRY_STATUS_PLANNED {
		t.Fatalf("history: now %v, then %v", now.Msg.GetEntries(), then.Msg.GetEntries())
	}
	if len(now.Msg.GetChangeTimes()) != 2 || then.Msg.GetRevision() != 1 {
		t.Fatalf("change times %d, revision then %d", len(now.Msg.GetChangeTimes()), then.Msg.GetRevision())
	}
	// The history says who did what: the filling planned, then completed.
	changes := now.Msg.GetChanges()
	if len(changes) != 2 || changes[0].GetKind() != molarv1.ChartChangeKind_CHART_CHANGE_KIND_ADDED || changes[0].GetProcedureCode() != "RS-CR" ||
		changes[0].GetTooth() != 36 || changes[0].GetStatus() != molarv1.EntryStatus_ENTRY_STATUS_PLANNED || changes[0].GetAuthorName() == "" ||
		changes[1].GetKind() != molarv1.ChartChangeKind_CHART_CHANGE_KIND_STATUS || changes[1].GetPreviousStatus() != molarv1.EntryStatus_ENTRY_STATUS_PLANNED ||
		changes[1].GetStatus() != molarv1.EntryStatus_ENTRY_STATUS_COMPLETED || changes[1].GetProcedureName() == "" {
		t.Fatalf("changes %v", changes)
	}

	note, err := chartc.AddNote(ctx, connect.NewRequest(&molarv1.AddNoteRequest{PatientId: p.GetId(), Title: "충전 치료", Content: "36 MO 레진 충전 완료", Tags: []string{"치료"}}))
	if err != nil {
		t.Fatal(err)
	}
	amended, err := chartc.AmendNote(ctx, connect.NewRequest(&molarv1.AmendNoteRequest{NoteId: note.Msg.GetNote().GetId(), Title: "충전 치료", Content: "36 MO 레진 충전 완료. 교합 조정함.", Tags: []string{"치료"}, Version: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if len(amended.Msg.GetNote().GetRevisions()) != 1 || amended.Msg.GetNote().GetRevisions()[0].GetContent() != "36 MO 레진 충전 완료" {
		t.Fatalf("amendment lost the old text: %v", amended.Msg.GetNote())
	}
	if _, err := chartc.AmendNote(ctx, connect.NewRequest(&molarv1.AmendNoteRequest{NoteId: note.Msg.GetNote().GetId(), Title: "x", Content: "y", Version: 1})); codeOf(err) != connect.CodeAborted {
		t.Fatalf("stale amendment: %v", err)
	}
	if _, err := chartc.RemoveNote(ctx, connect.NewRequest(&molarv1.RemoveNoteRequest{NoteId: note.Msg.GetNote().GetId(), Reason: "잘못된 환자"})); err != nil {
		t.Fatal(err)
	}
	list, _ := chartc.ListNotes(ctx, connect.NewRequest(&molarv1.ListNotesRequest{PatientId: p.GetId()}))
	all, _ := chartc.ListNotes(ctx, connect.NewRequest(&molarv1.ListNotesRequest{PatientId: p.GetId(), IncludeRemoved: true}))
	if len(list.Msg.GetNotes()) != 0 || len(all.Msg.GetNotes()) != 1 || !all.Msg.GetNotes()[0].GetRemoved() {
		t.Fatalf("removed note: visible %d, kept %d", len(list.Msg.GetNotes()), len(all.Msg.GetNotes()))
	}

	// Revealing the number needs its own permission and is audited.
	if _, err := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_DENTIST])).RevealRrn(ctx, connect.NewRequest(&molarv1.RevealRrnRequest{Id: p.GetId()})); codeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("dentist reveal: %v", err)
	}
	revealed, err := desk.RevealRrn(ctx, connect.NewRequest(&molarv1.RevealRrnRequest{Id: p.GetId()}))
	if err != nil || revealed.Msg.GetRrn() != rrn {
		t.Fatalf("reveal: %v %v", revealed, err)
	}

	// Reads are in the audit trail.
	events, err := molarv1connect.NewAuditServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_ADMIN])).ListAuditEvents(ctx,
		connect.NewRequest(&molarv1.ListAuditEventsRequest{TargetId: p.GetId(), PageSize: 200}))
	if err != nil {
		t.Fatal(err)
	}
	var actions []molarv1.AuditAction
	for _, e := range events.Msg.GetEvents() {
		actions = append(actions, e.GetAction())
		// The trail reads as people read it: who, by name, and whose record.
		if e.GetTargetName() != name || e.GetTargetChartNumber() != p.GetChartNumber() {
			t.Errorf("%v names its target %q #%d, want %q #%d", e.GetAction(), e.GetTargetName(), e.GetTargetChartNumber(), name, p.GetChartNumber())
		}
		if e.GetActorId() != "" && e.GetActorName() == "" {
			t.Errorf("%v by %s has no actor name", e.GetAction(), e.GetActorId())
		}
	}
	for _, want := range []molarv1.AuditAction{molarv1.AuditAction_AUDIT_ACTION_PATIENT_CREATED, molarv1.AuditAction_AUDIT_ACTION_PATIENT_VIEWED,
		molarv1.AuditAction_AUDIT_ACTION_CHART_VIEWED, molarv1.AuditAction_AUDIT_ACTION_NOTES_VIEWED, molarv1.AuditAction_AUDIT_ACTION_RRN_REVEALED,
		molarv1.AuditAction_AUDIT_ACTION_CHART_CHANGED, molarv1.AuditAction_AUDIT_ACTION_NOTE_AMENDED} {
		if !contains(actions, want) {
			t.Errorf("audit lacks %v", want)
		}
	}

	// Nothing personal in the logs...
	logs := ts.logs.String()
	for _, secret := range []string{name, phone, "01073914826", rrn, "7703121849263", "1849263", "레진 충전 완료"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	if !strings.Contains(logs, "/molar.v1.PatientService/CreatePatient") {
		t.Fatal("the log has no RPC lines; the test proves nothing")
	}
	// ...and the registration number is stored sealed, not in any byte of
	// the database.
	if ts.db.mongo == nil {
		files, _ := filepath.Glob(filepath.Join(ts.cfg.DataDir, sqliteFile+"*"))
		if len(files) == 0 {
			t.Fatal("no database files to check")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("1849263")) {
				t.Fatalf("%s holds the registration number in clear", f)
			}
		}
		return
	}
	for _, coll := range []string{"patients", "patient_revisions"} {
		cur, err := ts.db.mongo.Database.Collection(coll).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.Raw
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if s := d.String(); strings.Contains(s, "1849263") || strings.Contains(s, "7703121849263") {
				t.Fatalf("%s holds the registration number in clear: %s", coll, s)
			}
		}
	}
}

// TestConcurrentRegistrationAndCharting races front desks registering
// patients and dentists charting one patient: every chart number is given
// once and no chart change is lost.
func TestConcurrentRegistrationAndCharting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	staff := clinicStaff(t, ts)
	seedCatalog(t, ts)
	desk := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	const n = 12
	charts := make(chan int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
				Name: "동시" + string(rune('가'+i)), Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1990-01-01"}}))
			if err != nil {
				t.Error(err)
				return
			}
			charts <- res.Msg.GetPatient().GetChartNumber()
		}()
	}
	wg.Wait()
	close(charts)
	seen := map[int64]bool{}
	for c := range charts {
		if seen[c] {
			t.Fatalf("chart number %d given twice", c)
		}
		seen[c] = true
	}
	if len(seen) != n {
		t.Fatalf("%d patients registered, want %d", len(seen), n)
	}

	list, _ := desk.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: "동시", PageSize: 1}))
	pid := list.Msg.GetPatients()[0].GetId()
	chartc := molarv1connect.NewChartServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_DENTIST]))
	teeth := []int32{11, 12, 13, 14, 15, 16, 17, 21, 22, 23}
	for _, tooth := range teeth {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := chartc.AddChartEntry(ctx, connect.NewRequest(&molarv1.AddChartEntryRequest{PatientId: pid, Tooth: tooth, Condition: molarv1.Condition_CONDITION_CARIES})); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := chartc.GetChart(ctx, connect.NewRequest(&molarv1.GetChartRequest{PatientId: pid}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Msg.GetEntries()) != len(teeth) {
		t.Fatalf("%d entries on the chart, want %d: a concurrent change was lost", len(got.Msg.GetEntries()), len(teeth))
	}
}

// TestCatalogConditionalGet: the catalog comes with an ETag, and a GET that
// presents it gets 304 without a body; without a token it is refused.
func TestCatalogConditionalGet(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	staff := clinicStaff(t, ts)
	seedCatalog(t, ts)
	get := func(etag, token string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/molar.v1.CatalogService/ListProcedures?encoding=json&message=%7B%7D&connect=v1", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	tok := staff[molarv1.Role_ROLE_FRONT_DESK]
	first := get("", tok)
	etag := first.Header.Get("ETag")
	if first.StatusCode != 200 || etag == "" {
		t.Fatalf("first GET: %d, etag %q", first.StatusCode, etag)
	}
	if res := get(etag, tok); res.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d, want 304", res.StatusCode)
	}
	if res := get(etag, ""); res.StatusCode == http.StatusNotModified || res.StatusCode == 200 {
		t.Fatalf("revalidation without a token: %d", res.StatusCode)
	}
	p := demoCatalog()[0]
	p.Fee++
	if err := ts.app.chart.SaveProcedure(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if res := get(etag, tok); res.StatusCode != 200 || res.Header.Get("ETag") == etag {
		t.Fatalf("after a change: %d, etag %q", res.StatusCode, res.Header.Get("ETag"))
	}
}

// TestPatientAuditRecoveredAtStart: a process that stopped right after
// committing a registration (the event inside the commit, never appended to
// the trail) leaves the event pending. The next server to start on the
// database serves the patient and puts the event in the trail; one more
// start adds nothing.
func TestPatientAuditRecoveredAtStart(t *testing.T) {
	ts := startServer(t, onMongo(t))
	ctx := context.Background()
	now := time.Now()
	repo := mongo.NewPatientRepo(ts.db.mongo)
	rec := patient.Record{ID: newID(), ChartNumber: 1, Details: &molarv1.PatientInput{Name: "이서준", BirthDate: "1985-07-01", MobilePhone: "010-2222-3333"},
		Active: true, Created: now, Updated: now, Version: 1}
	ev := audit.Event{ID: newID(), Time: now, Action: molarv1.AuditAction_AUDIT_ACTION_PATIENT_CREATED, ActorID: "desk-1", TargetType: "patient", TargetID: rec.ID}
	if _, err := repo.Create(ctx, rec, ev); err != nil {
		t.Fatal(err)
	}
	trail := func(s *testServer) []audit.Event {
		t.Helper()
		got, _, err := mongo.NewAuditRepo(s.db.mongo).List(ctx, audit.Filter{TargetID: rec.ID}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := trail(ts); len(got) != 0 {
		t.Fatalf("%d events before a restart, want none (the commit's event was never projected)", len(got))
	}
	for start := range 2 {
		restarted := startServer(t, ts.same())
		got := trail(restarted)
		if len(got) != 1 || got[0].ID != ev.ID || got[0].Action != ev.Action || got[0].ActorID != "desk-1" {
			t.Fatalf("start %d: trail %+v, want the one committed event", start+1, got)
		}
		if restarted.app.patients.Count() != 1 {
			t.Fatalf("start %d: %d patients loaded, want the registered one", start+1, restarted.app.patients.Count())
		}
	}
}

// TestPatientReachesTheOtherServer: a patient registered through one server
// is found by search on another on the same database, on either engine
// (the follower of each engine's change log keeps the search index current).
func TestPatientReachesTheOtherServer(t *testing.T) {
	t.Parallel()
	for name, on := range map[string][]func(*Config){"sqlite": nil, "mongodb": {onMongo(t)}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a := startServer(t, on...)
			b := startServer(t, a.same())
			staff := clinicStaff(t, a)
			desk := molarv1connect.NewPatientServiceClient(http.DefaultClient, a.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
			if _, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{
				Details: &molarv1.PatientInput{Name: "한가람", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1991-04-05", MobilePhone: "010-4455-6677"}})); err != nil {
				t.Fatal(err)
			}
			other := molarv1connect.NewPatientServiceClient(http.DefaultClient, b.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				got, err := other.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: "6677"}))
				if err == nil && len(got.Msg.GetPatients()) == 1 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("the other server never found the patient: %v %v", got, err)
				}
			}
		})
	}
}

// TestNotesAreChangedByTheirAuthorOrADentist: a hygienist cannot amend or
// remove a dentist's note (its author answers for it, 의료법 §22), but can
// amend her own; a dentist can amend the hygienist's.
func TestNotesAreChangedByTheirAuthorOrADentist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	staff := clinicStaff(t, ts)
	ts.addStaff(t, "hygienist@clinic.test", "Busan-hygiene-2026", molarv1.Role_ROLE_HYGIENIST)
	_, hygienistToken := ts.login(t, "hygienist@clinic.test", "Busan-hygiene-2026")
	desk := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	p, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: "노트환자", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1988-08-08"}}))
	if err != nil {
		t.Fatal(err)
	}
	patientID := p.Msg.GetPatient().GetId()
	dentist := molarv1connect.NewChartServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_DENTIST]))
	hygienist := molarv1connect.NewChartServiceClient(http.DefaultClient, ts.URL, bearer(hygienistToken))
	drNote, err := dentist.AddNote(ctx, connect.NewRequest(&molarv1.AddNoteRequest{PatientId: patientID, Title: "진단", Content: "36 우식"}))
	if err != nil {
		t.Fatal(err)
	}
	id := drNote.Msg.GetNote().GetId()
	if _, err := hygienist.AmendNote(ctx, connect.NewRequest(&molarv1.AmendNoteRequest{NoteId: id, Title: "진단", Content: "바꿈", Version: 1})); codeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a hygienist amending a dentist's note: %v", err)
	}
	if _, err := hygienist.RemoveNote(ctx, connect.NewRequest(&molarv1.RemoveNoteRequest{NoteId: id, Reason: "실수"})); codeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a hygienist removing a dentist's note: %v", err)
	}
	own, err := hygienist.AddNote(ctx, connect.NewRequest(&molarv1.AddNoteRequest{PatientId: patientID, Title: "스케일링", Content: "치석 제거"}))
	if err != nil {
		t.Fatal(err)
	}
	ownID := own.Msg.GetNote().GetId()
	if _, err := hygienist.AmendNote(ctx, connect.NewRequest(&molarv1.AmendNoteRequest{NoteId: ownID, Title: "스케일링", Content: "치석 제거, 출혈 있음", Version: 1})); err != nil {
		t.Errorf("a hygienist amending her own note: %v", err)
	}
	if _, err := dentist.AmendNote(ctx, connect.NewRequest(&molarv1.AmendNoteRequest{NoteId: ownID, Title: "스케일링", Content: "치석 제거, 출혈 있음. 확인함", Version: 2})); err != nil {
		t.Errorf("a dentist amending the hygienist's note: %v", err)
	}
}

// TestTextIsPrintable refuses control characters and direction overrides
// in names and titles (they hide or reorder what a colleague reads), and
// oversized search fields, at the schema, before any service runs.
func TestTextIsPrintable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	staff := clinicStaff(t, ts)
	desk := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	for _, name := range []string{"홍길\u202e동", "홍길동\x00", "홍\x1b[31m길동", "홍길동\r\n관리자", "홍\u2066길동"} {
		_, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
			Name: name, Sex: molarv1.Sex_SEX_MALE, BirthDate: "1980-01-01"}}))
		if codeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "control characters") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	created, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: "남궁 O'Brien-민수", Sex: molarv1.Sex_SEX_MALE, BirthDate: "1980-01-01"}}))
	if err != nil {
		t.Fatalf("an ordinary name: %v", err)
	}
	big := strings.Repeat("1", 1000)
	if _, err := desk.FindDuplicates(ctx, connect.NewRequest(&molarv1.FindDuplicatesRequest{Name: "홍길동", BirthDate: big, MobilePhone: big})); codeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a thousand-digit birth date: %v", err)
	}
	chartc := molarv1connect.NewChartServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_DENTIST]))
	if _, err := chartc.AddNote(ctx, connect.NewRequest(&molarv1.AddNoteRequest{PatientId: created.Msg.GetPatient().GetId(), Title: "진단\u202e", Content: "x"})); codeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a note title with an override: %v", err)
	}
	staffc := molarv1connect.NewStaffServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_ADMIN]))
	if _, err := staffc.CreateStaff(ctx, connect.NewRequest(&molarv1.CreateStaffRequest{Email: "new@clinic.test", DisplayName: "새\n직원",
		Roles: []molarv1.Role{molarv1.Role_ROLE_FRONT_DESK}})); codeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a staff name with a line break: %v", err)
	}
}
