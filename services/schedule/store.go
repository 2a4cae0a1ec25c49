// Package schedule is the appointment book: resources, conflict-free
// booking, the status flow of a visit, and a live feed of every change.
package schedule

import (
	"context"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Event is one change to the book, numbered by the schedule revision. It
// carries the whole appointment or blockout as it is after the change.
type Event struct {
	Revision    int64
	Appointment *molarv1.Appointment
	Blockout    *molarv1.Blockout
}

// Slot is one 5-minute cell of one provider's or chair's column.
type Slot struct {
	// Day is the cell's date in the clinic's time zone (YYYY-MM-DD).
	Day string
	// Key is "p|<provider id>|<unix minutes>" or "c|<chair id>|<unix minutes>".
	Key string
}

// Store keeps the book.
type Store interface {
	// ClaimSlots takes slots for owner (an appointment or blockout id), in
	// the order given. It stops at the first slot held by someone else,
	// releases what it took, and returns a Conflict naming the holder.
	// Slots owner already holds are skipped.
	ClaimSlots(ctx context.Context, owner string, slots []Slot) error
	// ReleaseSlots gives up slots owner holds.
	ReleaseSlots(ctx context.Context, owner string, slots []Slot) error
	// ClaimVersion takes version v of an appointment or blockout. Atomic:
	// AlreadyExists if someone else took it first.
	ClaimVersion(ctx context.Context, id string, v int64) error
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
	// SaveAppointment stores the appointment as of its revision (the event
	// log is the authority; this is the durable copy loaded at start).
	SaveAppointment(ctx context.Context, a *molarv1.Appointment) error
	// SaveBlockout stores a blockout likewise.
	SaveBlockout(ctx context.Context, b *molarv1.Blockout) error
	// LoadAll returns every stored appointment and live blockout.
	LoadAll(ctx context.Context) ([]*molarv1.Appointment, []*molarv1.Blockout, error)

	// Resources returns providers, chairs and appointment types.
	Resources(ctx context.Context) ([]*molarv1.Provider, []*molarv1.Chair, []*molarv1.AppointmentType, error)
	// SaveProvider, SaveChair and SaveType create or replace by id.
	SaveProvider(ctx context.Context, p *molarv1.Provider) error
	SaveChair(ctx context.Context, c *molarv1.Chair) error
	SaveType(ctx context.Context, t *molarv1.AppointmentType) error
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
func slotsOf(kind, id string, start time.Time, minutes int32, loc *time.Location) []Slot {
	var out []Slot
	for m := int32(0); m < minutes; m += GridMinutes {
		t := start.Add(time.Duration(m) * time.Minute)
		out = append(out, Slot{Day: t.In(loc).Format(time.DateOnly), Key: kind + "|" + id + "|" + itoa(t.Unix()/60)})
	}
	return out
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
