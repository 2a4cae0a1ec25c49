package mongo_test

import (
	"context"
	"testing"

	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/mongo/storetest"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

// TestClinicContract runs the clinic profile contract on the MongoDB
// repository.
func TestClinicContract(t *testing.T) {
	t.Parallel()
	storetest.TestClinic(t, func(t *testing.T) storetest.Clinic {
		db := mongotest.DB(t)
		if err := db.EnsureIndexes(context.Background(), append(mongo.ClinicIndexes(), mongo.AuditIndexes()...)); err != nil {
			t.Fatal(err)
		}
		return storetest.Clinic{Store: mongo.NewClinicRepo(db), Audit: mongo.NewAuditRepo(db)}
	})
}
