package mongo_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/mongo/storetest"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/patient"
)

// TestPatientContract runs the patient contract on the MongoDB repository.
func TestPatientContract(t *testing.T) {
	t.Parallel()
	storetest.TestPatients(t, func(t *testing.T) storetest.Patients {
		db := mongotest.DB(t)
		if err := db.EnsureIndexes(context.Background(), mongo.AllIndexes()); err != nil {
			t.Fatal(err)
		}
		return storetest.Patients{Store: mongo.NewPatientRepo(db), Audit: mongo.NewAuditRepo(db),
			Changes: mongo.NewChangeLog(db, time.Now, slog.New(slog.DiscardHandler))}
	})
}

// TestChartContract runs the chart and catalog contract on the MongoDB
// repository.
func TestChartContract(t *testing.T) {
	t.Parallel()
	storetest.TestChart(t, func(t *testing.T) storetest.Chart {
		db := mongotest.DB(t)
		if err := db.EnsureIndexes(context.Background(), mongo.AllIndexes()); err != nil {
			t.Fatal(err)
		}
		return storetest.Chart{Store: mongo.NewClinicalRepo(db), Audit: mongo.NewAuditRepo(db),
			Changes: mongo.NewChangeLog(db, time.Now, slog.New(slog.DiscardHandler))}
	})
}

