package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/patient"
)

// PatientStore keeps patients. A change is one transaction: the version
// row (primary key (patient, version): only one writer can store each
// version, so it is the commit point), the current copy of the record with
// the columns queries use, and the change's audit record. Nothing is left
// to do after the commit, so no audit record is ever pending.
type PatientStore struct {
	db *DB
}

var _ patient.Store = (*PatientStore)(nil)

// NewPatientStore returns the patient store of db.
func NewPatientStore(db *DB) *PatientStore { return &PatientStore{db: db} }

// Patient details and procedures are stored as JSON with the schema's
// field names, like invoices; the columns beside them serve the queries.
var (
	recordJSON   = protojson.MarshalOptions{UseProtoNames: true}
	recordUnJSON = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// patientColumns are the columns of a record, in the order patientArgs
// gives and scanPatient reads them; patients and patient_versions both
// have them. The registration number is only ever stored sealed, in its
// own BLOB column; details (the schema's JSON) never hold it.
const patientColumns = `chart_number, name, phone, birth_date, active, deactivation_reason, created, updated, version,
	rrn_kid, rrn_sealed, rrn_masked, details`

func patientArgs(r patient.Record) ([]any, error) {
	d := proto.CloneOf(r.Details)
	if d == nil {
		d = &molarv1.PatientInput{}
	}
	d.Rrn = "" // never in clear, whatever the caller left there
	details, err := recordJSON.Marshal(d)
	if err != nil {
		return nil, err
	}
	return []any{r.ChartNumber, d.GetName(), phoneDigits(d.GetMobilePhone()), d.GetBirthDate(), r.Active, r.DeactivationReason,
		r.Created.UnixMilli(), r.Updated.UnixMilli(), r.Version, r.RRNKeyID, r.RRNSealed, r.RRNMasked, string(details)}, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanPatient(row scanner) (patient.Record, error) {
	var r patient.Record
	var name, phone, birth, details string
	var created, updated int64
	if err := row.Scan(&r.ID, &r.ChartNumber, &name, &phone, &birth, &r.Active, &r.DeactivationReason, &created, &updated, &r.Version,
		&r.RRNKeyID, &r.RRNSealed, &r.RRNMasked, &details); err != nil {
		return patient.Record{}, err
	}
	r.Details = &molarv1.PatientInput{}
	if err := recordUnJSON.Unmarshal([]byte(details), r.Details); err != nil {
		return patient.Record{}, err
	}
	if r.Details.Alerts == nil {
		r.Details.Alerts = &molarv1.MedicalAlerts{}
	}
	if len(r.RRNSealed) == 0 {
		r.RRNSealed = nil
	}
	r.Created, r.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return r, nil
}

// phoneDigits keeps the digits of a phone number, for lookups by number.
func phoneDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// MaxChartNumber implements patient.Store, on the unique index of chart
// numbers.
func (s *PatientStore) MaxChartNumber(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	err := s.db.sql.QueryRowContext(ctx, `SELECT max(chart_number) FROM patients`).Scan(&n)
	return n.Int64, storeError(err, "chart number")
}

// insertPatient stores r as a new patient at its version, with its version
// row: AlreadyExists if the id or the chart number is taken.
func insertPatient(ctx context.Context, tx *sql.Tx, r patient.Record, auditID string) error {
	args, err := patientArgs(r)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO patients (id, `+patientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append([]any{r.ID}, args...)...); err != nil {
		return storeError(err, "patient")
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO patient_versions (patient_id, `+patientColumns+`, audit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append(append([]any{r.ID}, args...), auditID)...)
	return storeError(err, "patient")
}

// Create implements patient.Store: the next chart number, the record, its
// version 1 and ev in one transaction. Transactions take turns, so no
// number is claimed before the commit and none is given twice.
// AlreadyExists if the id is taken.
func (s *PatientStore) Create(ctx context.Context, r patient.Record, ev audit.Event) (patient.Record, error) {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		var n sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(chart_number) FROM patients`).Scan(&n); err != nil {
			return storeError(err, "chart number")
		}
		r.ChartNumber = n.Int64 + 1
		if err := insertPatient(ctx, tx, r, ev.ID); err != nil {
			return err
		}
		return appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return patient.Record{}, err
	}
	return r, nil
}

// Get implements patient.Store: the current copy is updated in the
// transaction that commits each version, so it is always the newest.
func (s *PatientStore) Get(ctx context.Context, id string) (patient.Record, error) {
	r, err := scanPatient(s.db.sql.QueryRowContext(ctx, `SELECT id, `+patientColumns+` FROM patients WHERE id = ?`, id))
	return r, storeError(err, "patient")
}

// Save implements patient.Store. One transaction checks the current
// version, inserts the version row of r.Version+1 (its key admits one
// writer) and updates the current copy: Aborted if someone saved in
// between, and then nothing changed; NotFound for an unknown patient.
func (s *PatientStore) Save(ctx context.Context, r patient.Record, ev audit.Event) (patient.Record, error) {
	next := r
	next.Version = r.Version + 1
	args, err := patientArgs(next)
	if err != nil {
		return patient.Record{}, err
	}
	aborted := services.Errorf(services.Aborted, "the patient was changed by someone else; reload and try again")
	var saved patient.Record
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		// The transaction holds the write lock from its start, so the
		// version read here stays current until the commit.
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT version FROM patients WHERE id = ?`, r.ID).Scan(&cur); err != nil {
			return storeError(err, "patient")
		}
		if cur != r.Version {
			return aborted
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO patient_versions (patient_id, `+patientColumns+`, audit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			append(append([]any{r.ID}, args...), ev.ID)...); err != nil {
			if err := storeError(err, "patient"); services.ErrorCode(err) != services.AlreadyExists {
				return err
			}
			return aborted
		}
		if _, err := tx.ExecContext(ctx, `UPDATE patients SET (`+patientColumns+`) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ?`,
			append(args, r.ID)...); err != nil {
			return storeError(err, "patient")
		}
		// Answer with what Get will answer (times to the millisecond).
		if saved, err = scanPatient(tx.QueryRowContext(ctx, `SELECT id, `+patientColumns+` FROM patients WHERE id = ?`, r.ID)); err != nil {
			return storeError(err, "patient")
		}
		return appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return patient.Record{}, err
	}
	return saved, nil
}

// AuditProjected implements patient.Store. A no-op: the audit record was
// committed with the version, so nothing is ever pending.
func (s *PatientStore) AuditProjected(context.Context, string, int64) error { return nil }

// ReprojectAudit is the recovery pass at start. A no-op: every change
// commits its audit record in its own transaction, so a stopped process
// leaves nothing to project.
func (s *PatientStore) ReprojectAudit(context.Context, func(audit.Event) error) error { return nil }

// All implements patient.Store, in chart-number order.
func (s *PatientStore) All(ctx context.Context) ([]patient.Record, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT id, `+patientColumns+` FROM patients ORDER BY chart_number`)
	if err != nil {
		return nil, storeError(err, "patients")
	}
	defer rows.Close()
	var out []patient.Record
	for rows.Next() {
		r, err := scanPatient(rows)
		if err != nil {
			return nil, storeError(err, "patients")
		}
		out = append(out, r)
	}
	return out, storeError(rows.Err(), "patients")
}

// InsertMany stores new patients in bulk (demo data, an import), with
// their first versions, under the chart numbers they carry, in one transaction: all of them
// or, on any conflict, none.
func (s *PatientStore) InsertMany(ctx context.Context, recs []patient.Record) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		for _, r := range recs {
			if err := insertPatient(ctx, tx, r, ""); err != nil {
				return err
			}
		}
		return nil
	})
}
