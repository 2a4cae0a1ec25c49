package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services/billing"
)

// BenchmarkBillingCommit measures one billing change as a payment makes it:
// read the account, commit the next change (fsync included), on a database
// that already holds 10,000 accounts.
func BenchmarkBillingCommit(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "molar.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	store := sqlite.NewBillingStore(db)
	for p := range 10000 {
		id := fmt.Sprintf("p%05d", p)
		if err := store.Commit(ctx, billing.Change{PatientID: id, Seq: 1, Invoices: []*molarv1.Invoice{{Id: id + "-1", PatientId: id, Version: 1}}, Time: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		id := fmt.Sprintf("p%05d", i%10000)
		a, err := store.Account(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		inv := a.Invoices[0]
		inv.Version++
		inv.Payments = append(inv.Payments, &molarv1.Payment{Id: fmt.Sprintf("k%d/0", i), Amount: 1000})
		if err := store.Commit(ctx, billing.Change{PatientID: id, Seq: a.Seq + 1, Invoices: []*molarv1.Invoice{inv}, Time: time.Now()}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}
