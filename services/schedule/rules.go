package schedule

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
)

// The rules of the book. Every refusal a person can meet is a typed
// Problem; the English message is for logs.

// onGrid reports whether a span starting at start, minutes long, starts
// and ends on the book's grid, to the nanosecond.
func onGrid(start time.Time, minutes int32) bool {
	return start.Nanosecond() == 0 && start.Unix()%(GridMinutes*60) == 0 && minutes%GridMinutes == 0
}

// checkPlacement applies the rules of where an appointment may go: known,
// active provider and chair, the 5-minute grid, and, unless the caller may
// override, opening hours, the provider's hours and days off, and blockouts.
func (s *Service) checkPlacement(ctx context.Context, provider, chair string, start time.Time, minutes int32) error {
	r := s.resources()
	p, okp := r.providers[provider]
	c, okc := r.chairs[chair]
	var vs []services.Violation
	if !okp || !p.GetActive() {
		vs = append(vs, services.Violation{Field: "provider_id", Rule: "schedule.provider.known", Message: "no such provider"})
	}
	if !okc || !c.GetActive() {
		vs = append(vs, services.Violation{Field: "chair_id", Rule: "schedule.chair.known", Message: "no such chair"})
	}
	if !onGrid(start, minutes) {
		vs = append(vs, services.Violation{Field: "start_time", Rule: "schedule.grid", Message: "appointments start and end on the 5-minute grid"})
	}
	if len(vs) > 0 {
		return services.InvalidFields(vs...)
	}
	if pr := services.PrincipalFrom(ctx); pr != nil && pr.Can(molarv1.Permission_PERMISSION_SCHEDULE_OVERRIDE) {
		return nil
	}
	clinic, err := s.clinic.Get(ctx)
	if err != nil {
		return err
	}
	if why := s.outsideHours(clinic, p, start, minutes); why != nil {
		why.Overridable = true
		return services.Refuse(services.FailedPrecondition, why, "%s; someone with the override permission can book it anyway", why.GetReason())
	}
	end := start.Add(time.Duration(minutes) * time.Minute)
	days := Filter{From: start.In(s.loc).Format(time.DateOnly), To: end.In(s.loc).Format(time.DateOnly)}
	if err := s.Ensure(ctx, days); err != nil {
		return err
	}
	_, blocks, _ := s.book.Snapshot(days)
	for _, b := range blocks {
		bs := b.GetStartTime().AsTime()
		be := bs.Add(time.Duration(b.GetMinutes()) * time.Minute)
		if (b.GetProviderId() == provider || b.GetChairId() == chair) && bs.Before(end) && start.Before(be) {
			return services.Refuse(services.FailedPrecondition, &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_BLOCKED,
				Label: b.GetReason(), SubjectId: b.GetId(), WindowStart: bs.In(s.loc).Format("15:04"), WindowEnd: be.In(s.loc).Format("15:04"), Overridable: true},
				"blocked (%s) from %s to %s", b.GetReason(), bs.In(s.loc).Format("15:04"), be.In(s.loc).Format("15:04"))
		}
	}
	return nil
}

// checkNotPast refuses a start before the current 5-minute cell unless the
// caller may override the book's rules: a booking or a move into the past
// is a mistake far more often than a record of what happened.
func (s *Service) checkNotPast(ctx context.Context, start time.Time) error {
	if pr := services.PrincipalFrom(ctx); pr != nil && pr.Can(molarv1.Permission_PERMISSION_SCHEDULE_OVERRIDE) {
		return nil
	}
	if cell := s.now().Truncate(GridMinutes * time.Minute); start.Before(cell) {
		local := start.In(s.loc)
		return services.Refuse(services.FailedPrecondition, &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_IN_THE_PAST,
			Date: local.Format(time.DateOnly), WindowStart: local.Format("15:04"), Overridable: true},
			"%s is in the past; someone with the override permission can book it anyway", local.Format("2006-01-02 15:04"))
	}
	return nil
}

// outsideHours says why an interval is outside the clinic's or provider's
// hours, or nil if it is inside.
func (s *Service) outsideHours(c *molarv1.Clinic, p *molarv1.Provider, start time.Time, minutes int32) *molarv1.Problem {
	local := start.In(s.loc)
	day := local.Format(time.DateOnly)
	from := local.Format("15:04")
	to := local.Add(time.Duration(minutes) * time.Minute).Format("15:04")
	if local.Add(time.Duration(minutes)*time.Minute).Format(time.DateOnly) != day {
		return &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_CROSSES_MIDNIGHT, Date: day}
	}
	for _, cd := range c.GetClosedDays() {
		if cd.GetDate() == day {
			return &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_CLINIC_CLOSED_DATE, Date: day, Label: cd.GetReason()}
		}
	}
	provider := func(reason molarv1.ProblemReason) *molarv1.Problem {
		return &molarv1.Problem{Reason: reason, Date: day, ResourceKind: molarv1.ResourceKind_RESOURCE_KIND_PROVIDER, ResourceId: p.GetId(), ResourceName: p.GetName()}
	}
	if slices.Contains(p.GetDaysOff(), day) {
		return provider(molarv1.ProblemReason_PROBLEM_REASON_PROVIDER_DAY_OFF)
	}
	wd := int32(local.Weekday())
	if wd == 0 {
		wd = 7
	}
	var open *molarv1.OpeningHours
	for _, h := range c.GetOpeningHours() {
		if int32(h.GetWeekday()) == wd {
			open = h
		}
	}
	if open == nil {
		return &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_CLINIC_CLOSED_WEEKDAY, Date: day}
	}
	if from < open.GetOpenTime() || to > open.GetCloseTime() {
		return &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_OUTSIDE_HOURS, Date: day, WindowStart: open.GetOpenTime(), WindowEnd: open.GetCloseTime()}
	}
	if open.GetLunchStart() != "" && from < open.GetLunchEnd() && open.GetLunchStart() < to {
		return &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_LUNCH_BREAK, Date: day, WindowStart: open.GetLunchStart(), WindowEnd: open.GetLunchEnd()}
	}
	if len(p.GetHours()) > 0 {
		i := slices.IndexFunc(p.GetHours(), func(h *molarv1.ProviderHours) bool { return h.GetWeekday() == wd })
		if i < 0 {
			return provider(molarv1.ProblemReason_PROBLEM_REASON_PROVIDER_NOT_WORKING)
		}
		if h := p.GetHours()[i]; from < h.GetStartTime() || to > h.GetEndTime() {
			pr := provider(molarv1.ProblemReason_PROBLEM_REASON_PROVIDER_HOURS)
			pr.WindowStart, pr.WindowEnd = h.GetStartTime(), h.GetEndTime()
			return pr
		}
	}
	return nil
}