func newPatientInput(memo string) *molarv1.PatientInput {
	return &molarv1.PatientInput{Name: "김민지", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1990-03-15", MobilePhone: "010-1234-5678", Memo: memo}
}

// TestPatientRepoLateStaleWrite: on FerretDB a version-guarded replace is
// not atomic, so a writer's write of version 2 to the current document may
// land after another's write of version 3. The repository still never
// answers with version 2, refuses a save from it, and puts the current
// document back. (This fault is the MongoDB repository's own, forged in its
// collections, so it is not part of the contract: on SQLite the current
// copy is written in the transaction of its version.)
func TestPatientRepoLateStaleWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.DB(t)
	repo := mongo.NewPatientRepo(db)
	now := time.Now()
	r := patient.Record{ID: "p1", ChartNumber: 1, Details: newPatientInput("v1"), Active: true, Created: now, Updated: now, Version: 1}
	if _, err := repo.Create(ctx, r, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, memo := range []string{"v2", "v3"} {
		r.Details = newPatientInput(memo)
		var err error
		if r, err = repo.Save(ctx, r, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	var rev struct {
		Patient bson.Raw `bson:"patient"`
	}
	if err := db.Database.Collection("patient_revisions").FindOne(ctx, bson.D{{Key: "_id", Value: "p1:0000000002"}}).Decode(&rev); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Database.Collection("patients").ReplaceOne(ctx, bson.D{{Key: "_id", Value: "p1"}}, rev.Patient); err != nil {
		t.Fatal(err)
	}

	got, err := repo.Get(ctx, "p1")
	if err != nil || got.Version != 3 || got.Details.GetMemo() != "v3" {
		t.Fatalf("get after a late stale write: version %d memo %q (%v), want 3 and v3", got.Version, got.Details.GetMemo(), err)
	}
	stale := got
	stale.Version, stale.Details = 2, newPatientInput("from 2")
	if _, err := repo.Save(ctx, stale, audit.Event{}); services.ErrorCode(err) != services.Aborted {
		t.Fatalf("save from version 2: %v, want Aborted", err)
	}
	all, err := repo.All(ctx)
	if err != nil || len(all) != 1 || all[0].Version != 3 {
		t.Fatalf("current document after the read: %+v (%v), want version 3", all, err)
	}
}

// TestCompactClinical: clinical versions stored whole by earlier versions
// of Molar are rewritten as the changes they made; the oldest stays whole,
// every version reads the same, and a second pass finds nothing to do.
func TestCompactClinical(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.DB(t)
	if err := db.EnsureIndexes(ctx, mongo.AllIndexes()); err != nil {
		t.Fatal(err)
	}
	repo := mongo.NewClinicalRepo(db)
	versions := storetest.GrowingChart("p1", 4)
	for _, r := range versions {
		if err := repo.InsertMany(ctx, []chart.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	for pass, want := range []int{3, 0} {
		n, err := repo.CompactClinical(ctx)
		if err != nil || n != want {
			t.Fatalf("pass %d rewrote %d versions, %v; want %d", pass+1, n, err, want)
		}
	}
	got, err := repo.Latest(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	storetest.SameChart(t, "after compaction", got, versions[3])
	all, err := repo.AllLatest(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("all latest: %d records, %v", len(all), err)
	}
	storetest.SameChart(t, "all latest", all[0], versions[3])
	var doc struct {
		Events []bson.Raw `bson:"events"`
		Delta  bool       `bson:"delta"`
	}
	if err := db.Database.Collection("clinical_records").FindOne(ctx, bson.D{{Key: "_id", Value: "p1:0000000004"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Delta || len(doc.Events) != 1 {
		t.Errorf("version 4 stored with %d chart changes, as a change: %v; want 1, true", len(doc.Events), doc.Delta)
	}
}

// TestReapChartClaims: a registration that stopped after claiming its chart
// number and before committing leaves the claim; once the claim is older
// than its lease, the reaper frees it (and any other such claims above the
// highest committed registration), and the next registration gets the
// number. Claims within their lease, and committed ones, stay.
func TestReapChartClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.DB(t)
	if err := db.EnsureIndexes(ctx, mongo.AllIndexes()); err != nil {
		t.Fatal(err)
	}
	repo := mongo.NewPatientRepo(db)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	first, err := repo.Create(ctx, patient.Record{ID: "p1", Details: newPatientInput(""), Active: true, Created: now, Updated: now, Version: 1}, audit.Event{})
	if err != nil || first.ChartNumber != 1 {
		t.Fatalf("first registration: %d, %v", first.ChartNumber, err)
	}
	claims := db.Database.Collection("chart_numbers")
	for n, at := range map[int64]time.Time{2: now.Add(-2 * mongo.ChartClaimLease), 3: now.Add(-2 * mongo.ChartClaimLease)} {
		if _, err := claims.InsertOne(ctx, bson.D{{Key: "_id", Value: n}, {Key: "patient_id", Value: fmt.Sprint("stopped-", n)}, {Key: "at", Value: at}}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := repo.ReapClaims(ctx, now.Add(-3*mongo.ChartClaimLease)); err != nil || n != 0 {
		t.Fatalf("reap of claims within their lease: freed %d, %v", n, err)
	}
	if n, err := repo.ReapClaims(ctx, now.Add(-mongo.ChartClaimLease)); err != nil || n != 2 {
		t.Fatalf("reap: freed %d, %v; want 2", n, err)
	}
	next, err := repo.Create(ctx, patient.Record{ID: "p2", Details: newPatientInput(""), Active: true, Created: now, Updated: now, Version: 1}, audit.Event{})
	if err != nil || next.ChartNumber != 2 {
		t.Fatalf("registration after the reap: chart number %d, %v; want 2", next.ChartNumber, err)
	}
	if n, err := repo.ReapClaims(ctx, now.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("reap with only committed claims: freed %d, %v", n, err)
	}
}

// TestRecordsContract runs the patient and chart services' fault matrix on
// the MongoDB repositories, each call faulted one way.
func TestRecordsContract(t *testing.T) {
	t.Parallel()
	storetest.TestRecords(t, func(t *testing.T) storetest.Records {
		db := mongotest.DB(t)
		if err := db.EnsureIndexes(context.Background(), mongo.AllIndexes()); err != nil {
			t.Fatal(err)
		}
		return storetest.Records{Patients: mongo.NewPatientRepo(db), Chart: mongo.NewClinicalRepo(db), Audit: mongo.NewAuditRepo(db),
			Changes: mongo.NewChangeLog(db, time.Now, slog.New(slog.DiscardHandler)), Sparse: true}
	})
}
