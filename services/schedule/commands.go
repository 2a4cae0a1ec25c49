package schedule

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// The commands of the book. Each checks every rule first, then claims the
// cells it needs, then commits once (see commit.go); a definite failure
// gives back what it took.

// BookInput is a booking.
type BookInput struct {
	PatientID, ProviderID, ChairID, TypeID string
	Start                                  time.Time
	Minutes                                int32
	PlannedEntryIDs                        []string
	Note                                   string
}

func actorName(ctx context.Context) string {
	if p := services.PrincipalFrom(ctx); p != nil {
		if p.Name != "" {
			return p.Name
		}
		return p.Email
	}
	return ""
}

// BookAppointment books an appointment. Its cells in the provider's and the
// chair's columns are claimed in one global order, so of any number of
// overlapping bookings racing exactly one wins; the others learn what is in
// the way.
func (s *Service) BookAppointment(ctx context.Context, in BookInput) (*molarv1.Appointment, error) {
	name, chart, err := s.patients.Label(ctx, in.PatientID)
	if err != nil {
		return nil, err
	}
	if err := s.checkPlacement(ctx, in.ProviderID, in.ChairID, in.Start, in.Minutes); err != nil {
		return nil, err
	}
	if err := s.checkNotPast(ctx, in.Start); err != nil {
		return nil, err
	}
	if in.TypeID != "" {
		if _, ok := s.resources().types[in.TypeID]; !ok {
			return nil, services.InvalidFields(services.Violation{Field: "type_id", Rule: "schedule.type.known", Message: "no such appointment type"})
		}
	}
	now := s.now()
	a := &molarv1.Appointment{
		Id: s.newID(), PatientId: in.PatientID, PatientName: name, ChartNumber: chart, ProviderId: in.ProviderID, ChairId: in.ChairID,
		StartTime: timestamppb.New(in.Start), Minutes: in.Minutes, TypeId: in.TypeID, PlannedEntryIds: in.PlannedEntryIDs, Note: in.Note,
		Status: molarv1.AppointmentStatus_APPOINTMENT_STATUS_BOOKED, Version: 1,
		History: []*molarv1.StatusChange{{Status: molarv1.AppointmentStatus_APPOINTMENT_STATUS_BOOKED, By: actorName(ctx), Time: timestamppb.New(now)}},
	}
	c := Claim{Owner: a.GetId(), Op: s.newID(), Version: 1, At: now}
	slots := s.slots(a.GetProviderId(), a.GetChairId(), in.Start, in.Minutes)
	if err := s.claim(ctx, c, slots); err != nil {
		return nil, err
	}
	rec := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_APPOINTMENT_BOOKED, TargetType: "patient", TargetID: in.PatientID,
		Detail: "appointment " + a.GetId()})
	e, err := s.commit(ctx, c.Op, func() (Event, error) {
		if err := s.inLease(c); err != nil {
			return Event{}, err
		}
		return Event{Appointment: proto.CloneOf(a), Audit: rec}, nil
	})
	if err != nil {
		if !uncertain(err) {
			s.release(ctx, Release{Owner: c.Owner, Op: c.Op}, slots)
		}
		return nil, err
	}
	s.after(ctx, e)
	return e.Appointment, nil
}

// Move moves or resizes an appointment: it claims the new cells it lacks,
// commits, then gives up the old ones it no longer covers.
func (s *Service) Move(ctx context.Context, id, provider, chair string, start time.Time, minutes int32, version int64) (*molarv1.Appointment, error) {
	a, err := s.current(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if err := movable(a); err != nil {
		return nil, err
	}
	if err := s.checkPlacement(ctx, provider, chair, start, minutes); err != nil {
		return nil, err
	}
	// Lengthening a visit under way keeps its start; moving it anywhere is
	// held to the same rule as a booking.
	if !start.Equal(a.GetStartTime().AsTime()) {
		if err := s.checkNotPast(ctx, start); err != nil {
			return nil, err
		}
	}
	oldSlots := s.slots(a.GetProviderId(), a.GetChairId(), a.GetStartTime().AsTime(), a.GetMinutes())
	newSlots := s.slots(provider, chair, start, minutes)
	c := Claim{Owner: id, Op: s.newID(), Version: version + 1, At: s.now()}
	if err := s.claim(ctx, c, newSlots); err != nil {
		return nil, err
	}
	rec := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_APPOINTMENT_CHANGED, TargetType: "patient", TargetID: a.GetPatientId(),
		Detail: "moved appointment " + id})
	e, err := s.commit(ctx, c.Op, func() (Event, error) {
		cur, err := s.current(ctx, id, version)
		if err != nil {
			return Event{}, err
		}
		if err := movable(cur); err != nil {
			return Event{}, err
		}
		if err := s.inLease(c); err != nil {
			return Event{}, err
		}
		next := proto.CloneOf(cur)
		next.ProviderId, next.ChairId, next.StartTime, next.Minutes, next.Version = provider, chair, timestamppb.New(start), minutes, version+1
		return Event{Appointment: next, Audit: rec}, nil
	})
	if err != nil {
		if !uncertain(err) {
			s.release(ctx, Release{Owner: id, Op: c.Op}, newSlots) // only what this move took
		}
		return nil, err
	}
	s.release(ctx, Release{Owner: id, UpTo: e.Appointment.GetVersion()}, minus(oldSlots, newSlots))
	s.after(ctx, e)
	return e.Appointment, nil
}

