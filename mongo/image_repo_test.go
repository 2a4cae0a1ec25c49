package mongo_test

import (
	"context"
	"slices"
	"testing"

	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/mongo/storetest"
)

// TestImageContract runs the image record contract on the MongoDB
// repository, whose derived copies are finished after the version's commit:
// the recovery case stops saves right after their commit.
func TestImageContract(t *testing.T) {
	t.Parallel()
	storetest.TestImages(t, func(t *testing.T) storetest.Images {
		db := mongotest.DB(t)
		if err := db.EnsureIndexes(context.Background(), slices.Concat(mongo.ImageIndexes(), mongo.AuditIndexes())); err != nil {
			t.Fatal(err)
		}
		repo := mongo.NewImageRepo(db)
		return storetest.Images{Store: repo, Audit: mongo.NewAuditRepo(db), CommitOnly: repo.CommitOnly}
	})
}
