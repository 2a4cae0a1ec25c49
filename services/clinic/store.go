package clinic

import (
	"context"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
)

// Store keeps the one clinic profile.
type Store interface {
	// Get returns the stored profile, or an error with code NotFound if the
	// clinic has never been saved.
	Get(ctx context.Context) (*molarv1.Clinic, error)
	// Save stores c if the stored version still equals c.Version (0: nothing
	// stored yet) and returns it with the version incremented. If the stored
	// version differs it returns an error with code Aborted and changes nothing.
	// The one insert that commits the version carries ev (none if ev.ID is
	// empty), marked pending until AuditProjected.
	Save(ctx context.Context, c *molarv1.Clinic, ev audit.Event) (*molarv1.Clinic, error)
	// AuditProjected clears the pending mark of the event committed with
	// version, once it is in the trail.
	AuditProjected(ctx context.Context, version int64) error
}
