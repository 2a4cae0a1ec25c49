package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
	"github.com/molar-dental/molar/services/jobs"
)

// TestJobsContract runs the job queue contract on SQLite; a restart is a
// second connection pool on the same file.
func TestJobsContract(t *testing.T) {
	t.Parallel()
	storetest.TestJobs(t, func(t *testing.T) storetest.Jobs {
		path := filepath.Join(t.TempDir(), "molar.db")
		return storetest.Jobs{
			Store:  sqlite.NewJobStore(openAt(t, path)),
			Reopen: func(t *testing.T) jobs.Store { return sqlite.NewJobStore(openAt(t, path)) },
		}
	})
}
