package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/chart"
)

// ChartStore keeps clinical records (chart changes and notes, every
// version of each patient's, each stored as what it changed) and the
// procedure catalog. A change is one
// transaction: the version row (primary key (patient, version): the commit
// point) with its audit record, or the catalog change row (keyed by its
// audit event) with the procedure and the audit record. Nothing is left to
// do after the commit, so no audit record is ever pending.
type ChartStore struct {
	db *DB
}

var (
	_ chart.Store   = (*ChartStore)(nil)
	_ chart.Catalog = (*ChartStore)(nil)
)

// NewChartStore returns the chart store of db.
func NewChartStore(db *DB) *ChartStore { return &ChartStore{db: db} }

// A clinical record version is stored as JSON in these storage types (the
// record has no schema message); times are UTC to the millisecond, as on
// the MongoDB engine, and an entry's update and completion times are what
// replaying the chart makes of them.
type chartEntryJSON struct {
	ID            string    `json:"id"`
	Tooth         int32     `json:"tooth"`
	Surfaces      []int32   `json:"surfaces,omitempty"`
	Condition     int32     `json:"condition,omitempty"`
	ProcedureCode string    `json:"procedure_code,omitempty"`
	ProcedureName string    `json:"procedure_name,omitempty"`
	Fee           int64     `json:"fee,omitempty"`
	Status        int32     `json:"status,omitempty"`
	CreatedBy     string    `json:"created_by"`
	Created       time.Time `json:"created"`
}

type chartEventJSON struct {
	Type    string          `json:"type"`
	At      time.Time       `json:"at"`
	By      string          `json:"by,omitempty"`
	ByName  string          `json:"by_name,omitempty"`
	Entry   *chartEntryJSON `json:"entry,omitempty"`
	EntryID string          `json:"entry_id,omitempty"`
	Status  int32           `json:"status,omitempty"`
	Reason  string          `json:"reason,omitempty"`
}

type noteRevisionJSON struct {
	Title      string    `json:"title"`
	Content    string    `json:"content"`
	Tags       []string  `json:"tags,omitempty"`
	AuthorName string    `json:"author_name"`
	Time       time.Time `json:"time"`
}

type noteJSON struct {
	ID            string             `json:"id"`
	Title         string             `json:"title"`
	Content       string             `json:"content"`
	Tags          []string           `json:"tags,omitempty"`
	AuthorID      string             `json:"author_id"`
	AuthorName    string             `json:"author_name"`
	Created       time.Time          `json:"created"`
	Revisions     []noteRevisionJSON `json:"revisions,omitempty"`
	Removed       bool               `json:"removed,omitempty"`
	RemovedReason string             `json:"removed_reason,omitempty"`
	Version       int64              `json:"version"`
	Updated       time.Time          `json:"updated"`
	UpdatedBy     string             `json:"updated_by,omitempty"`
}

type clinicalJSON struct {
	Events []chartEventJSON `json:"events"`
	Notes  []noteJSON       `json:"notes"`
}

// msUTC truncates to what the record keeps.
func msUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

func clinicalJSONOf(r chart.Record) clinicalJSON {
	d := clinicalJSON{Events: []chartEventJSON{}, Notes: []noteJSON{}}
	for _, e := range r.Events {
		ed := chartEventJSON{Type: string(e.Type), At: msUTC(e.At), By: e.By, ByName: e.ByName, EntryID: e.EntryID, Status: int32(e.Status), Reason: e.Reason}
		if e.Type == chart.EventAdd {
			x := e.Entry
			ed.Entry = &chartEntryJSON{ID: x.ID, Tooth: x.Tooth, Condition: int32(x.Condition), ProcedureCode: x.ProcedureCode,
				ProcedureName: x.ProcedureName, Fee: x.Fee, Status: int32(x.Status), CreatedBy: x.CreatedBy, Created: msUTC(x.Created)}
			for _, s := range x.Surfaces {
				ed.Entry.Surfaces = append(ed.Entry.Surfaces, int32(s))
			}
		}
		d.Events = append(d.Events, ed)
	}
	for _, n := range r.Notes {
		nd := noteJSON{ID: n.ID, Title: n.Title, Content: n.Content, Tags: n.Tags, AuthorID: n.AuthorID, AuthorName: n.AuthorName, Created: msUTC(n.Created),
			Removed: n.Removed, RemovedReason: n.RemovedReason, Version: n.Version, Updated: msUTC(n.Updated), UpdatedBy: n.UpdatedBy}
		for _, rv := range n.Revisions {
			nd.Revisions = append(nd.Revisions, noteRevisionJSON{Title: rv.Title, Content: rv.Content, Tags: rv.Tags, AuthorName: rv.AuthorName, Time: msUTC(rv.Time)})
		}
		d.Notes = append(d.Notes, nd)
	}
	return d
}

