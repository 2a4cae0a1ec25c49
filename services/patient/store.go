package patient

import (
	"context"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
)

// Record is a patient as stored. Details never carry the registration
// number; it is only ever stored sealed.
type Record struct {
	ID                 string
	ChartNumber        int64
	Details            *molarv1.PatientInput
	RRNKeyID           string
	RRNSealed          []byte
	RRNMasked          string
	Active             bool
	DeactivationReason string
	Created            time.Time
	Updated            time.Time
	Version            int64
}

// Store keeps patient records.
type Store interface {
	// MaxChartNumber returns the highest chart number given, 0 if none.
	MaxChartNumber(ctx context.Context) (int64, error)
	// Create stores a new record at Version 1 under the next free chart
	// number and returns it with that number (r.ChartNumber is not read):
	// of concurrent creates each gets a number of its own. The one insert
	// that commits it carries ev, marked pending until AuditProjected.
	// AlreadyExists if the id is taken.
	Create(ctx context.Context, r Record, ev audit.Event) (Record, error)
	// Get returns the newest committed version of a record. NotFound if there
	// is none.
	Get(ctx context.Context, id string) (Record, error)
	// Save stores r as version r.Version+1 if the stored version is r.Version,
	// keeping the earlier version; Aborted if someone saved in between, and
	// then nothing changed. The one insert that commits the version carries
	// ev, marked pending until AuditProjected. A save never moves a record
	// back to an older version.
	Save(ctx context.Context, r Record, ev audit.Event) (Record, error)
	// AuditProjected clears the pending mark of the event committed with
	// version of record id, once it is in the trail.
	AuditProjected(ctx context.Context, id string, version int64) error
	// All returns every record.
	All(ctx context.Context) ([]Record, error)
}

// Changes announces changes to every server process.
type Changes interface {
	// Publish records that the thing of kind and key is now at rev.
	Publish(ctx context.Context, kind, key string, rev int64) error
}

// ChangeKind is the kind of change record patients publish.
const ChangeKind = "patient"
