// Package schedule is the appointment book: resources, conflict-free
// booking, the status flow of a visit, and a live feed of every change.
package schedule

import (
	"cmp"
	"context"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
)

// Event is one change to the book, numbered by the schedule revision. It
// carries the whole appointment or blockout as it is after the change, and
// the audit record of the change: storing the event is the change's one
// commit point.
type Event struct {
	Revision    int64
	Appointment *molarv1.Appointment
	Blockout    *molarv1.Blockout
	// Op names the operation that made the change, so that a writer whose
	// commit answer was lost can tell whether its change is in.
	Op string
	// Audit is the change's stamped audit record, projected onto the trail
	// after the commit and again by Recover; zero ID if none.
	Audit audit.Event
}

// Slot is one 5-minute cell of one provider's or chair's column.
type Slot struct {
	// Day is the cell's date in the clinic's time zone (YYYY-MM-DD); the
	// store keeps each day's cells together.
	Day string
	// Kind says whether the column is a provider's or a chair's.
	Kind molarv1.ResourceKind
	// Resource is the provider's or chair's id.
	Resource string
	// Minute is the cell's start in minutes since the Unix epoch.
	Minute int64
}

// Time is the cell's start.
func (s Slot) Time() time.Time { return time.Unix(s.Minute*60, 0) }

// compareSlots is the one global order cells are claimed in, so that of any
// number of overlapping claims racing the first to take the first contested
// cell wins.
func compareSlots(a, b Slot) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Minute, b.Minute))
}

// Claim names the operation that holds cells: the appointment, the attempt
// (a fresh id per attempt) and the version that attempt would commit. A
// claim counts only while the appointment's committed state covers the cell,
// or, before its operation commits, for the lease after At.
type Claim struct {
	Owner   string
	Op      string
	Version int64
	At      time.Time
}

// Holding is a claim found on a cell.
type Holding struct {
	Slot  Slot
	Claim Claim
}

// Hold is what a claimer makes of a claim it finds on a cell it wants.
type Hold int

// The verdicts on a claim in the way.
const (
	// HeldByOther: the claim counts; the cell is not free.
	HeldByOther Hold = iota
	// HeldByMe: the cell is the claimer's already (its own operation, or its
	// appointment's committed time); keep it as it is.
	HeldByMe
	// HeldByNobody: the claim no longer counts; the cell may be taken over.
	HeldByNobody
)

// Release says which claims to give up.
type Release struct {
	Owner string
	// Op, if set, limits the release to the cells that operation took.
	Op string
	// UpTo, if set, limits it to claims for versions up to UpTo, so that a
	// change never gives up cells a later change of the same appointment
	// has taken.
	UpTo int64
	// At dates the release, so that a releaser that vanished can be swept.
	At time.Time
}

// ConflictError says which cell is held, and by which claim.
type ConflictError struct {
	Slot   Slot
	Holder Claim
}

func (e *ConflictError) Error() string {
	return "cell " + e.Slot.Day + " " + e.Slot.Resource + " is held by " + e.Holder.Owner
}

// Store keeps the book. Its only atomic step is an insert against a unique
// key: the event of the next revision commits a change, and each cell is one
// such key.
type Store interface {
	// ClaimSlots takes slots for c, in the order given. For a cell someone
	// holds it asks judge: it keeps the cell (HeldByMe), takes it over
	// (HeldByNobody), or stops, gives back what it took and returns a
	// *ConflictError naming the holder (HeldByOther).
	ClaimSlots(ctx context.Context, c Claim, slots []Slot, judge func(Holding) Hold) error
	// ReleaseSlots gives up the cells among slots whose claims r selects. A
	// claim is released by one releaser only: if someone else is releasing
	// it, it is left to them.
	ReleaseSlots(ctx context.Context, r Release, slots []Slot) error
	// Holdings lists every claimed cell of the days from fromDay on
	// (YYYY-MM-DD; "" for all).
	Holdings(ctx context.Context, fromDay string) ([]Holding, error)
	// SweepReleases finishes releases begun before the given time whose
	// releaser vanished, and forgets finished ones.
	SweepReleases(ctx context.Context, before time.Time) error
	// AppendEvent stores e under the revision e.Revision. Atomic:
	// AlreadyExists if that revision is taken.
	AppendEvent(ctx context.Context, e Event) error
	// Event returns the event of a revision. NotFound if there is none (yet,
	// or any more).
	Event(ctx context.Context, revision int64) (Event, error)
	// LastRevision returns the highest revision stored, 0 if none.
	LastRevision(ctx context.Context) (int64, error)
	// OldestRevision returns the lowest revision still stored, 0 if none.
	OldestRevision(ctx context.Context) (int64, error)
	// PruneEvents drops events below revision.
	PruneEvents(ctx context.Context, below int64) error
	// AuditMark returns the revision up to which the audit records of the
	// log are known to be on the trail, 0 if none.
	AuditMark(ctx context.Context) (int64, error)
	// SetAuditMark records that mark (it never goes back).
	SetAuditMark(ctx context.Context, rev int64) error
	// SaveAppointment stores the appointment as of its revision (the event
	// log is the authority; this is the durable copy loaded at start).
	SaveAppointment(ctx context.Context, a *molarv1.Appointment) error
	// SaveBlockout stores a blockout likewise.
	SaveBlockout(ctx context.Context, b *molarv1.Blockout) error
	// Range returns the stored appointments and live blockouts that start
	// in [from, to), by start (a zero from or to leaves that end open).
	Range(ctx context.Context, from, to time.Time) ([]*molarv1.Appointment, []*molarv1.Blockout, error)
	// Appointment returns the stored copy of one appointment; NotFound if
	// there is none.
	Appointment(ctx context.Context, id string) (*molarv1.Appointment, error)
	// Blockout returns the stored copy of one blockout, removed or not;
	// NotFound if there is none.
	Blockout(ctx context.Context, id string) (*molarv1.Blockout, error)
	// PatientAppointments returns the stored copies of a patient's
	// appointments, by start.
	PatientAppointments(ctx context.Context, patientID string) ([]*molarv1.Appointment, error)

	// Resources returns providers, chairs and appointment types.
	Resources(ctx context.Context) ([]*molarv1.Provider, []*molarv1.Chair, []*molarv1.AppointmentType, error)
	// SaveProvider, SaveChair and SaveType create or replace by id, in one
	// write with the change's audit record (none if rec has no id); on an
	// engine that projects the record afterwards, the write marks it pending
	// until then.
	SaveProvider(ctx context.Context, p *molarv1.Provider, rec audit.Event) error
	SaveChair(ctx context.Context, c *molarv1.Chair, rec audit.Event) error
	SaveType(ctx context.Context, t *molarv1.AppointmentType, rec audit.Event) error
}

// Clinic gives the clinic's time zone and opening hours.
type Clinic interface {
	Get(ctx context.Context) (*molarv1.Clinic, error)
}

// Patients names patients for the book.
type Patients interface {
	// Label returns a patient's name and chart number; NotFound if unknown.
	Label(ctx context.Context, id string) (string, int64, error)
}

// GridMinutes is the grid of the book.
const GridMinutes = 5

// slotsOf lists the cells an interval covers in a column.
func slotsOf(kind molarv1.ResourceKind, id string, start time.Time, minutes int32, loc *time.Location) []Slot {
	var out []Slot
	for m := int32(0); m < minutes; m += GridMinutes {
		t := start.Add(time.Duration(m) * time.Minute)
		out = append(out, Slot{Day: t.In(loc).Format(time.DateOnly), Kind: kind, Resource: id, Minute: t.Unix() / 60})
	}
	return out
}
