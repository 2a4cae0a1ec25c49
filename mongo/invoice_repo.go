package mongo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/billing"
)

const (
	// billingChangeCollection holds every committed change of every
	// patient's account, keyed "<patient id>/<seq>": inserting the next
	// number is the commit point of a billing change, atomic on every engine.
	billingChangeCollection = "billing_changes"
	// billingAccountCollection holds each patient's account as of some
	// change (derived, keyed by patient id): the starting point of a read.
	billingAccountCollection = "billing_accounts"
)

// InvoiceRepo stores patients' accounts as numbered changes.
type InvoiceRepo struct {
	changes  *driver.Collection
	accounts *driver.Collection
}

var _ billing.Store = (*InvoiceRepo)(nil)

// NewInvoiceRepo returns an InvoiceRepo on db.
func NewInvoiceRepo(db *DB) *InvoiceRepo {
	return &InvoiceRepo{changes: db.Database.Collection(billingChangeCollection), accounts: db.Database.Collection(billingAccountCollection)}
}

// InvoiceIndexes are the indexes InvoiceRepo needs: pending changes for
// recovery, and an invoice's account by invoice id.
func InvoiceIndexes() []Index {
	return []Index{
		{Collection: billingChangeCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "pending", Value: 1}}, Options: options.Index().SetName("pending")}},
		{Collection: billingAccountCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "invoices.id", Value: 1}}, Options: options.Index().SetName("invoice_id")}},
		// The accounts that owe, and those with something on a day, for the
		// receivables list and the daily closing.
		{Collection: billingAccountCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "invoices.balance", Value: 1}}, Options: options.Index().SetName("owing")}},
		{Collection: billingAccountCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "invoices.issued", Value: 1}}, Options: options.Index().SetName("issued")}},
		{Collection: billingAccountCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "invoices.payments.at", Value: 1}}, Options: options.Index().SetName("paid_at")}},
		{Collection: billingAccountCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "invoices.refunds.at", Value: 1}}, Options: options.Index().SetName("refunded_at")}},
		{Collection: billingAccountCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "invoices.adjustments.at", Value: 1}}, Options: options.Index().SetName("adjusted_at")}},
	}
}

type billingChangeDoc struct {
	ID        string           `bson:"_id"`
	PatientID string           `bson:"patient_id"`
	Seq       int64            `bson:"seq"`
	At        time.Time        `bson:"at"`
	Invoices  []invoiceDoc     `bson:"invoices"`
	Audit     *carriedAuditDoc `bson:"audit,omitempty"`
	Pending   bool             `bson:"pending,omitempty"`
}

type billingAccountDoc struct {
	ID       string       `bson:"_id"`
	Seq      int64        `bson:"seq"`
	Invoices []invoiceDoc `bson:"invoices"`
}

func billingChangeID(patientID string, seq int64) string {
	return fmt.Sprintf("%s/%012d", patientID, seq)
}

func (d billingChangeDoc) change() billing.Change {
	c := billing.Change{PatientID: d.PatientID, Seq: d.Seq, Time: d.At, Audit: d.Audit.event()}
	for _, inv := range d.Invoices {
		c.Invoices = append(c.Invoices, inv.invoice())
	}
	return c
}

// Account implements billing.Store: the head, then every change after it.
func (r *InvoiceRepo) Account(ctx context.Context, patientID string) (billing.Account, error) {
	acct := billing.Account{PatientID: patientID}
	var head billingAccountDoc
	switch err := r.accounts.FindOne(ctx, bson.D{{Key: "_id", Value: patientID}}).Decode(&head); {
	case err == driver.ErrNoDocuments:
	case err != nil:
		return acct, storeError(err, "account")
	default:
		acct.Seq = head.Seq
		for _, d := range head.Invoices {
			acct.Invoices = append(acct.Invoices, d.invoice())
		}
	}
	for {
		var d billingChangeDoc
		err := r.changes.FindOne(ctx, bson.D{{Key: "_id", Value: billingChangeID(patientID, acct.Seq+1)}}).Decode(&d)
		if err == driver.ErrNoDocuments {
			return acct, nil
		}
		if err != nil {
			return acct, storeError(err, "account change")
		}
		merge(&acct, d.change())
	}
}

// merge applies a change's invoices to an account.
func merge(acct *billing.Account, c billing.Change) {
	for _, inv := range c.Invoices {
		if i := slices.IndexFunc(acct.Invoices, func(x *molarv1.Invoice) bool { return x.GetId() == inv.GetId() }); i >= 0 {
			acct.Invoices[i] = inv
		} else {
			acct.Invoices = append(acct.Invoices, inv)
		}
	}
	acct.Seq = c.Seq
}

