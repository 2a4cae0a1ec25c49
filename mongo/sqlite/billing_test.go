package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
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
