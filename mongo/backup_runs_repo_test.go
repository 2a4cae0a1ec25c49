package mongo_test

import (
	"context"
	"testing"

	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/mongo/storetest"
	"github.com/molar-dental/molar/services/backup"
)

// TestBackupRunsContract runs the backup record's contract on the MongoDB
// repository.
func TestBackupRunsContract(t *testing.T) {
	t.Parallel()
	storetest.TestBackupRuns(t, func(t *testing.T) backup.Store {
		db := mongotest.DB(t)
		if err := db.EnsureIndexes(context.Background(), mongo.BackupRunIndexes()); err != nil {
			t.Fatal(err)
		}
		return mongo.NewBackupRunRepo(db)
	})
}
