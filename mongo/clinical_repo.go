package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/chart"
)

const (
	// clinicalCollection holds every version of every patient's clinical
	// record (chart changes and notes), keyed "patient:version".
	clinicalCollection = "clinical_records"
	catalogCollection  = "procedures"
	// catalogChangeCollection has one document per change to the catalog,
	// keyed by the id of its audit event: inserting it commits the change,
	// and the procedure in catalogCollection follows it.
	catalogChangeCollection = "procedure_changes"
)

// ClinicalRepo stores clinical records and the catalog.
type ClinicalRepo struct {
	records, catalog, catalogChanges *driver.Collection
}

var (
	_ chart.Store   = (*ClinicalRepo)(nil)
	_ chart.Catalog = (*ClinicalRepo)(nil)
)

// NewClinicalRepo returns a ClinicalRepo on db.
func NewClinicalRepo(db *DB) *ClinicalRepo {
	return &ClinicalRepo{records: db.Database.Collection(clinicalCollection),
		catalog: db.Database.Collection(catalogCollection), catalogChanges: db.Database.Collection(catalogChangeCollection)}
}

// ClinicalIndexes are the indexes ClinicalRepo needs beyond _id: the ones
// recovery finds pending changes with, a patient's versions in order, and a
// catalog change's procedure.
func ClinicalIndexes() []Index {
	return []Index{
		pendingIndex(clinicalCollection),
		{Collection: clinicalCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "version", Value: 1}}, Options: options.Index().SetName("patient_version")}},
		pendingIndex(catalogChangeCollection),
		{Collection: catalogChangeCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "code", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("code_id")}},
	}
}

type entryDoc struct {
	ID            string    `bson:"id"`
	Tooth         int32     `bson:"tooth"`
	Surfaces      []int32   `bson:"surfaces,omitempty"`
	Condition     int32     `bson:"condition,omitempty"`
	ProcedureCode string    `bson:"procedure_code,omitempty"`
	ProcedureName string    `bson:"procedure_name,omitempty"`
	Fee           int64     `bson:"fee,omitempty"`
	Status        int32     `bson:"status,omitempty"`
	CreatedBy     string    `bson:"created_by"`
	Created       time.Time `bson:"created"`
}

type eventDoc struct {
	Type    string    `bson:"type"`
	At      time.Time `bson:"at"`
	By      string    `bson:"by,omitempty"`
	ByName  string    `bson:"by_name,omitempty"`
	Entry   *entryDoc `bson:"entry,omitempty"`
	EntryID string    `bson:"entry_id,omitempty"`
	Status  int32     `bson:"status,omitempty"`
	Reason  string    `bson:"reason,omitempty"`
}

type noteRevisionDoc struct {
	Title      string    `bson:"title"`
	Content    string    `bson:"content"`
	Tags       []string  `bson:"tags,omitempty"`
	AuthorName string    `bson:"author_name"`
	Time       time.Time `bson:"time"`
}

type noteDoc struct {
	ID            string            `bson:"id"`
	Title         string            `bson:"title"`
	Content       string            `bson:"content"`
	Tags          []string          `bson:"tags,omitempty"`
	AuthorID      string            `bson:"author_id"`
	AuthorName    string            `bson:"author_name"`
	Created       time.Time         `bson:"created"`
	Revisions     []noteRevisionDoc `bson:"revisions,omitempty"`
	Removed       bool              `bson:"removed,omitempty"`
	RemovedReason string            `bson:"removed_reason,omitempty"`
	Version       int64             `bson:"version"`
	Updated       time.Time         `bson:"updated"`
	UpdatedBy     string            `bson:"updated_by,omitempty"`
}

type clinicalDoc struct {
	ID        string     `bson:"_id"`
	PatientID string     `bson:"patient_id"`
	Version   int64      `bson:"version"`
	Events    []eventDoc `bson:"events"`
	Notes     []noteDoc  `bson:"notes"`
	// Delta says the document holds what its version changed; without it
	// (the first version of a record moved in bulk, and every version
	// written before) it holds the whole record.
	Delta        bool             `bson:"delta,omitempty"`
	Audit        *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending bool             `bson:"audit_pending,omitempty"`
}

func surfacesIn(s []molarv1.Surface) []int32 {
	out := make([]int32, len(s))
	for i, x := range s {
		out[i] = int32(x)
	}
	return out
}

func surfacesOut(s []int32) []molarv1.Surface {
	if len(s) == 0 {
		return nil
	}
	out := make([]molarv1.Surface, len(s))
	for i, x := range s {
		out[i] = molarv1.Surface(x)
	}
	return out
}