func (d clinicalJSON) record(patientID string, version int64) chart.Record {
	r := chart.Record{PatientID: patientID, Version: version}
	for _, e := range d.Events {
		ev := chart.Event{Type: chart.EventType(e.Type), At: e.At, By: e.By, ByName: e.ByName, EntryID: e.EntryID, Status: molarv1.EntryStatus(e.Status), Reason: e.Reason}
		if x := e.Entry; x != nil {
			ev.Entry = chart.Entry{ID: x.ID, Tooth: x.Tooth, Condition: molarv1.Condition(x.Condition),
				ProcedureCode: x.ProcedureCode, ProcedureName: x.ProcedureName, Fee: x.Fee, Status: molarv1.EntryStatus(x.Status),
				CreatedBy: x.CreatedBy, Created: x.Created, UpdatedBy: x.CreatedBy, Updated: x.Created}
			for _, s := range x.Surfaces {
				ev.Entry.Surfaces = append(ev.Entry.Surfaces, molarv1.Surface(s))
			}
			if ev.Entry.Status == molarv1.EntryStatus_ENTRY_STATUS_COMPLETED {
				ev.Entry.Completed = x.Created
			}
		}
		r.Events = append(r.Events, ev)
	}
	for _, n := range d.Notes {
		note := chart.Note{ID: n.ID, Title: n.Title, Content: n.Content, Tags: n.Tags, AuthorID: n.AuthorID, AuthorName: n.AuthorName,
			Created: n.Created, Removed: n.Removed, RemovedReason: n.RemovedReason, Version: n.Version, Updated: n.Updated, UpdatedBy: n.UpdatedBy}
		for _, rv := range n.Revisions {
			note.Revisions = append(note.Revisions, chart.NoteRevision{Title: rv.Title, Content: rv.Content, Tags: rv.Tags, AuthorName: rv.AuthorName, Time: rv.Time})
		}
		r.Notes = append(r.Notes, note)
	}
	return r
}

// Latest implements chart.Store: the patient's versions from the newest
// stored whole (a bulk load) on, in key order, each applied to the one
// before.
func (s *ChartStore) Latest(ctx context.Context, patientID string) (chart.Record, error) {
	return latestClinical(ctx, s.db.sql, patientID)
}

// querier is what reads need of a database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func latestClinical(ctx context.Context, q querier, patientID string) (chart.Record, error) {
	rows, err := q.QueryContext(ctx, `SELECT version, delta, doc FROM clinical_versions WHERE patient_id = ?1
		AND version >= (SELECT coalesce(max(version), 0) FROM clinical_versions WHERE patient_id = ?1 AND delta = 0) ORDER BY version`, patientID)
	if err != nil {
		return chart.Record{}, storeError(err, "clinical record")
	}
	defer rows.Close()
	r := chart.Record{PatientID: patientID}
	for rows.Next() {
		var version int64
		var delta bool
		var doc string
		if err := rows.Scan(&version, &delta, &doc); err != nil {
			return chart.Record{}, storeError(err, "clinical record")
		}
		var d clinicalJSON
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			return chart.Record{}, err
		}
		if !delta {
			r = chart.Record{PatientID: patientID}
		}
		r = r.Apply(d.change(patientID, version))
	}
	return r, storeError(rows.Err(), "clinical record")
}

// change reads a stored version as the change it makes.
func (d clinicalJSON) change(patientID string, version int64) chart.Change {
	r := d.record(patientID, version)
	return chart.Change{PatientID: patientID, Version: version, Events: r.Events, Notes: r.Notes}
}

