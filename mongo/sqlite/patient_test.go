package sqlite_test

import (
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
)

// TestPatientContract runs the patient contract on SQLite, where a change's
// audit record is committed with it.
func TestPatientContract(t *testing.T) {
	t.Parallel()
	storetest.TestPatients(t, func(t *testing.T) storetest.Patients {
		db := open(t)
		return storetest.Patients{Store: sqlite.NewPatientStore(db), Audit: sqlite.NewAuditStore(db), Changes: sqlite.NewChangeLog(db, time.Now),
			AuditInCommit: true}
	})
}
