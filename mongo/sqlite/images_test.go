package sqlite_test

import (
	"testing"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
)

// TestImageContract runs the image record contract on SQLite.
func TestImageContract(t *testing.T) {
	t.Parallel()
	storetest.TestImages(t, func(t *testing.T) storetest.Images {
		db := open(t)
		return storetest.Images{Store: sqlite.NewImageStore(db), Audit: sqlite.NewAuditStore(db), AuditInCommit: true}
	})
}