func clinicalDocOf(r chart.Record) clinicalDoc {
	d := clinicalDoc{ID: revisionID(r.PatientID, r.Version), PatientID: r.PatientID, Version: r.Version, Events: []eventDoc{}, Notes: []noteDoc{}}
	for _, e := range r.Events {
		ed := eventDoc{Type: string(e.Type), At: ms(e.At), By: e.By, ByName: e.ByName, EntryID: e.EntryID, Status: int32(e.Status), Reason: e.Reason}
		if e.Type == chart.EventAdd {
			x := e.Entry
			ed.Entry = &entryDoc{ID: x.ID, Tooth: x.Tooth, Surfaces: surfacesIn(x.Surfaces), Condition: int32(x.Condition), ProcedureCode: x.ProcedureCode,
				ProcedureName: x.ProcedureName, Fee: x.Fee, Status: int32(x.Status), CreatedBy: x.CreatedBy, Created: ms(x.Created)}
		}
		d.Events = append(d.Events, ed)
	}
	for _, n := range r.Notes {
		nd := noteDoc{ID: n.ID, Title: n.Title, Content: n.Content, Tags: n.Tags, AuthorID: n.AuthorID, AuthorName: n.AuthorName, Created: ms(n.Created),
			Removed: n.Removed, RemovedReason: n.RemovedReason, Version: n.Version, Updated: ms(n.Updated), UpdatedBy: n.UpdatedBy}
		for _, rv := range n.Revisions {
			nd.Revisions = append(nd.Revisions, noteRevisionDoc{Title: rv.Title, Content: rv.Content, Tags: rv.Tags, AuthorName: rv.AuthorName, Time: ms(rv.Time)})
		}
		d.Notes = append(d.Notes, nd)
	}
	return d
}

func (d clinicalDoc) record() chart.Record {
	r := chart.Record{PatientID: d.PatientID, Version: d.Version}
	for _, e := range d.Events {
		ev := chart.Event{Type: chart.EventType(e.Type), At: e.At, By: e.By, ByName: e.ByName, EntryID: e.EntryID, Status: molarv1.EntryStatus(e.Status), Reason: e.Reason}
		if x := e.Entry; x != nil {
			ev.Entry = chart.Entry{ID: x.ID, Tooth: x.Tooth, Surfaces: surfacesOut(x.Surfaces), Condition: molarv1.Condition(x.Condition),
				ProcedureCode: x.ProcedureCode, ProcedureName: x.ProcedureName, Fee: x.Fee, Status: molarv1.EntryStatus(x.Status),
				CreatedBy: x.CreatedBy, Created: x.Created, UpdatedBy: x.CreatedBy, Updated: x.Created}
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
// stored whole on, by version, each applied to the one before.
func (r *ClinicalRepo) Latest(ctx context.Context, patientID string) (chart.Record, error) {
	var whole struct {
		Version int64 `bson:"version"`
	}
	err := r.records.FindOne(ctx, bson.D{{Key: "patient_id", Value: patientID}, {Key: "delta", Value: bson.D{{Key: "$ne", Value: true}}}},
		options.FindOne().SetSort(bson.D{{Key: "version", Value: -1}}).SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&whole)
	if err != nil && err != driver.ErrNoDocuments {
		return chart.Record{}, storeError(err, "clinical record")
	}
	cur, err := r.records.Find(ctx, bson.D{{Key: "patient_id", Value: patientID}, {Key: "version", Value: bson.D{{Key: "$gte", Value: whole.Version}}}},
		options.Find().SetSort(bson.D{{Key: "version", Value: 1}}))
	if err != nil {
		return chart.Record{}, storeError(err, "clinical record")
	}
	var docs []clinicalDoc
	if err := cur.All(ctx, &docs); err != nil {
		return chart.Record{}, storeError(err, "clinical record")
	}
	rec := chart.Record{PatientID: patientID}
	for _, d := range docs {
		if !d.Delta {
			rec = chart.Record{PatientID: patientID}
		}
		rec = rec.Apply(d.change())
	}
	return rec, nil
}

// AllLatest returns the newest version of every patient's record, reading
// the collection once in (patient, version) order: what a move to another
// engine needs, without a query per patient.
func (r *ClinicalRepo) AllLatest(ctx context.Context) ([]chart.Record, error) {
	cur, err := r.records.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "patient_id", Value: 1}, {Key: "version", Value: 1}}))
	if err != nil {
		return nil, storeError(err, "clinical records")
	}
	defer cur.Close(ctx)
	var out []chart.Record
	var rec chart.Record
	for cur.Next(ctx) {
		var d clinicalDoc
		if err := cur.Decode(&d); err != nil {
			return nil, storeError(err, "clinical record")
		}
		if d.PatientID != rec.PatientID {
			if rec.Version > 0 {
				out = append(out, rec)
			}
			rec = chart.Record{PatientID: d.PatientID}
		}
		if !d.Delta {
			rec = chart.Record{PatientID: d.PatientID}
		}
		rec = rec.Apply(d.change())
	}
	if rec.Version > 0 {
		out = append(out, rec)
	}
	return out, storeError(cur.Err(), "clinical records")
}

