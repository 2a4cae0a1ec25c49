package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
	"github.com/molar-dental/molar/services/billing"
)

// open gives each test its own database file, closed when it ends.
func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "molar.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestBillingContract(t *testing.T) {
	t.Parallel()
	storetest.TestBilling(t, func(t *testing.T) storetest.Billing {
		db := open(t)
		return storetest.Billing{Store: sqlite.NewBillingStore(db), Audit: sqlite.NewAuditStore(db), Changes: sqlite.NewChangeLog(db, time.Now)}
	})
}

// TestInvoiceTimesFilledOnUpgrade: a database from before the daily closing
// read invoices by time (schema 5) gets the times of the invoices it
// already holds when it is opened by this version.
func TestInvoiceTimesFilledOnUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "molar.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	paid := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	inv := &molarv1.Invoice{Id: "inv-1", PatientId: "p1", Status: molarv1.InvoiceStatus_INVOICE_STATUS_PARTIALLY_PAID, CreateTime: timestamppb.New(paid.Add(-time.Hour)),
		IssueTime: timestamppb.New(paid.Add(-time.Hour)), Balance: 5000, Version: 2,
		Payments: []*molarv1.Payment{{Id: "pay-1", Amount: 10000, Method: molarv1.PaymentMethod_PAYMENT_METHOD_CASH, Time: timestamppb.New(paid)}}}
	if err := sqlite.NewBillingStore(db).Commit(ctx, billing.Change{PatientID: "p1", Seq: 1, Invoices: []*molarv1.Invoice{inv}, Time: paid}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE invoice_times`, `ALTER TABLE clinical_versions DROP COLUMN delta`, `PRAGMA user_version = 5`} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	raw.Close()
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := sqlite.NewBillingStore(db)
	for _, c := range []struct {
		from, to time.Time
		want     int
	}{
		{paid, paid.Add(time.Minute), 1},                  // the payment
		{paid.Add(-time.Hour), paid.Add(-time.Minute), 1}, // the issue
		{paid.Add(time.Minute), paid.Add(time.Hour), 0},
	} {
		got, err := st.Active(ctx, c.from, c.to)
		if err != nil || len(got) != c.want {
			t.Errorf("invoices active from %v to %v: %d (%v), want %d", c.from, c.to, len(got), err, c.want)
		}
	}
}
