package backup

import (
	"context"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Run is one backup and how it ended.
type Run struct {
	ID      string
	Trigger molarv1.BackupTrigger
	// Engine is the database engine copied.
	Engine string
	// Start is when it started; the database was copied as of a point at or
	// after it. End is when it ended.
	Start, End time.Time
	// File is the archive's name (its base name, without the directory).
	File string
	// Size is the archive's size in bytes.
	Size   int64
	Images int
	// Failure is why it failed; unspecified if it succeeded.
	Failure molarv1.BackupFailure
	Error   string
}

// OK reports whether the run succeeded.
func (r Run) OK() bool { return r.Failure == molarv1.BackupFailure_BACKUP_FAILURE_UNSPECIFIED }

// Store keeps the record of every backup, in the clinic's database, so that
// every server process shows the same ones.
type Store interface {
	// Add records a run: one insert, its commit point. AlreadyExists if a
	// run of that id is recorded.
	Add(ctx context.Context, r Run) error
	// Recent returns up to limit runs, the newest start first.
	Recent(ctx context.Context, limit int) ([]Run, error)
	// LastSuccess returns the newest run that succeeded; NotFound if none did.
	LastSuccess(ctx context.Context) (Run, error)
}
