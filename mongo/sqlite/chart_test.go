package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
	"github.com/molar-dental/molar/services/chart"
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

// TestClinicalCompactedOnUpgrade: a database from before versions were
// stored as changes (schema 6), where every version holds the whole record,
// is rewritten when this version opens it: the oldest version stays whole,
// the later ones hold what they changed, and every version reads the same.
func TestClinicalCompactedOnUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "molar.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Each version whole, as schema 6 stored them.
	for _, r := range storetest.GrowingChart("p1", 4) {
		if err := sqlite.NewChartStore(db).InsertMany(ctx, []chart.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`ALTER TABLE clinical_versions DROP COLUMN delta`, `PRAGMA user_version = 6`} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := sqlite.NewChartStore(db).Latest(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	storetest.SameChart(t, "newest version after the upgrade", got, storetest.GrowingChart("p1", 4)[3])
	rows, err := raw.QueryContext(ctx, `SELECT version, delta, events FROM clinical_versions WHERE patient_id = 'p1' ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var version, events int64
		var delta bool
		if err := rows.Scan(&version, &delta, &events); err != nil {
			t.Fatal(err)
		}
		if wantDelta := version > 1; delta != wantDelta || (delta && events != 1) {
			t.Errorf("version %d: stored as a change %v with %d chart changes", version, delta, events)
		}
	}
}

// TestRecordsContract runs the patient and chart services' fault matrix on
// SQLite.
func TestRecordsContract(t *testing.T) {
	t.Parallel()
	storetest.TestRecords(t, func(t *testing.T) storetest.Records {
		db := open(t)
		return storetest.Records{Patients: sqlite.NewPatientStore(db), Chart: sqlite.NewChartStore(db), Audit: sqlite.NewAuditStore(db),
			Changes: sqlite.NewChangeLog(db, time.Now)}
	})
}
