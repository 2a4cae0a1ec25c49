package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/billing"
)

// The billing layout before accounts: every invoice version as protobuf
// bytes in "invoices_YYYYMM", the newest in "invoice_heads", and one
// "billed_entries" document per billed chart entry.
const (
	legacyInvoiceHeads  = "invoice_heads"
	legacyBilledEntries = "billed_entries"
)

type legacyStoredDoc struct {
	ID       string `bson:"_id"`
	Revision int64  `bson:"revision"`
	Data     []byte `bson:"data"`
}

// MigrateInvoices moves invoices stored in the layout before accounts into
// patients' accounts: each patient with invoices gets change 1 holding
// every one of them. It is idempotent (a patient migrated already keeps
// its account) and leaves the old collections for one release, renamed
// out of the way only once every patient is in.
func (r *InvoiceRepo) MigrateInvoices(ctx context.Context, db *DB) (int, error) {
	old := db.Database.Collection(legacyInvoiceHeads)
	docs, err := findAll(ctx, old, bson.D{}, "old invoices", func(d legacyStoredDoc) legacyStoredDoc { return d })
	if err != nil || len(docs) == 0 {
		return 0, err
	}
	byPatient := map[string][]*molarv1.Invoice{}
	for _, d := range docs {
		inv := &molarv1.Invoice{}
		if err := proto.Unmarshal(d.Data, inv); err != nil {
			return 0, err
		}
		byPatient[inv.GetPatientId()] = append(byPatient[inv.GetPatientId()], inv)
	}
	patients := make([]string, 0, len(byPatient))
	for p := range byPatient {
		patients = append(patients, p)
	}
	slices.Sort(patients)
	migrated := 0
	for _, p := range patients {
		invs := byPatient[p]
		slices.SortFunc(invs, func(a, b *molarv1.Invoice) int { return a.GetCreateTime().AsTime().Compare(b.GetCreateTime().AsTime()) })
		c := billing.Change{PatientID: p, Seq: 1, Invoices: invs, Time: time.Now()}
		switch err := r.Commit(ctx, c); services.ErrorCode(err) {
		case 0:
			migrated++
		case services.AlreadyExists:
			// Migrated before, or billed since: the account is the authority.
			continue
		default:
			return migrated, err
		}
		if err := r.Apply(ctx, c); err != nil {
			return migrated, err
		}
		if err := r.Settle(ctx, p, 1); err != nil {
			return migrated, err
		}
	}
	for _, name := range []string{legacyInvoiceHeads, legacyBilledEntries} {
		if err := db.Client.Database("admin").RunCommand(ctx, bson.D{
			{Key: "renameCollection", Value: db.Database.Name() + "." + name},
			{Key: "to", Value: fmt.Sprintf("%s.migrated_%s_%d", db.Database.Name(), name, time.Now().Unix())},
		}).Err(); err != nil && !isNamespaceNotFound(err) {
			return migrated, storeError(err, "rename "+name)
		}
	}
	return migrated, nil
}

// isNamespaceNotFound reports a rename of a collection that is not there.
func isNamespaceNotFound(err error) bool {
	var ce driver.CommandError
	return errors.As(err, &ce) && ce.Code == 26
}
