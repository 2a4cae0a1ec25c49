package mongo_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/mongo/storetest"
)

// TestAuthContract runs the staff, session and sign-in failure contract on
// the MongoDB repositories: among it, every change of accounts and sessions
// made with the audit trail failing, up, and stopped right after the
// commit, and recovered by the repositories' recovery passes (the patient,
// chart and clinic contracts do the same for theirs).
func TestAuthContract(t *testing.T) {
	t.Parallel()
	storetest.TestAuth(t, func(t *testing.T) storetest.Auth {
		db := mongotest.DB(t)
		if err := db.EnsureIndexes(context.Background(), slices.Concat(mongo.StaffIndexes(), mongo.SessionIndexes(), mongo.AuditIndexes(), mongo.ChangeIndexes())); err != nil {
			t.Fatal(err)
		}
		sessions := mongo.NewSessionRepo(db)
		return storetest.Auth{Accounts: mongo.NewStaffRepo(db), Sessions: sessions, Failures: sessions, Audit: mongo.NewAuditRepo(db),
			Changes: mongo.NewChangeLog(db, time.Now, slog.New(slog.DiscardHandler)), Sparse: true}
	})
}
