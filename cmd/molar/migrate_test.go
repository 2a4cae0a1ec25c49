package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/billing"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/patient"
)

// snapshot is everything a clinic keeps, read through the stores.
type snapshot struct {
	Clinic       *molarv1.Clinic
	Staff        []auth.Account
	Patients     []patient.Record
	Charts       []chart.Record
	Procedures   []*molarv1.Procedure
	Appointments []*molarv1.Appointment
	Blockouts    []*molarv1.Blockout
	Providers    []*molarv1.Provider
	Chairs       []*molarv1.Chair
	Types        []*molarv1.AppointmentType
	Invoices     []*molarv1.Invoice
	Audit        []audit.Event
}

func takeSnapshot(t *testing.T, ctx context.Context, d *database) snapshot {
	t.Helper()
	var s snapshot
	var err error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Clinic, err = d.clinic.Get(ctx)
	must(err)
	s.Staff, err = d.accounts.List(ctx)
	must(err)
	s.Patients, err = d.patients.All(ctx)
	must(err)
	for _, p := range s.Patients {
		r, err := d.clinical.Latest(ctx, p.ID)
		must(err)
		if r.Version > 0 {
			s.Charts = append(s.Charts, r)
		}
	}
	s.Procedures, err = d.clinical.List(ctx)
	must(err)
	s.Appointments, s.Blockouts, err = d.schedule.Range(ctx, time.Time{}, time.Time{})
	must(err)
	s.Providers, s.Chairs, s.Types, err = d.schedule.Resources(ctx)
	must(err)
	s.Invoices, err = d.billing.All(ctx)
	must(err)
	for after := ""; ; {
		page, next, err := d.audit.List(ctx, audit.Filter{}, after, 500)
		must(err)
		s.Audit = append(s.Audit, page...)
		if next == "" {
			break
		}
		after = next
	}
	return s
}

