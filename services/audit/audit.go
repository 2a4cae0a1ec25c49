// Package audit keeps the append-only audit trail: who did what, when, from
// where, to which record.
package audit

import (
	"context"
	"log/slog"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
)

// Event is one entry of the trail.
type Event struct {
	ID         string
	Time       time.Time
	Action     molarv1.AuditAction
	ActorID    string
	ActorEmail string
	IP         string
	TargetType string
	TargetID   string
	Detail     string
	RequestID  string
}

// Filter selects events; zero fields select everything.
type Filter struct {
	ActorID  string
	TargetID string
	Actions  []molarv1.AuditAction
	Start    time.Time
	End      time.Time
}

// Store keeps events. It only ever appends.
type Store interface {
	// Append stores e; e.ID and e.Time are set by the caller. Appending an
	// event whose ID is stored already changes nothing and succeeds, so an
	// event carried inside a committed change can be appended again after a
	// crash.
	Append(ctx context.Context, e Event) error
	// List returns up to limit events matching f, newest first, strictly
	// older than the position after (empty: from the newest), and the
	// position of the last one returned if more may follow.
	List(ctx context.Context, f Filter, after string, limit int) ([]Event, string, error)
}

// Recorder writes events, filling in who, when and from where from the
// request context.
type Recorder struct {
	store  Store
	now    func() time.Time
	newID  func() string
	logger *slog.Logger
}

// NewRecorder returns a Recorder over store.
func NewRecorder(store Store, now func() time.Time, newID func() string, logger *slog.Logger) *Recorder {
	return &Recorder{store: store, now: now, newID: newID, logger: logger}
}

// Record appends an event for the request in ctx. A failure to record is
// returned: callers decide whether the action may stand without its record
// (security events and reads of records are recorded before the answer is
// sent). A change to data does not use Record: it carries its event inside
// its own commit (Stamp) and projects it afterwards (Project).
func (r *Recorder) Record(ctx context.Context, e Event) error {
	return r.append(ctx, r.Stamp(ctx, e))
}

// Stamp fills in the event's id, time, actor, address and request id from
// the request in ctx, ready to be stored inside the change it records.
func (r *Recorder) Stamp(ctx context.Context, e Event) Event {
	e.ID = r.newID()
	e.Time = r.now()
	peer := services.PeerFrom(ctx)
	if e.IP == "" {
		e.IP = peer.IP
	}
	if p := services.PrincipalFrom(ctx); p != nil && e.ActorID == "" {
		e.ActorID, e.ActorEmail = p.StaffID, p.Email
	}
	e.RequestID = services.RequestID(ctx)
	return e
}

// Project appends stamped events that were committed inside a change. It
// is idempotent, and a failure is logged, not returned: the change stands
// whatever happens here, and the store that committed it projects its
// events again when it recovers.
func (r *Recorder) Project(ctx context.Context, events ...Event) error {
	var first error
	for _, e := range events {
		if e.ID == "" {
			continue
		}
		if err := r.append(ctx, e); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (r *Recorder) append(ctx context.Context, e Event) error {
	if err := r.store.Append(context.WithoutCancel(ctx), e); err != nil {
		r.logger.ErrorContext(ctx, "audit event not recorded", "action", e.Action.String(), "request_id", e.RequestID, "error", err.Error())
		return err
	}
	return nil
}
