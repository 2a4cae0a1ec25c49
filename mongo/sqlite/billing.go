package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/billing"
)

// BillingStore keeps patients' accounts. A change is one transaction: the
// change row (its primary key is the account's next number: the commit
// point), the newest copy of each invoice it touches, the account's number
// and the change's audit record. Nothing derived is left to do after it,
// so nothing is ever pending.
type BillingStore struct {
	db *DB
}

var _ billing.Store = (*BillingStore)(nil)

// NewBillingStore returns the billing store of db.
func NewBillingStore(db *DB) *BillingStore { return &BillingStore{db: db} }

// Invoices are stored as JSON with the schema's field names: readable with
// SQLite's own JSON functions, and guarded against incompatible change by
// the schema's breaking-change check. Queries use the columns beside it.
var (
	invoiceJSON   = protojson.MarshalOptions{UseProtoNames: true}
	invoiceUnJSON = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// Account implements billing.Store: one statement, so one snapshot.
func (s *BillingStore) Account(ctx context.Context, patientID string) (billing.Account, error) {
	acct := billing.Account{PatientID: patientID}
	rows, err := s.db.sql.QueryContext(ctx, `SELECT a.seq, i.doc FROM billing_accounts a LEFT JOIN invoices i ON i.patient_id = a.patient_id
		WHERE a.patient_id = ? ORDER BY i.created, i.id`, patientID)
	if err != nil {
		return acct, storeError(err, "account")
	}
	defer rows.Close()
	for rows.Next() {
		var doc sql.NullString
		if err := rows.Scan(&acct.Seq, &doc); err != nil {
			return acct, storeError(err, "account")
		}
		if doc.Valid {
			inv := &molarv1.Invoice{}
			if err := invoiceUnJSON.Unmarshal([]byte(doc.String), inv); err != nil {
				return acct, err
			}
			acct.Invoices = append(acct.Invoices, inv)
		}
	}
	return acct, storeError(rows.Err(), "account")
}

// Commit implements billing.Store.
func (s *BillingStore) Commit(ctx context.Context, c billing.Change) error {
	docs := make([]json.RawMessage, len(c.Invoices))
	for i, inv := range c.Invoices {
		b, err := invoiceJSON.Marshal(inv)
		if err != nil {
			return err
		}
		docs[i] = b
	}
	all, err := json.Marshal(docs)
	if err != nil {
		return err
	}
	return s.db.write(ctx, func(tx *sql.Tx) error {
		var seq int64
		err := tx.QueryRowContext(ctx, `SELECT seq FROM billing_accounts WHERE patient_id = ?`, c.PatientID).Scan(&seq)
		if err != nil && err != sql.ErrNoRows {
			return storeError(err, "account")
		}
		if c.Seq != seq+1 {
			return services.Errorf(services.AlreadyExists, "account change %d already exists", c.Seq)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO billing_accounts (patient_id, seq) VALUES (?, ?)
			ON CONFLICT (patient_id) DO UPDATE SET seq = excluded.seq`, c.PatientID, c.Seq); err != nil {
			return storeError(err, "account")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO billing_changes (patient_id, seq, at, invoices, audit_id) VALUES (?, ?, ?, ?, ?)`,
			c.PatientID, c.Seq, c.Time.UnixMilli(), string(all), c.Audit.ID); err != nil {
			return storeError(err, "account change")
		}
		for i, inv := range c.Invoices {
			if _, err := tx.ExecContext(ctx, `INSERT INTO invoices (id, patient_id, created, status, balance, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET status = excluded.status, balance = excluded.balance, version = excluded.version, doc = excluded.doc`,
				inv.GetId(), c.PatientID, inv.GetCreateTime().AsTime().UnixMilli(), inv.GetStatus().String(), inv.GetBalance(), inv.GetVersion(), string(docs[i])); err != nil {
				return storeError(err, "invoice")
			}
			if err := saveInvoiceTimes(ctx, tx, inv); err != nil {
				return err
			}
		}
		return appendAudit(ctx, tx, c.Audit)
	})
}

// Apply implements billing.Store: Commit did it all.
func (s *BillingStore) Apply(context.Context, billing.Change) error { return nil }

// Settle implements billing.Store: Commit did it all.
func (s *BillingStore) Settle(context.Context, string, int64) error { return nil }

// Pending implements billing.Store: no change is ever left pending.
func (s *BillingStore) Pending(context.Context) ([]billing.Change, error) { return nil, nil }

// PatientOf implements billing.Store.
func (s *BillingStore) PatientOf(ctx context.Context, invoiceID string) (string, error) {
	var p string
	err := s.db.sql.QueryRowContext(ctx, `SELECT patient_id FROM invoices WHERE id = ?`, invoiceID).Scan(&p)
	return p, storeError(err, "invoice")
}

// All implements billing.Store.
func (s *BillingStore) All(ctx context.Context) ([]*molarv1.Invoice, error) {
	return s.invoices(ctx, `SELECT doc FROM invoices ORDER BY created, id`)
}

// Owing implements billing.Store.
func (s *BillingStore) Owing(ctx context.Context) ([]*molarv1.Invoice, error) {
	return s.invoices(ctx, `SELECT doc FROM invoices WHERE balance > 0 ORDER BY created, id`)
}

// Active implements billing.Store.
func (s *BillingStore) Active(ctx context.Context, from, to time.Time) ([]*molarv1.Invoice, error) {
	return s.invoices(ctx, `SELECT doc FROM invoices WHERE id IN (SELECT invoice_id FROM invoice_times WHERE at >= ? AND at < ?) ORDER BY created, id`,
		from.UnixMilli(), to.UnixMilli())
}

func (s *BillingStore) invoices(ctx context.Context, query string, args ...any) ([]*molarv1.Invoice, error) {
	rows, err := s.db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, storeError(err, "invoices")
	}
	defer rows.Close()
	var out []*molarv1.Invoice
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, storeError(err, "invoices")
		}
		inv := &molarv1.Invoice{}
		if err := invoiceUnJSON.Unmarshal([]byte(doc), inv); err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return slices.Clip(out), storeError(rows.Err(), "invoices")
}

// saveInvoiceTimes records when things happened to an invoice, replacing
// what an earlier version recorded.
func saveInvoiceTimes(ctx context.Context, tx *sql.Tx, inv *molarv1.Invoice) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM invoice_times WHERE invoice_id = ?`, inv.GetId()); err != nil {
		return storeError(err, "invoice times")
	}
	for _, at := range billing.Times(inv) {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO invoice_times (at, invoice_id) VALUES (?, ?)`, at.UnixMilli(), inv.GetId()); err != nil {
			return storeError(err, "invoice times")
		}
	}
	return nil
}

// fillInvoiceTimes records the times of the invoices stored before there
// was invoice_times.
func fillInvoiceTimes(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT doc FROM invoices`)
	if err != nil {
		return err
	}
	var invs []*molarv1.Invoice
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			rows.Close()
			return err
		}
		inv := &molarv1.Invoice{}
		if err := invoiceUnJSON.Unmarshal([]byte(doc), inv); err != nil {
			rows.Close()
			return err
		}
		invs = append(invs, inv)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, inv := range invs {
		if err := saveInvoiceTimes(ctx, tx, inv); err != nil {
			return err
		}
	}
	return nil
}