// insertClinical stores c as version c.Version, whole (the first version
// of a record moved in bulk) or as a change: AlreadyExists if that version
// or a newer one exists. A record moved from another engine may start at
// any version.
func insertClinical(ctx context.Context, tx *sql.Tx, c chart.Change, whole bool, auditID string, at time.Time) error {
	var newest int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM clinical_versions WHERE patient_id = ?`, c.PatientID).Scan(&newest); err != nil {
		return storeError(err, "clinical record")
	}
	if c.Version <= newest {
		return services.Errorf(services.AlreadyExists, "clinical record version %d already exists", c.Version)
	}
	doc, err := json.Marshal(clinicalJSONOf(chart.Record{Events: c.Events, Notes: c.Notes}))
	if err != nil {
		return err
	}
	var atMS int64 // 0: not known (a bulk import)
	if !at.IsZero() {
		atMS = at.UnixMilli()
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO clinical_versions (patient_id, version, at, events, notes, doc, audit_id, delta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.PatientID, c.Version, atMS, len(c.Events), len(c.Notes), string(doc), auditID, !whole)
	return storeError(err, "clinical record")
}

// Insert implements chart.Store: the version and ev in one transaction.
// AlreadyExists if that version exists (someone else saved first), and then
// nothing changed.
func (s *ChartStore) Insert(ctx context.Context, c chart.Change, ev audit.Event) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		if err := insertClinical(ctx, tx, c, false, ev.ID, ev.Time); err != nil {
			return err
		}
		return appendAudit(ctx, tx, ev)
	})
}

// compactClinical rewrites the clinical versions stored whole before schema
// version 7 as the changes they made, patient by patient, so that what is
// stored no longer grows with the square of the number of versions.
func compactClinical(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT patient_id FROM clinical_versions WHERE delta = 0`)
	if err != nil {
		return err
	}
	var patients []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		patients = append(patients, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range patients {
		rows, err := tx.QueryContext(ctx, `SELECT version, doc FROM clinical_versions WHERE patient_id = ? ORDER BY version`, id)
		if err != nil {
			return err
		}
		var versions []chart.Record
		for rows.Next() {
			var version int64
			var doc string
			if err := rows.Scan(&version, &doc); err != nil {
				rows.Close()
				return err
			}
			var d clinicalJSON
			if err := json.Unmarshal([]byte(doc), &d); err != nil {
				rows.Close()
				return err
			}
			versions = append(versions, d.record(id, version))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// The oldest stays whole: the versions kept start somewhere.
		for i := 1; i < len(versions); i++ {
			c := chart.ChangeFrom(versions[i-1], versions[i])
			doc, err := json.Marshal(clinicalJSONOf(chart.Record{Events: c.Events, Notes: c.Notes}))
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE clinical_versions SET doc = ?, events = ?, notes = ?, delta = 1 WHERE patient_id = ? AND version = ?`,
				string(doc), len(c.Events), len(c.Notes), id, versions[i].Version); err != nil {
				return err
			}
		}
	}
	return nil
}

// AuditProjected implements chart.Store. A no-op: the audit record was
// committed with the version, so nothing is ever pending.
func (s *ChartStore) AuditProjected(context.Context, string, int64) error { return nil }

// List implements chart.Catalog, by code.
func (s *ChartStore) List(ctx context.Context) ([]*molarv1.Procedure, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT doc FROM procedures ORDER BY code`)
	if err != nil {
		return nil, storeError(err, "procedures")
	}
	defer rows.Close()
	var out []*molarv1.Procedure
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, storeError(err, "procedures")
		}
		p := &molarv1.Procedure{}
		if err := recordUnJSON.Unmarshal([]byte(doc), p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, storeError(rows.Err(), "procedures")
}

// Save implements chart.Catalog: the change row (keyed by the id of ev:
// AlreadyExists if that change was stored already), the procedure and ev
// in one transaction. Transactions take turns, so the last change to
// commit is the procedure.
func (s *ChartStore) Save(ctx context.Context, p *molarv1.Procedure, ev audit.Event) error {
	if ev.ID == "" {
		return errors.New("procedure: a catalog change needs its audit event")
	}
	doc, err := recordJSON.Marshal(p)
	if err != nil {
		return err
	}
	return s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO procedure_changes (id, code, at, doc) VALUES (?, ?, ?, ?)`,
			ev.ID, p.GetCode(), ev.Time.UnixMilli(), string(doc)); err != nil {
			return storeError(err, "procedure change")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO procedures (code, category, active, change_id, doc) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (code) DO UPDATE SET category = excluded.category, active = excluded.active, change_id = excluded.change_id, doc = excluded.doc`,
			p.GetCode(), int32(p.GetCategory()), p.GetActive(), ev.ID, string(doc)); err != nil {
			return storeError(err, "procedure")
		}
		return appendAudit(ctx, tx, ev)
	})
}

// CatalogAuditProjected implements chart.Catalog. A no-op: the audit
// record was committed with the change.
func (s *ChartStore) CatalogAuditProjected(context.Context, string) error { return nil }

// ReprojectAudit is the recovery pass at start. A no-op: every chart and
// catalog change commits its audit record in its own transaction, so a
// stopped process leaves nothing to project.
func (s *ChartStore) ReprojectAudit(context.Context, func(audit.Event) error) error { return nil }

// InsertMany stores clinical records in bulk (demo charts, or the newest
// versions moved from another engine) at their versions, in one
// transaction: all of them or, on any conflict, none.
func (s *ChartStore) InsertMany(ctx context.Context, recs []chart.Record) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		for _, r := range recs {
			if err := insertClinical(ctx, tx, r.Whole(), true, "", time.Time{}); err != nil {
				return err
			}
		}
		return nil
	})
}
