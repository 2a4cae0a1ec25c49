package schedule

import (
	"context"
	"errors"
	"slices"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
)

// How a change is made. The engine's one atomic step is an insert against a
// unique key, so each change has exactly one: the event of the next schedule
// revision, which carries the new state and the change's audit record. If
// the process dies before that insert, nothing happened; after it, all of it
// did, and the rest (the durable copy, the audit trail, giving back cells)
// is derived and redone by Recover.
//
// Cells are claimed before the commit, in one global order, each by an
// insert keyed by its column and time. A claim names the appointment and the
// operation (a fresh id and the version it would commit), and counts only
// while the appointment's committed state covers the cell, or, before its
// operation has committed, for a lease after it was taken. A commit is only
// attempted well inside the lease, so a claim whose lease ran out belongs to
// an operation that never committed: anyone may take the cell over, and
// Recover frees it. There is no version claim: the next version is derived
// from the committed event, and only one event per revision can exist.

// DefaultLease is how long cells taken by an operation that has not
// committed hold against others.
const DefaultLease = 30 * time.Second

// uncertainError is a commit whose outcome is unknown (the database did not
// answer). Cells the operation took are left to the lease: if the commit is
// in, they count; if not, they expire.
type uncertainError struct{ error }

func (e uncertainError) Unwrap() error { return e.error }

func uncertain(err error) bool {
	var u uncertainError
	return errors.As(err, &u)
}

// commit stores the change build describes as the next revision: the one
// commit point of every change. build runs against the book as it is at
// that revision and checks the rules that depend on the current state
// (versions, status); it runs again whenever another change took the
// revision first. The commit does not follow the request's cancellation: a
// client that goes away must not leave the outcome unknown.
func (s *Service) commit(ctx context.Context, op string, build func() (Event, error)) (Event, error) {
	asked := ctx // its deadline bounds the waits between tries
	ctx = context.WithoutCancel(ctx)
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	failures := 0
	wait := services.NewContention()
	for range 100 {
		rev := s.book.Revision() + 1
		e, err := build()
		if err != nil {
			return Event{}, err
		}
		e.Revision, e.Op = rev, op
		if e.Appointment != nil {
			e.Appointment.Revision = rev
		}
		if e.Blockout != nil {
			e.Blockout.Revision = rev
		}
		err = s.store.AppendEvent(ctx, e)
		if err == nil {
			s.book.apply(e)
			return e, nil
		}
		// Taken, or no answer: look at what that revision holds.
		got, rerr := s.store.Event(ctx, rev)
		switch {
		case rerr == nil && got.Op == op:
			s.book.apply(got)
			return got, nil
		case rerr == nil:
			// Another process's change won this revision: nothing of this
			// one is stored, so it may give up if the caller has.
			if !wait.Wait(asked) {
				return Event{}, busy()
			}
			s.catchUp(ctx)
			continue
		case services.ErrorCode(rerr) == services.NotFound && services.ErrorCode(err) != services.AlreadyExists:
			failures++
			if failures < 3 {
				continue // not in: insert it again
			}
		}
		return Event{}, uncertainError{errors.Join(err, rerr)}
	}
	return Event{}, busy()
}

// after does what follows a commit: the durable copy and the audit trail. Nothing here can fail the change.
func (s *Service) after(ctx context.Context, e Event) {
	ctx = context.WithoutCancel(ctx)
	if e.Appointment != nil {
		if err := s.store.SaveAppointment(ctx, e.Appointment); err != nil {
			s.logger.Warn("appointment copy not saved; the log has it", "appointment", e.Appointment.GetId(), "error", err.Error())
		}
	}
	if e.Blockout != nil {
		if err := s.store.SaveBlockout(ctx, e.Blockout); err != nil {
			s.logger.Warn("blockout copy not saved; the log has it", "blockout", e.Blockout.GetId(), "error", err.Error())
		}
	}
	_ = s.audit.Project(ctx, e.Audit) // logged by the recorder; Recover projects it again
}

// claim takes cells for an operation, taking over cells whose claims no
// longer count. A conflict becomes the Problem a receptionist reads.
func (s *Service) claim(ctx context.Context, c Claim, slots []Slot) error {
	caughtUp := false
	judge := func(h Holding) Hold {
		if h.Claim.Owner == c.Owner && h.Claim.Op == c.Op {
			return HeldByMe
		}
		now := s.now()
		if s.own(ctx, c.Owner, h) {
			return HeldByMe
		}
		if s.counts(ctx, h, now) {
			return HeldByOther
		}
		// Before taking a cell over, make sure the book is not merely behind
		// a commit made elsewhere.
		if !caughtUp {
			caughtUp = true
			s.catchUp(ctx)
		}
		switch {
		case s.own(ctx, c.Owner, h):
			return HeldByMe
		case s.counts(ctx, h, now):
			return HeldByOther
		}
		return HeldByNobody
	}
	err := s.store.ClaimSlots(ctx, c, slots, judge)
	var ce *ConflictError
	switch {
	case errors.As(err, &ce) && ce.Holder.Owner == c.Owner:
		return stale() // another change of the same appointment is under way
	case errors.As(err, &ce):
		return s.slotTaken(ctx, ce)
	case err != nil:
		s.release(ctx, Release{Owner: c.Owner, Op: c.Op}, slots)
	}
	return err
}