// slotTaken says what holds a cell, for the receptionist: which column, what
// time, which appointment and chart.
func (s *Service) slotTaken(ctx context.Context, ce *ConflictError) error {
	r := s.resources()
	p := &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_SLOT_TAKEN, ResourceKind: ce.Slot.Kind, ResourceId: ce.Slot.Resource,
		Time: timestamppb.New(ce.Slot.Time()), SubjectId: ce.Holder.Owner}
	switch ce.Slot.Kind {
	case molarv1.ResourceKind_RESOURCE_KIND_PROVIDER:
		p.ResourceName = r.providers[ce.Slot.Resource].GetName()
	case molarv1.ResourceKind_RESOURCE_KIND_CHAIR:
		p.ResourceName = r.chairs[ce.Slot.Resource].GetName()
	}
	if a, err := s.appointment(ctx, ce.Holder.Owner); err == nil {
		p.ChartNumber = a.GetChartNumber()
	}
	return services.Refuse(services.AlreadyExists, p, "%s %s is already booked at %s by %s",
		strings.ToLower(strings.TrimPrefix(ce.Slot.Kind.String(), "RESOURCE_KIND_")), ce.Slot.Resource,
		ce.Slot.Time().In(s.loc).Format("2006-01-02 15:04"), ce.Holder.Owner)
}

// stale is the refusal of a change based on an old version.
func stale() error {
	return services.Refuse(services.Aborted, &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_STALE_VERSION},
		"the appointment was changed by someone else; reload and try again")
}

// busy is the refusal of a change that could not be committed in time.
func busy() error {
	return services.Refuse(services.Unavailable, &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_BUSY}, "the schedule is too busy; try again")
}

// current returns an appointment at the given version, or refuses.
func (s *Service) current(ctx context.Context, id string, version int64) (*molarv1.Appointment, error) {
	a, err := s.appointment(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.GetVersion() != version {
		return nil, stale()
	}
	return a, nil
}

// movable refuses to move a finished appointment.
func movable(a *molarv1.Appointment) error {
	if terminal(a.GetStatus()) {
		return services.Refuse(services.FailedPrecondition, &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_APPOINTMENT_FINAL, State: statusName(a.GetStatus())},
			"a %s appointment cannot be moved", statusName(a.GetStatus()))
	}
	return nil
}

// canBecome refuses a status change the flow does not allow.
func canBecome(a *molarv1.Appointment, to molarv1.AppointmentStatus) error {
	if !CanTransition(a.GetStatus(), to) {
		return services.Refuse(services.FailedPrecondition, &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_STATUS_TRANSITION,
			State: statusName(a.GetStatus()), WantedState: statusName(to)}, "a %s appointment cannot become %s", statusName(a.GetStatus()), statusName(to))
	}
	return nil
}

// transitions are the allowed status changes.
var transitions = map[molarv1.AppointmentStatus][]molarv1.AppointmentStatus{
	molarv1.AppointmentStatus_APPOINTMENT_STATUS_BOOKED:    {molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED, molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED, molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED, molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW},
	molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED: {molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED, molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED, molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW},
	molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED:   {molarv1.AppointmentStatus_APPOINTMENT_STATUS_IN_CHAIR, molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED},
	molarv1.AppointmentStatus_APPOINTMENT_STATUS_IN_CHAIR:  {molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED},
}

// CanTransition reports whether from → to is allowed.
func CanTransition(from, to molarv1.AppointmentStatus) bool {
	return slices.Contains(transitions[from], to)
}

func terminal(st molarv1.AppointmentStatus) bool {
	return st == molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED || st == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED ||
		st == molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW
}

// holdsCells reports whether an appointment in this status keeps its time.
func holdsCells(st molarv1.AppointmentStatus) bool {
	return st != molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED && st != molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW
}

// statusName is "CONFIRMED" for APPOINTMENT_STATUS_CONFIRMED, the word a
// Problem carries as its state.
func statusName(st molarv1.AppointmentStatus) string {
	return strings.TrimPrefix(st.String(), "APPOINTMENT_STATUS_")
}
