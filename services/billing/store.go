// Package billing keeps invoices, payments, refunds and discounts, the
// patient ledger and the daily closing. Money is int64 won throughout.
package billing

import (
	"context"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
)

// Account is everything billed to one patient, as of the account's change
// number Seq: each invoice at its newest version, oldest invoice first.
type Account struct {
	PatientID string
	// Seq is the number of the newest change committed to the account, 0
	// for a patient never billed.
	Seq      int64
	Invoices []*molarv1.Invoice
}

// Change is one committed change to a patient's account: the new version
// of every invoice it touches (a payment drawing credit touches the invoice
// paid and each invoice the credit came from) and the change's audit record.
// It is committed whole or not at all.
type Change struct {
	PatientID string
	// Seq is the change's number in the account: the account's Seq + 1.
	Seq int64
	// Invoices are the new versions of the invoices the change touches.
	Invoices []*molarv1.Invoice
	// Audit is the change's record in the audit trail.
	Audit audit.Event
	// Time is when it was committed.
	Time time.Time
}

// Store keeps patients' accounts as numbered changes. The committed change
// is the only authority; the newest copy of each invoice and the account's
// head are derived from the changes and may lag until Apply catches up.
type Store interface {
	// Account returns a patient's account as of its newest committed change.
	Account(ctx context.Context, patientID string) (Account, error)
	// Commit stores c as change c.Seq of its account, atomically with the
	// invoices and the audit record it carries, and marks it pending until
	// Settle. AlreadyExists if the account has a change c.Seq already
	// (someone else changed it first): nothing is stored.
	Commit(ctx context.Context, c Change) error
	// Apply brings the derived copies (newest invoices, the account head) up
	// to c. It is idempotent and never moves a copy back to an older change.
	Apply(ctx context.Context, c Change) error
	// Settle clears the pending mark of a change whose derived copies and
	// audit record are in place.
	Settle(ctx context.Context, patientID string, seq int64) error
	// Pending returns the committed changes not settled yet, oldest first.
	Pending(ctx context.Context) ([]Change, error)
	// PatientOf returns the patient an invoice belongs to. NotFound if no
	// settled change names it.
	PatientOf(ctx context.Context, invoiceID string) (string, error)
	// All returns the newest copy of every invoice (for migration).
	All(ctx context.Context) ([]*molarv1.Invoice, error)
	// Owing returns the newest copy of every invoice with a balance left.
	Owing(ctx context.Context) ([]*molarv1.Invoice, error)
	// Active returns the newest copy of every invoice that was issued,
	// paid, refunded or discounted in [from, to) (see ActiveIn).
	Active(ctx context.Context, from, to time.Time) ([]*molarv1.Invoice, error)
}

// Times lists when something happened to an invoice: its issue, each
// payment, refund and discount (the times a daily closing counts).
func Times(inv *molarv1.Invoice) []time.Time {
	var out []time.Time
	add := func(t *timestamppb.Timestamp) {
		if t != nil {
			out = append(out, t.AsTime())
		}
	}
	add(inv.GetIssueTime())
	for _, p := range inv.GetPayments() {
		add(p.GetTime())
	}
	for _, r := range inv.GetRefunds() {
		add(r.GetTime())
	}
	for _, a := range inv.GetAdjustments() {
		add(a.GetTime())
	}
	return out
}

// ActiveIn reports whether something happened to an invoice in [from, to).
func ActiveIn(inv *molarv1.Invoice, from, to time.Time) bool {
	return slices.ContainsFunc(Times(inv), func(at time.Time) bool { return !at.Before(from) && at.Before(to) })
}

// Chart tells which procedures were completed.
type Chart interface {
	// Completed returns a patient's completed procedure entries.
	Completed(ctx context.Context, patientID string) ([]CompletedEntry, error)
}

// CompletedEntry is a completed procedure to bill.
type CompletedEntry struct {
	ID, Code, Name, Surfaces, Provider string
	Tooth                              int32
	Fee                                int64
	Insured                            bool
}

// Patients names patients.
type Patients interface {
	Label(ctx context.Context, id string) (string, int64, error)
}

// Clinic gives the co-pay rate and time zone.
type Clinic interface {
	Get(ctx context.Context) (*molarv1.Clinic, error)
}

// Changes announces changes to every server process.
type Changes interface {
	Publish(ctx context.Context, kind, key string, rev int64) error
}

// ChangeKind is the kind of change record billing publishes; its key is the
// patient whose account changed and its revision the account's Seq.
const ChangeKind = "invoice"