// change reads a stored version as the change it makes.
func (d clinicalDoc) change() chart.Change {
	r := d.record()
	return chart.Change{PatientID: r.PatientID, Version: r.Version, Events: r.Events, Notes: r.Notes}
}

// clinicalChangeDoc is the document of version c.Version: the change it
// makes, or (whole) the record it starts.
func clinicalChangeDoc(c chart.Change, whole bool) clinicalDoc {
	d := clinicalDocOf(chart.Record{PatientID: c.PatientID, Version: c.Version, Events: c.Events, Notes: c.Notes})
	d.Delta = !whole
	return d
}

// Insert implements chart.Store. The insert of the version, keyed by
// patient and version, is the commit.
func (r *ClinicalRepo) Insert(ctx context.Context, c chart.Change, ev audit.Event) error {
	d := clinicalChangeDoc(c, false)
	d.Audit, d.AuditPending = carriedAudit(ev)
	_, err := r.records.InsertOne(ctx, d)
	return storeError(err, "clinical record")
}

// CompactClinical rewrites the clinical versions stored whole by earlier
// versions of Molar as the changes they made, so that what is stored no
// longer grows with the square of the number of versions, and reports how
// many it rewrote. The oldest version of each patient stays whole. Each
// rewrite is one idempotent update, so a start that stops halfway is
// finished by the next.
func (r *ClinicalRepo) CompactClinical(ctx context.Context) (int, error) {
	cur, err := r.records.Find(ctx, bson.D{{Key: "delta", Value: bson.D{{Key: "$ne", Value: true}}}},
		options.Find().SetProjection(bson.D{{Key: "patient_id", Value: 1}}))
	if err != nil {
		return 0, storeError(err, "clinical records")
	}
	var wholes []struct {
		PatientID string `bson:"patient_id"`
	}
	if err := cur.All(ctx, &wholes); err != nil {
		return 0, storeError(err, "clinical records")
	}
	// A patient's versions need rewriting when more than one is whole.
	count := map[string]int{}
	var patients []string
	for _, w := range wholes {
		if count[w.PatientID]++; count[w.PatientID] == 2 {
			patients = append(patients, w.PatientID)
		}
	}
	n := 0
	for _, id := range patients {
		cur, err := r.records.Find(ctx, bson.D{{Key: "patient_id", Value: id}}, options.Find().SetSort(bson.D{{Key: "version", Value: 1}}))
		if err != nil {
			return n, storeError(err, "clinical records")
		}
		var docs []clinicalDoc
		if err := cur.All(ctx, &docs); err != nil {
			return n, storeError(err, "clinical records")
		}
		var prev chart.Record
		for i, d := range docs {
			next := d.record()
			if d.Delta {
				next = prev.Apply(d.change())
			} else if i > 0 {
				c := chart.ChangeFrom(prev, next)
				nd := clinicalChangeDoc(c, false)
				if _, err := r.records.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "delta", Value: bson.D{{Key: "$ne", Value: true}}}},
					bson.D{{Key: "$set", Value: bson.D{{Key: "events", Value: nd.Events}, {Key: "notes", Value: nd.Notes}, {Key: "delta", Value: true}}}}); err != nil {
					return n, storeError(err, "clinical record")
				}
				n++
			}
			prev = next
		}
	}
	return n, nil
}

// AuditProjected implements chart.Store.
func (r *ClinicalRepo) AuditProjected(ctx context.Context, patientID string, version int64) error {
	return clearPending(ctx, r.records, revisionID(patientID, version))
}

type procedureDoc struct {
	Code             string `bson:"_id"`
	NameKo           string `bson:"name_ko"`
	NameEn           string `bson:"name_en"`
	Category         int32  `bson:"category"`
	Fee              int64  `bson:"fee"`
	Insured          bool   `bson:"insured"`
	RequiresTooth    bool   `bson:"requires_tooth"`
	RequiresSurfaces bool   `bson:"requires_surfaces"`
	Active           bool   `bson:"active"`
}

