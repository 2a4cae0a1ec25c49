package sqlite_test

import (
	"testing"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
)

// TestScheduleContract runs the schedule contract on SQLite.
func TestScheduleContract(t *testing.T) {
	t.Parallel()
	storetest.TestSchedule(t, func(t *testing.T) storetest.Schedule {
		db := open(t)
		return storetest.Schedule{Store: sqlite.NewScheduleStore(db), Audit: sqlite.NewAuditStore(db)}
	})
}
