// Package billing keeps invoices, payments, refunds and discounts, the
// patient ledger and the daily closing. Money is int64 won throughout.
package billing

import (
	"context"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Store keeps invoices as numbered versions.
type Store interface {
	// Insert stores inv as version inv.Version. Atomic: AlreadyExists if
	// that version exists (someone else changed the invoice first).
	Insert(ctx context.Context, inv *molarv1.Invoice) error
	// Latest returns the newest version of an invoice at or after hint.
	// NotFound if the invoice does not exist.
	Latest(ctx context.Context, id string, hint int64) (*molarv1.Invoice, error)
	// All returns the newest stored copy of every invoice.
	All(ctx context.Context) ([]*molarv1.Invoice, error)
	// ClaimEntry reserves a chart entry for an invoice. Atomic:
	// AlreadyExists if another invoice holds it.
	ClaimEntry(ctx context.Context, entryID, invoiceID string) error
	// ReleaseEntry gives an entry back (when its invoice is voided).
	ReleaseEntry(ctx context.Context, entryID, invoiceID string) error
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

// ChangeKind is the kind of change record invoices publish.
const ChangeKind = "invoice"