// List implements chart.Catalog.
func (r *ClinicalRepo) List(ctx context.Context) ([]*molarv1.Procedure, error) {
	return findAll(ctx, r.catalog, bson.D{}, "procedures", func(d procedureDoc) *molarv1.Procedure {
		return &molarv1.Procedure{Code: d.Code, NameKo: d.NameKo, NameEn: d.NameEn, Category: molarv1.ProcedureCategory(d.Category), Fee: d.Fee,
			Insured: d.Insured, RequiresTooth: d.RequiresTooth, RequiresSurfaces: d.RequiresSurfaces, Active: d.Active}
	})
}

// catalogChangeDoc is one committed change to the catalog.
type catalogChangeDoc struct {
	ID           string           `bson:"_id"`
	Code         string           `bson:"code"`
	Procedure    procedureDoc     `bson:"procedure"`
	Audit        *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending bool             `bson:"audit_pending,omitempty"`
}

// Save implements chart.Catalog. The insert of the change document is the
// commit; the procedure document follows it (last change wins, as before).
func (r *ClinicalRepo) Save(ctx context.Context, p *molarv1.Procedure, ev audit.Event) error {
	if ev.ID == "" {
		return errors.New("procedure: a catalog change needs its audit event")
	}
	d := procedureDoc{Code: p.GetCode(), NameKo: p.GetNameKo(), NameEn: p.GetNameEn(), Category: int32(p.GetCategory()), Fee: p.GetFee(),
		Insured: p.GetInsured(), RequiresTooth: p.GetRequiresTooth(), RequiresSurfaces: p.GetRequiresSurfaces(), Active: p.GetActive()}
	change := catalogChangeDoc{ID: ev.ID, Code: d.Code, Procedure: d}
	change.Audit, change.AuditPending = carriedAudit(ev)
	if _, err := r.catalogChanges.InsertOne(ctx, change); err != nil {
		return storeError(err, "procedure")
	}
	// Committed: the change stands even if this write fails; the procedure
	// catches up when the mark is cleared, or at recovery.
	_, _ = r.catalog.ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.Code}}, d, options.Replace().SetUpsert(true))
	return nil
}

// CatalogAuditProjected implements chart.Catalog. The procedure document is
// brought up to the newest change of its code first, so that the mark stays
// on a change whose last step failed until recovery finishes it.
func (r *ClinicalRepo) CatalogAuditProjected(ctx context.Context, eventID string) error {
	var change catalogChangeDoc
	if err := r.catalogChanges.FindOne(ctx, bson.D{{Key: "_id", Value: eventID}}).Decode(&change); err != nil {
		return storeError(err, "procedure change")
	}
	if err := r.applyNewestChange(ctx, change.Code); err != nil {
		return err
	}
	return clearPending(ctx, r.catalogChanges, eventID)
}

// applyNewestChange writes the newest committed change of code (event ids
// are time-ordered) to the procedure document.
func (r *ClinicalRepo) applyNewestChange(ctx context.Context, code string) error {
	var newest catalogChangeDoc
	err := r.catalogChanges.FindOne(ctx, bson.D{{Key: "code", Value: code}}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&newest)
	if err != nil {
		return storeError(err, "procedure change")
	}
	_, err = r.catalog.ReplaceOne(ctx, bson.D{{Key: "_id", Value: code}}, newest.Procedure, options.Replace().SetUpsert(true))
	if err != nil && !driver.IsDuplicateKeyError(err) {
		return storeError(err, "procedure")
	}
	return nil
}

// ReprojectAudit projects the audit events of every clinical record version
// and catalog change still marked pending (the process stopped between
// commit and projection); a catalog change's procedure is brought up to date
// first.
func (r *ClinicalRepo) ReprojectAudit(ctx context.Context, project func(audit.Event) error) error {
	errRecords := reprojectPending(ctx, r.records, project, nil)
	errCatalog := reprojectPending(ctx, r.catalogChanges, project, func(p pendingDoc) error {
		var change catalogChangeDoc
		if err := bson.Unmarshal(p.Raw, &change); err != nil {
			return storeError(err, "procedure change")
		}
		return r.applyNewestChange(ctx, change.Code)
	})
	return errors.Join(errRecords, errCatalog)
}

// InsertMany stores clinical records in bulk (demo charts, or the newest
// versions moved from another engine) at their versions, each whole.
func (r *ClinicalRepo) InsertMany(ctx context.Context, recs []chart.Record) error {
	const batch = 500
	for start := 0; start < len(recs); start += batch {
		end := min(start+batch, len(recs))
		var docs []any
		for _, rec := range recs[start:end] {
			docs = append(docs, clinicalChangeDoc(rec.Whole(), true))
		}
		if _, err := r.records.InsertMany(ctx, docs); err != nil {
			return storeError(err, "clinical records")
		}
	}
	return nil
}