// TestMigrateEmbeddedEngine makes a data directory as the earlier version
// did (the demo clinic on the MongoDB-protocol embedded engine, with
// invoices, payments and notes), starts on it, and compares every clinic
// setting, account, patient, chart entry, note version, procedure,
// appointment, invoice, payment and audit record with what was there. A
// second start moves nothing again.
func TestMigrateEmbeddedEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{Profile: "dev", DataDir: dir, Database: "molar", JWTKeys: testKeySpec}
	logs := &syncBuffer{}
	logger := newLogger(logs, 0)

	old, err := mongo.Open(ctx, mongo.Config{DataDir: dir, Database: cfg.Database}, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.EnsureIndexes(ctx, mongo.AllIndexes()); err != nil {
		t.Fatal(err)
	}
	src := mongoDatabase(old, logger)
	a, err := newApp(cfg, src, logger, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seedDemo(ctx, src, a, time.Now); err != nil {
		t.Fatal(err)
	}
	// Money on the books: a completed procedure billed, paid partly, overpaid
	// on another patient into credit.
	if err := a.patients.Load(ctx); err != nil {
		t.Fatal(err)
	}
	ids := a.patients.IDs()
	slices.Sort(ids)
	billed := 0
	for _, p := range ids {
		done, err := a.chart.Completed(ctx, p)
		if err != nil || len(done) == 0 {
			continue
		}
		inv, err := a.billing.Create(ctx, p, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if inv, err = a.billing.Issue(ctx, inv.GetId(), inv.GetVersion()); err != nil {
			t.Fatal(err)
		}
		amount, over := inv.GetBalance()/2, billed%2 == 1
		if over {
			amount = inv.GetBalance() + 5000
		}
		if _, err := a.billing.Pay(ctx, inv.GetId(), "migrate-"+p, []billing.Part{{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CARD, Amount: amount}}, "", over); err != nil {
			t.Fatal(err)
		}
		if billed++; billed == 6 {
			break
		}
	}
	if billed == 0 {
		t.Fatal("the demo clinic has no completed procedures to bill")
	}
	want := takeSnapshot(t, ctx, src)
	// The last process stopped between committing a payment and bringing
	// the account's copy up to date: the move must carry the payment.
	paid := want.Invoices[0]
	acct, err := src.billing.Account(ctx, paid.GetPatientId())
	if err != nil {
		t.Fatal(err)
	}
	late := proto.CloneOf(paid)
	late.Version++
	late.Payments = append(late.Payments, &molarv1.Payment{Id: "late/0", Method: molarv1.PaymentMethod_PAYMENT_METHOD_CASH, Amount: 1000,
		Time: timestamppb.New(time.Now().Truncate(time.Millisecond)), ReceivedBy: "데스크"})
	late.PaidTotal += 1000
	late.Balance -= 1000
	if err := src.billing.Commit(ctx, billing.Change{PatientID: paid.GetPatientId(), Seq: acct.Seq + 1, Invoices: []*molarv1.Invoice{late}, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	want.Invoices[0] = late
	if len(want.Patients) == 0 || len(want.Charts) == 0 || len(want.Appointments) == 0 || len(want.Invoices) != billed {
		t.Fatalf("demo data too thin to prove anything: %d patients, %d charts, %d appointments, %d invoices",
			len(want.Patients), len(want.Charts), len(want.Appointments), len(want.Invoices))
	}
	old.Close(ctx)

	d, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("first start on the old data directory: %v", err)
	}
	if d.engine != "sqlite" {
		t.Fatalf("engine %s after migration", d.engine)
	}
	got := takeSnapshot(t, ctx, d)
	d.close(ctx)
	opts := cmp.Options{
		protocmp.Transform(),
		cmpopts.EquateApproxTime(time.Millisecond),
		cmpopts.SortSlices(func(a, b *molarv1.Invoice) bool { return a.GetId() < b.GetId() }),
		cmpopts.SortSlices(func(a, b *molarv1.Appointment) bool { return a.GetId() < b.GetId() }),
		cmpopts.SortSlices(func(a, b patient.Record) bool { return a.ID < b.ID }),
		cmpopts.SortSlices(func(a, b chart.Record) bool { return a.PatientID < b.PatientID }),
		cmpopts.SortSlices(func(a, b auth.Account) bool { return a.ID < b.ID }),
		cmpopts.SortSlices(func(a, b *molarv1.Procedure) bool { return a.GetCode() < b.GetCode() }),
		cmpopts.SortSlices(func(a, b *molarv1.Provider) bool { return a.GetId() < b.GetId() }),
		cmpopts.SortSlices(func(a, b *molarv1.Chair) bool { return a.GetId() < b.GetId() }),
		cmpopts.SortSlices(func(a, b *molarv1.AppointmentType) bool { return a.GetId() < b.GetId() }),
		cmpopts.SortSlices(func(a, b *molarv1.Blockout) bool { return a.GetId() < b.GetId() }),
		// Versions of the clinic and of accounts start again at 1; the
		// migration adds one audit record per procedure it moves.
		cmpopts.IgnoreFields(auth.Account{}, "Version"),
		protocmp.IgnoreFields(&molarv1.Clinic{}, "version", "update_time"),
		cmpopts.EquateEmpty(), // an engine may say "none" as an empty list or as no list
	}
	var movedAudit []audit.Event
	for _, e := range got.Audit {
		if !strings.Contains(e.Detail, "moved from the earlier embedded engine") {
			movedAudit = append(movedAudit, e)
		}
	}
	got.Audit = movedAudit
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		t.Fatalf("the data changed in the move (-before +after):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, embeddedMongoDir)); !os.IsNotExist(err) {
		t.Errorf("the earlier engine's files are still in place (%v): the next start would move them again", err)
	}
	again, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer again.close(ctx)
	if n := len(takeSnapshot(t, ctx, again).Patients); n != len(want.Patients) {
		t.Fatalf("second start: %d patients, want %d", n, len(want.Patients))
	}
}
