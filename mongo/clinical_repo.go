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
	// clinicalHeadCollection remembers roughly where each patient's newest
	// version is, so finding it takes a lookup or two rather than a scan.
	clinicalHeadCollection = "clinical_heads"
	catalogCollection      = "procedures"
	// catalogChangeCollection has one document per change to the catalog,
	// keyed by the id of its audit event: inserting it commits the change,
	// and the procedure in catalogCollection follows it.
	catalogChangeCollection = "procedure_changes"
)

// ClinicalRepo stores clinical records and the catalog.
type ClinicalRepo struct {
	records, heads, catalog, catalogChanges *driver.Collection
}

var (
	_ chart.Store   = (*ClinicalRepo)(nil)
	_ chart.Catalog = (*ClinicalRepo)(nil)
)

// NewClinicalRepo returns a ClinicalRepo on db.
func NewClinicalRepo(db *DB) *ClinicalRepo {
	return &ClinicalRepo{records: db.Database.Collection(clinicalCollection), heads: db.Database.Collection(clinicalHeadCollection),
		catalog: db.Database.Collection(catalogCollection), catalogChanges: db.Database.Collection(catalogChangeCollection)}
}

// ClinicalIndexes are the indexes ClinicalRepo needs beyond _id: the ones
// recovery finds pending changes with, and a catalog change's procedure.
func ClinicalIndexes() []Index {
	return []Index{
		pendingIndex(clinicalCollection),
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
	ID           string           `bson:"_id"`
	PatientID    string           `bson:"patient_id"`
	Version      int64            `bson:"version"`
	Events       []eventDoc       `bson:"events"`
	Notes        []noteDoc        `bson:"notes"`
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

// Latest implements chart.Store.
func (r *ClinicalRepo) Latest(ctx context.Context, patientID string, hint int64) (chart.Record, error) {
	var head struct {
		Version int64 `bson:"version"`
	}
	if err := r.heads.FindOne(ctx, bson.D{{Key: "_id", Value: patientID}}).Decode(&head); err != nil && err != driver.ErrNoDocuments {
		return chart.Record{}, storeError(err, "clinical record")
	}
	v := max(hint, head.Version)
	best := chart.Record{PatientID: patientID}
	if v > 0 {
		var d clinicalDoc
		if err := r.records.FindOne(ctx, bson.D{{Key: "_id", Value: revisionID(patientID, v)}}).Decode(&d); err != nil {
			return chart.Record{}, storeError(err, "clinical record")
		}
		best = d.record()
	}
	// The head may lag a version or two behind a writer: look ahead.
	for {
		var d clinicalDoc
		err := r.records.FindOne(ctx, bson.D{{Key: "_id", Value: revisionID(patientID, best.Version+1)}}).Decode(&d)
		if err == driver.ErrNoDocuments {
			return best, nil
		}
		if err != nil {
			return chart.Record{}, storeError(err, "clinical record")
		}
		best = d.record()
	}
}

// Insert implements chart.Store. The insert of the version is the commit;
// the head only speeds up finding it.
func (r *ClinicalRepo) Insert(ctx context.Context, rec chart.Record, ev audit.Event) error {
	d := clinicalDocOf(rec)
	d.Audit, d.AuditPending = carriedAudit(ev)
	if _, err := r.records.InsertOne(ctx, d); err != nil {
		return storeError(err, "clinical record")
	}
	// Committed: a head that fails to move only makes Latest look further.
	_, _ = r.heads.UpdateOne(ctx, bson.D{{Key: "_id", Value: rec.PatientID}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "version", Value: rec.Version}}}}, options.UpdateOne().SetUpsert(true))
	return nil
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

// InsertMany stores first versions of clinical records in bulk.
func (r *ClinicalRepo) InsertMany(ctx context.Context, recs []chart.Record) error {
	const batch = 500
	for start := 0; start < len(recs); start += batch {
		end := min(start+batch, len(recs))
		var docs, heads []any
		for _, rec := range recs[start:end] {
			docs = append(docs, clinicalDocOf(rec))
			heads = append(heads, bson.D{{Key: "_id", Value: rec.PatientID}, {Key: "version", Value: rec.Version}})
		}
		if _, err := r.records.InsertMany(ctx, docs); err != nil {
			return storeError(err, "clinical records")
		}
		if _, err := r.heads.InsertMany(ctx, heads); err != nil {
			return storeError(err, "clinical heads")
		}
	}
	return nil
}