// Commit implements billing.Store: one insert against the change's key.
func (r *InvoiceRepo) Commit(ctx context.Context, c billing.Change) error {
	d := billingChangeDoc{ID: billingChangeID(c.PatientID, c.Seq), PatientID: c.PatientID, Seq: c.Seq, At: ms(c.Time), Pending: true}
	d.Audit, _ = carriedAudit(c.Audit)
	for _, inv := range c.Invoices {
		d.Invoices = append(d.Invoices, toInvoiceDoc(inv))
	}
	_, err := r.changes.InsertOne(ctx, d)
	return storeError(err, "account change")
}

// Apply implements billing.Store: the head becomes the account as of its
// newest change. The head is only where reads start, so if two processes
// race here and an older head wins, reads still see every change.
func (r *InvoiceRepo) Apply(ctx context.Context, c billing.Change) error {
	acct, err := r.Account(ctx, c.PatientID)
	if err != nil {
		return err
	}
	if acct.Seq < c.Seq {
		return fmt.Errorf("account %s has no change %d", c.PatientID, c.Seq)
	}
	head := billingAccountDoc{ID: c.PatientID, Seq: acct.Seq, Invoices: []invoiceDoc{}}
	for _, inv := range acct.Invoices {
		head.Invoices = append(head.Invoices, toInvoiceDoc(inv))
	}
	_, err = r.accounts.ReplaceOne(ctx, bson.D{{Key: "_id", Value: c.PatientID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: acct.Seq}}}},
		head, options.Replace().SetUpsert(true))
	if driver.IsDuplicateKeyError(err) {
		return nil // the head is at this change or newer already
	}
	return storeError(err, "account")
}

// Settle implements billing.Store.
func (r *InvoiceRepo) Settle(ctx context.Context, patientID string, seq int64) error {
	_, err := r.changes.UpdateOne(ctx, bson.D{{Key: "_id", Value: billingChangeID(patientID, seq)}}, bson.D{{Key: "$unset", Value: bson.D{{Key: "pending", Value: ""}}}})
	return storeError(err, "account change")
}

// Pending implements billing.Store.
func (r *InvoiceRepo) Pending(ctx context.Context) ([]billing.Change, error) {
	return findAll(ctx, r.changes, bson.D{{Key: "pending", Value: true}}, "account changes", billingChangeDoc.change,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
}

// PatientOf implements billing.Store.
func (r *InvoiceRepo) PatientOf(ctx context.Context, invoiceID string) (string, error) {
	var d struct {
		ID        string `bson:"_id"`
		PatientID string `bson:"patient_id"`
	}
	err := r.accounts.FindOne(ctx, bson.D{{Key: "invoices.id", Value: invoiceID}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&d)
	if err == nil {
		return d.ID, nil
	}
	if err != driver.ErrNoDocuments {
		return "", storeError(err, "invoice")
	}
	// Committed but not applied yet (its process stopped in between).
	err = r.changes.FindOne(ctx, bson.D{{Key: "invoices.id", Value: invoiceID}}, options.FindOne().SetProjection(bson.D{{Key: "patient_id", Value: 1}})).Decode(&d)
	if err != nil {
		return "", storeError(err, "invoice")
	}
	return d.PatientID, nil
}

// All implements billing.Store.
func (r *InvoiceRepo) All(ctx context.Context) ([]*molarv1.Invoice, error) {
	return r.invoicesOf(ctx, bson.D{}, func(*molarv1.Invoice) bool { return true })
}

// Owing implements billing.Store.
func (r *InvoiceRepo) Owing(ctx context.Context) ([]*molarv1.Invoice, error) {
	return r.invoicesOf(ctx, bson.D{{Key: "invoices.balance", Value: bson.D{{Key: "$gt", Value: 0}}}},
		func(inv *molarv1.Invoice) bool { return inv.GetBalance() > 0 })
}

// Active implements billing.Store.
func (r *InvoiceRepo) Active(ctx context.Context, from, to time.Time) ([]*molarv1.Invoice, error) {
	within := bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}
	var or bson.A
	for _, f := range []string{"invoices.issued", "invoices.payments.at", "invoices.refunds.at", "invoices.adjustments.at"} {
		or = append(or, bson.D{{Key: f, Value: within}})
	}
	return r.invoicesOf(ctx, bson.D{{Key: "$or", Value: or}}, func(inv *molarv1.Invoice) bool { return billing.ActiveIn(inv, from, to) })
}

// invoicesOf returns the invoices keep selects from the account heads
// filter selects.
func (r *InvoiceRepo) invoicesOf(ctx context.Context, filter bson.D, keep func(*molarv1.Invoice) bool) ([]*molarv1.Invoice, error) {
	heads, err := findAll(ctx, r.accounts, filter, "accounts", func(d billingAccountDoc) billingAccountDoc { return d })
	if err != nil {
		return nil, err
	}
	var out []*molarv1.Invoice
	for _, h := range heads {
		for _, d := range h.Invoices {
			if inv := d.invoice(); keep(inv) {
				out = append(out, inv)
			}
		}
	}
	return out, nil
}
