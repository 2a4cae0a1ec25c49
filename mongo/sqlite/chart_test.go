package sqlite_test

import (
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
)

// TestChartContract runs the chart and catalog contract on SQLite, where a
// change's audit record is committed with it.
func TestChartContract(t *testing.T) {
	t.Parallel()
	storetest.TestChart(t, func(t *testing.T) storetest.Chart {
		db := open(t)
		return storetest.Chart{Store: sqlite.NewChartStore(db), Audit: sqlite.NewAuditStore(db), Changes: sqlite.NewChangeLog(db, time.Now),
			AuditInCommit: true}
	})
}
