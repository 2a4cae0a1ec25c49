package mongo_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/mongo/storetest"
	"github.com/molar-dental/molar/services/jobs"
)

func jobsDB(t *testing.T) *mongo.DB {
	t.Helper()
	db := mongotest.DB(t)
	if err := db.EnsureIndexes(context.Background(), mongo.JobIndexes()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestJobsContract runs the job queue contract on the MongoDB repository;
// a restart is a new repository on the same database.
func TestJobsContract(t *testing.T) {
	t.Parallel()
	storetest.TestJobs(t, func(t *testing.T) storetest.Jobs {
		db := jobsDB(t)
		return storetest.Jobs{Store: mongo.NewJobRepo(db), Reopen: func(*testing.T) jobs.Store { return mongo.NewJobRepo(db) }}
	})
}

// TestJobsCrashBeforeCopy: a process that stopped after committing a
// version but before copying it leaves the job invisible to queries; the
// first claim of the next process recovers it.
func TestJobsCrashBeforeCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := jobsDB(t)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	// What Enqueue's insert writes, without the copy that follows it.
	_, err := db.Database.Collection("job_versions").InsertOne(ctx, bson.D{
		{Key: "_id", Value: "thumbnail:img-1|000000000001"}, {Key: "job", Value: "thumbnail:img-1"}, {Key: "version", Value: int64(1)},
		{Key: "kind", Value: "thumbnail"}, {Key: "state", Value: "queued"}, {Key: "attempts", Value: 0}, {Key: "max_attempts", Value: 5},
		{Key: "run_at", Value: now}, {Key: "due", Value: now}, {Key: "created", Value: now}, {Key: "updated", Value: now}, {Key: "pending", Value: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	next := mongo.NewJobRepo(db)
	if q, err := next.List(ctx, jobs.Queued, 10); err != nil || len(q) != 0 {
		t.Fatalf("before recovery: %+v, %v", q, err)
	}
	j, err := next.Claim(ctx, "w", []string{"thumbnail"}, now, time.Minute)
	if err != nil || j == nil || j.ID != "thumbnail:img-1" || j.Attempts != 1 {
		t.Fatalf("claim after the crash: %+v, %v", j, err)
	}
	if n, err := db.Database.Collection("job_versions").CountDocuments(ctx, bson.D{{Key: "pending", Value: true}}); err != nil || n != 0 {
		t.Fatalf("%d versions still pending, %v", n, err)
	}
}
