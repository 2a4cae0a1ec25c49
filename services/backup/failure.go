package backup

import (
	"errors"
	"io/fs"
	"syscall"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Failure is a backup that failed for a reason the owner is told in their
// language; Err says it in detail.
type Failure struct {
	Reason molarv1.BackupFailure
	Err    error
}

func (f *Failure) Error() string { return f.Err.Error() }

func (f *Failure) Unwrap() error { return f.Err }

// ReasonOf classifies the error a backup ended with: a full disk wherever
// it happened, else the reason a Failure gives, else a file that could
// not be written for want of permission, else OTHER. Unspecified for nil.
func ReasonOf(err error) molarv1.BackupFailure {
	var f *Failure
	switch {
	case err == nil:
		return molarv1.BackupFailure_BACKUP_FAILURE_UNSPECIFIED
	case errors.Is(err, syscall.ENOSPC):
		return molarv1.BackupFailure_BACKUP_FAILURE_NO_SPACE
	case errors.As(err, &f):
		return f.Reason
	case errors.Is(err, fs.ErrPermission):
		return molarv1.BackupFailure_BACKUP_FAILURE_STORAGE
	}
	return molarv1.BackupFailure_BACKUP_FAILURE_OTHER
}
