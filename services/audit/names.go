package audit

import "context"

// Names tells who and what ids stand for, so the trail reads as people
// read it: a staff member's name, a patient's name and chart number.
type Names interface {
	// StaffName returns the display name of a staff account; false if
	// there is none.
	StaffName(ctx context.Context, id string) (string, bool)
	// Patient returns a patient's name and chart number; false if there is
	// none.
	Patient(ctx context.Context, id string) (string, int64, bool)
}