// SetStatus moves an appointment along its status flow. Cancelled and
// no-show appointments give their cells back.
func (s *Service) SetStatus(ctx context.Context, id string, to molarv1.AppointmentStatus, reason string, version int64) (*molarv1.Appointment, error) {
	a, err := s.current(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if err := canBecome(a, to); err != nil {
		return nil, err
	}
	if to == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED && strings.TrimSpace(reason) == "" {
		return nil, services.InvalidFields(services.Violation{Field: "reason", Rule: "schedule.cancel.reason", Message: "give a reason to cancel"})
	}
	rec := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_APPOINTMENT_CHANGED, TargetType: "patient", TargetID: a.GetPatientId(),
		Detail: fmt.Sprintf("appointment %s %s", id, strings.ToLower(statusName(to)))})
	by := actorName(ctx)
	e, err := s.commit(ctx, s.newID(), func() (Event, error) {
		cur, err := s.current(ctx, id, version)
		if err != nil {
			return Event{}, err
		}
		if err := canBecome(cur, to); err != nil {
			return Event{}, err
		}
		now := timestamppb.New(s.now())
		next := proto.CloneOf(cur)
		next.Status, next.Version = to, version+1
		next.History = append(next.History, &molarv1.StatusChange{Status: to, By: by, Time: now})
		switch to {
		case molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED:
			next.ArriveTime = now
		case molarv1.AppointmentStatus_APPOINTMENT_STATUS_IN_CHAIR:
			next.SeatTime = now
		case molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED:
			next.DismissTime = now
		case molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED:
			next.CancelReason = strings.TrimSpace(reason)
		}
		return Event{Appointment: next, Audit: rec}, nil
	})
	if err != nil {
		return nil, err
	}
	if !holdsCells(to) {
		s.release(ctx, Release{Owner: id, UpTo: e.Appointment.GetVersion()}, s.slots(a.GetProviderId(), a.GetChairId(), a.GetStartTime().AsTime(), a.GetMinutes()))
	}
	s.after(ctx, e)
	return e.Appointment, nil
}

// CreateBlockout blocks time on a provider or chair.
func (s *Service) CreateBlockout(ctx context.Context, provider, chair string, start time.Time, minutes int32, reason string) (*molarv1.Blockout, error) {
	var vs []services.Violation
	r := s.resources()
	if _, ok := r.providers[provider]; provider != "" && !ok {
		vs = append(vs, services.Violation{Field: "provider_id", Rule: "schedule.provider.known", Message: "no such provider"})
	}
	if _, ok := r.chairs[chair]; chair != "" && !ok {
		vs = append(vs, services.Violation{Field: "chair_id", Rule: "schedule.chair.known", Message: "no such chair"})
	}
	if !onGrid(start, minutes) {
		vs = append(vs, services.Violation{Field: "start_time", Rule: "schedule.grid", Message: "blockouts start and end on the 5-minute grid"})
	}
	if len(vs) > 0 {
		return nil, services.InvalidFields(vs...)
	}
	b := &molarv1.Blockout{Id: s.newID(), ProviderId: provider, ChairId: chair, StartTime: timestamppb.New(start), Minutes: minutes, Reason: strings.TrimSpace(reason)}
	rec := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_SCHEDULE_RESOURCES_CHANGED, TargetType: "blockout", TargetID: b.GetId(),
		Detail: "blocked " + start.In(s.loc).Format("2006-01-02 15:04")})
	e, err := s.commit(ctx, s.newID(), func() (Event, error) {
		return Event{Blockout: proto.CloneOf(b), Audit: rec}, nil
	})
	if err != nil {
		return nil, err
	}
	s.after(ctx, e)
	return e.Blockout, nil
}

// DeleteBlockout removes a blockout.
func (s *Service) DeleteBlockout(ctx context.Context, id string) error {
	if _, err := s.blockout(ctx, id); err != nil {
		return err
	}
	rec := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_SCHEDULE_RESOURCES_CHANGED, TargetType: "blockout", TargetID: id,
		Detail: "removed blockout"})
	e, err := s.commit(ctx, s.newID(), func() (Event, error) {
		b, err := s.blockout(ctx, id)
		if err != nil {
			return Event{}, err
		}
		gone := proto.CloneOf(b)
		gone.Deleted = true
		return Event{Blockout: gone, Audit: rec}, nil
	})
	if err != nil {
		return err
	}
	s.after(ctx, e)
	return nil
}