// own reports whether a claim holds a cell of owner's committed time.
func (s *Service) own(ctx context.Context, owner string, h Holding) bool {
	if h.Claim.Owner != owner {
		return false
	}
	a, err := s.appointment(ctx, owner)
	return err == nil && holdsCells(a.GetStatus()) && covers(a, h.Slot)
}

// release gives back cells; a failure is logged, and the cells are freed by
// Recover once their claims stop counting.
func (s *Service) release(ctx context.Context, r Release, slots []Slot) {
	if len(slots) == 0 {
		return
	}
	r.At = s.now()
	if err := s.store.ReleaseSlots(context.WithoutCancel(ctx), r, slots); err != nil {
		s.logger.Warn("cells not released; recovery frees them", "appointment", r.Owner, "error", err.Error())
	}
}

// inLease refuses to commit an operation whose claims are near the end of
// their lease: past it, others may take its cells.
func (s *Service) inLease(c Claim) error {
	if s.now().Sub(c.At) > s.lease/2 {
		return busy()
	}
	return nil
}

// counts reports whether a claim on a cell still holds: the appointment's
// committed state covers the cell, or the claim's operation has not
// committed and its lease runs.
func (s *Service) counts(ctx context.Context, h Holding, now time.Time) bool {
	a, err := s.appointment(ctx, h.Claim.Owner)
	if err != nil && services.ErrorCode(err) != services.NotFound {
		return true // unknown: keep the cell rather than take it from a booking
	}
	if err == nil {
		if holdsCells(a.GetStatus()) && covers(a, h.Slot) {
			return true
		}
		if h.Claim.Version <= a.GetVersion() {
			return false // its operation is over: committed elsewhere, or beaten
		}
	}
	return now.Before(h.Claim.At.Add(s.lease))
}

// covers reports whether an appointment's time includes a cell.
func covers(a *molarv1.Appointment, c Slot) bool {
	switch c.Kind {
	case molarv1.ResourceKind_RESOURCE_KIND_PROVIDER:
		if a.GetProviderId() != c.Resource {
			return false
		}
	case molarv1.ResourceKind_RESOURCE_KIND_CHAIR:
		if a.GetChairId() != c.Resource {
			return false
		}
	default:
		return false
	}
	start := a.GetStartTime().AsTime().Unix() / 60
	return c.Minute >= start && c.Minute < start+int64(a.GetMinutes())
}

// Recover makes good what interrupted operations left behind: it frees cells
// whose claims no longer count, finishes releases whose releaser vanished,
// and redoes the durable copies and audit records of committed changes
// whose writer stopped short. Run it at start; Follow runs it every minute.
func (s *Service) Recover(ctx context.Context) error {
	s.catchUp(ctx)
	now := s.now()
	var errs []error
	// Cells of past days block nobody; claims there are taken over when met.
	hs, err := s.store.Holdings(ctx, now.In(s.loc).AddDate(0, 0, -1).Format(time.DateOnly))
	if err != nil {
		errs = append(errs, err)
	}
	for _, h := range hs {
		if s.counts(ctx, h, now) {
			continue
		}
		if err := s.store.ReleaseSlots(ctx, Release{Owner: h.Claim.Owner, Op: h.Claim.Op, At: now}, []Slot{h.Slot}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.store.SweepReleases(ctx, now.Add(-s.lease)); err != nil {
		errs = append(errs, err)
	}
	if err := s.project(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// project redoes what follows each commit since the mark (the book
// remembers those events): the durable copy and the audit record, both
// idempotent. Then it moves the mark; the log is never pruned past it.
func (s *Service) project(ctx context.Context) error {
	mark, err := s.store.AuditMark(ctx)
	if err != nil {
		return err
	}
	events := s.book.since(mark)
	for i, e := range events {
		err := s.audit.Project(ctx, e.Audit)
		if err == nil && e.Appointment != nil {
			err = s.store.SaveAppointment(ctx, e.Appointment)
		}
		if err == nil && e.Blockout != nil {
			err = s.store.SaveBlockout(ctx, e.Blockout)
		}
		if err != nil {
			if i > 0 {
				_ = s.store.SetAuditMark(ctx, events[i-1].Revision)
			}
			return err
		}
	}
	if len(events) == 0 {
		return nil
	}
	return s.store.SetAuditMark(ctx, events[len(events)-1].Revision)
}

// slots lists the cells of an appointment in both columns, in the global
// claiming order.
func (s *Service) slots(provider, chair string, start time.Time, minutes int32) []Slot {
	return CellsOf(provider, chair, start, minutes, s.loc)
}

// CellsOf lists the cells an appointment of a provider in a chair holds, in
// the global claiming order, with days in the clinic's time zone loc.
func CellsOf(provider, chair string, start time.Time, minutes int32, loc *time.Location) []Slot {
	out := append(slotsOf(molarv1.ResourceKind_RESOURCE_KIND_PROVIDER, provider, start, minutes, loc),
		slotsOf(molarv1.ResourceKind_RESOURCE_KIND_CHAIR, chair, start, minutes, loc)...)
	slices.SortFunc(out, compareSlots)
	return out
}

func minus(a, b []Slot) []Slot {
	var out []Slot
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
