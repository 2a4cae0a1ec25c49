package mongo_test

import (
	"context"
	"testing"

	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/mongo/storetest"
)

// TestScheduleContract runs the schedule contract on the MongoDB
// repositories.
func TestScheduleContract(t *testing.T) {
	t.Parallel()
	storetest.TestSchedule(t, func(t *testing.T) storetest.Schedule {
		db := mongotest.DB(t)
		if err := db.EnsureIndexes(context.Background(), mongo.ScheduleIndexes()); err != nil {
			t.Fatal(err)
		}
		return storetest.Schedule{Store: mongo.NewScheduleRepo(db), Audit: mongo.NewAuditRepo(db)}
	})
}
