package sqlite_test

import (
	"testing"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
)

// TestClinicContract runs the clinic profile contract on SQLite.
func TestClinicContract(t *testing.T) {
	t.Parallel()
	storetest.TestClinic(t, func(t *testing.T) storetest.Clinic {
		db := open(t)
		return storetest.Clinic{Store: sqlite.NewClinicStore(db), Audit: sqlite.NewAuditStore(db), AuditInCommit: true}
	})
}
