package mongo

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/billing"
)

const (
	// invoice versions go to one collection per month of the invoice's
	// creation (its UUIDv7 id names it): "invoices_202611", keyed
	// "id:version". The newest version of each invoice is also kept in
	// "invoice_heads" for loading at start.
	invoicePrefix         = "invoices_"
	invoiceHeadCollection = "invoice_heads"
	// billedEntryCollection has one document per chart entry on a live
	// invoice: inserting it is what stops a procedure being billed twice.
	billedEntryCollection = "billed_entries"
)

// InvoiceRepo stores invoices.
type InvoiceRepo struct {
	db *driver.Database
}

var _ billing.Store = (*InvoiceRepo)(nil)

// NewInvoiceRepo returns an InvoiceRepo on db.
func NewInvoiceRepo(db *DB) *InvoiceRepo { return &InvoiceRepo{db: db.Database} }

func invoiceCollection(id string) string { return monthPartition(invoicePrefix, id) }

// Insert implements billing.Store.
func (r *InvoiceRepo) Insert(ctx context.Context, inv *molarv1.Invoice) error {
	data, err := proto.Marshal(inv)
	if err != nil {
		return err
	}
	if _, err := r.db.Collection(invoiceCollection(inv.GetId())).InsertOne(ctx, storedDoc{ID: revisionID(inv.GetId(), inv.GetVersion()), Revision: inv.GetVersion(), Data: data}); err != nil {
		return storeError(err, "invoice")
	}
	_, err = r.db.Collection(invoiceHeadCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: inv.GetId()}, {Key: "revision", Value: bson.D{{Key: "$lt", Value: inv.GetVersion()}}}},
		storedDoc{ID: inv.GetId(), Revision: inv.GetVersion(), Data: data}, options.Replace().SetUpsert(true))
	if err != nil && !driver.IsDuplicateKeyError(err) {
		return storeError(err, "invoice head")
	}
	return nil
}

// Latest implements billing.Store.
func (r *InvoiceRepo) Latest(ctx context.Context, id string, hint int64) (*molarv1.Invoice, error) {
	coll := r.db.Collection(invoiceCollection(id))
	v := max(hint, 1)
	var best *storedDoc
	for {
		var d storedDoc
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: revisionID(id, v)}}).Decode(&d)
		if err == driver.ErrNoDocuments {
			break
		}
		if err != nil {
			return nil, storeError(err, "invoice")
		}
		best = &d
		v++
	}
	if best == nil {
		if hint > 1 {
			return r.Latest(ctx, id, 1)
		}
		return nil, storeError(driver.ErrNoDocuments, "invoice")
	}
	inv := &molarv1.Invoice{}
	return inv, proto.Unmarshal(best.Data, inv)
}

// All implements billing.Store.
func (r *InvoiceRepo) All(ctx context.Context) ([]*molarv1.Invoice, error) {
	return loadAllProto(ctx, r.db.Collection(invoiceHeadCollection), func() *molarv1.Invoice { return &molarv1.Invoice{} })
}

// ClaimEntry implements billing.Store.
func (r *InvoiceRepo) ClaimEntry(ctx context.Context, entryID, invoiceID string) error {
	_, err := r.db.Collection(billedEntryCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: entryID}, {Key: "invoice_id", Value: invoiceID}})
	return storeError(err, "billed entry")
}

// ReleaseEntry implements billing.Store.
func (r *InvoiceRepo) ReleaseEntry(ctx context.Context, entryID, invoiceID string) error {
	_, err := r.db.Collection(billedEntryCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: entryID}, {Key: "invoice_id", Value: invoiceID}})
	return storeError(err, "billed entry")
}
