package chart

import (
	"context"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
)

// Store keeps versions of clinical records.
type Store interface {
	// Latest returns a patient's newest version: every stored Change
	// applied in order. A patient with nothing charted has an empty Record
	// at version 0.
	Latest(ctx context.Context, patientID string) (Record, error)
	// Insert stores c as version c.Version of its patient's record. Atomic:
	// AlreadyExists if that version exists, meaning someone else saved
	// first, and then nothing changed. The insert carries ev, marked pending
	// until AuditProjected.
	Insert(ctx context.Context, c Change, ev audit.Event) error
	// AuditProjected clears the pending mark of the event committed with
	// version of patientID's record, once it is in the trail.
	AuditProjected(ctx context.Context, patientID string, version int64) error
}

// Catalog keeps the procedure catalog.
type Catalog interface {
	// List returns every procedure.
	List(ctx context.Context) ([]*molarv1.Procedure, error)
	// Save creates or replaces a procedure by code. The one insert that
	// commits the change carries ev (required: its id keys the change),
	// marked pending until CatalogAuditProjected.
	Save(ctx context.Context, p *molarv1.Procedure, ev audit.Event) error
	// CatalogAuditProjected clears the pending mark of the catalog change
	// that carried the event eventID, once it is in the trail.
	CatalogAuditProjected(ctx context.Context, eventID string) error
}

// Patients tells whether a patient exists.
type Patients interface {
	// Exists returns NotFound for an unknown patient.
	Exists(ctx context.Context, id string) error
}

// Changes announces changes to every server process.
type Changes interface {
	// Publish records that the thing of kind and key is now at rev.
	Publish(ctx context.Context, kind, key string, rev int64) error
}

// Change kinds this package publishes.
const (
	ChangeKindRecord  = "clinical"
	ChangeKindCatalog = "catalog"
)
