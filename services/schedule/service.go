package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// Service holds the booking rules over the book.
type Service struct {
	store    Store
	clinic   Clinic
	patients Patients
	audit    *audit.Recorder
	now      func() time.Time
	newID    func() string
	logger   *slog.Logger

	book *Book
	loc  *time.Location
	// poke asks the follower to read the log now (after a local write).
	poke chan struct{}

	mu     sync.Mutex
	res    resources
	resRev int
}

type resources struct {
	providers map[string]*molarv1.Provider
	chairs    map[string]*molarv1.Chair
	types     map[string]*molarv1.AppointmentType
}

// Deps are what a Service works with.
type Deps struct {
	Store    Store
	Clinic   Clinic
	Patients Patients
	Audit    *audit.Recorder
	Now      func() time.Time
	NewID    func() string
	Logger   *slog.Logger
}

// NewService returns a Service; Start loads the book.
func NewService(d Deps) *Service {
	return &Service{store: d.Store, clinic: d.Clinic, patients: d.Patients, audit: d.Audit, now: d.Now, newID: d.NewID, logger: d.Logger,
		poke: make(chan struct{}, 1)}
}

// Book is the in-memory book.
func (s *Service) Book() *Book { return s.book }

// Start loads the book: the stored appointments, then every retained event
// newer than they are.
func (s *Service) Start(ctx context.Context) error {
	c, err := s.clinic.Get(ctx)
	if err != nil {
		return err
	}
	s.loc, err = time.LoadLocation(c.GetTimeZone())
	if err != nil {
		s.loc = time.UTC
	}
	if err := s.reloadResources(ctx); err != nil {
		return err
	}
	appts, blocks, err := s.store.LoadAll(ctx)
	if err != nil {
		return err
	}
	oldest, err := s.store.OldestRevision(ctx)
	if err != nil {
		return err
	}
	s.book = NewBook(s.loc, 4096)
	// Documents may lag the log: start below the oldest retained event and
	// let the log bring each thing up to date.
	start := oldest - 1
	if oldest == 0 {
		start, err = s.store.LastRevision(ctx)
		if err != nil {
			return err
		}
	}
	s.book.load(appts, blocks, max(start, 0))
	s.catchUp(ctx)
	return nil
}

// Follow applies events from the log as they appear, until ctx ends.
func (s *Service) Follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.poke:
		case <-prune.C:
			if rev := s.book.Revision(); rev > 2000 {
				if err := s.store.PruneEvents(ctx, rev-2000); err != nil && ctx.Err() == nil {
					s.logger.Warn("schedule events not pruned", "error", err.Error())
				}
			}
			if err := s.reloadResources(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("schedule resources not reloaded", "error", err.Error())
			}
		}
		s.catchUp(ctx)
	}
}

// catchUp applies every event after the book's revision.
func (s *Service) catchUp(ctx context.Context) {
	for {
		next := s.book.Revision() + 1
		e, err := s.store.Event(ctx, next)
		if services.ErrorCode(err) == services.NotFound {
			// A gap below the oldest retained event means the log was pruned
			// past us: skip to what is there.
			oldest, oerr := s.store.OldestRevision(ctx)
			if oerr != nil || oldest <= next {
				return
			}
			s.logger.Warn("schedule log pruned past this process; skipping", "from", next, "to", oldest)
			s.book.mu.Lock()
			s.book.rev = oldest - 1
			s.book.mu.Unlock()
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("schedule log read failed", "error", err.Error())
			}
			return
		}
		s.book.apply(e)
	}
}

// commit appends the change as the next revision and waits (briefly) until
// this process's book has it, so that the caller reads its own write.
func (s *Service) commit(ctx context.Context, a *molarv1.Appointment, b *molarv1.Blockout) (int64, error) {
	rev := s.book.Revision() + 1
	for range 100 {
		if a != nil {
			a.Revision = rev
		}
		if b != nil {
			b.Revision = rev
		}
		err := s.store.AppendEvent(ctx, Event{Revision: rev, Appointment: a, Blockout: b})
		if err == nil {
			if a != nil {
				if err := s.store.SaveAppointment(ctx, a); err != nil {
					s.logger.Warn("appointment copy not saved; the log has it", "error", err.Error())
				}
			}
			if b != nil {
				if err := s.store.SaveBlockout(ctx, b); err != nil {
					s.logger.Warn("blockout copy not saved; the log has it", "error", err.Error())
				}
			}
			select {
			case s.poke <- struct{}{}:
			default:
			}
			s.book.waitPast(rev, time.Now().Add(2*time.Second))
			return rev, nil
		}
		if services.ErrorCode(err) != services.AlreadyExists {
			return 0, err
		}
		last, err := s.store.LastRevision(ctx)
		if err != nil {
			return 0, err
		}
		rev = max(rev, last) + 1
	}
	return 0, services.Errorf(services.Unavailable, "the schedule is too busy; try again")
}

// ReloadResources rereads providers, chairs and types (they are also
// reread every minute, for changes made by other processes).
func (s *Service) ReloadResources(ctx context.Context) error { return s.reloadResources(ctx) }

func (s *Service) reloadResources(ctx context.Context) error {
	ps, cs, ts, err := s.store.Resources(ctx)
	if err != nil {
		return err
	}
	r := resources{providers: map[string]*molarv1.Provider{}, chairs: map[string]*molarv1.Chair{}, types: map[string]*molarv1.AppointmentType{}}
	for _, p := range ps {
		r.providers[p.GetId()] = p
	}
	for _, c := range cs {
		r.chairs[c.GetId()] = c
	}
	for _, t := range ts {
		r.types[t.GetId()] = t
	}
	s.mu.Lock()
	s.res = r
	s.mu.Unlock()
	return nil
}

func (s *Service) resources() resources {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res
}

// Resources lists providers, chairs (by position) and types.
func (s *Service) Resources() ([]*molarv1.Provider, []*molarv1.Chair, []*molarv1.AppointmentType) {
	r := s.resources()
	var ps []*molarv1.Provider
	for _, p := range r.providers {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *molarv1.Provider) int { return strings.Compare(a.GetName(), b.GetName()) })
	var cs []*molarv1.Chair
	for _, c := range r.chairs {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *molarv1.Chair) int { return int(a.GetPosition() - b.GetPosition()) })
	var ts []*molarv1.AppointmentType
	for _, t := range r.types {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *molarv1.AppointmentType) int { return strings.Compare(a.GetId(), b.GetId()) })
	return ps, cs, ts
}

// SaveProvider creates (empty id) or replaces a provider.
func (s *Service) SaveProvider(ctx context.Context, p *molarv1.Provider) (*molarv1.Provider, error) {
	p = proto.CloneOf(p)
	if p.Id == "" {
		p.Id = s.newID()
	}
	if err := s.store.SaveProvider(ctx, p); err != nil {
		return nil, err
	}
	return p, s.resourcesChanged(ctx, "provider", p.GetId())
}

// SaveChair creates (empty id) or replaces a chair.
func (s *Service) SaveChair(ctx context.Context, c *molarv1.Chair) (*molarv1.Chair, error) {
	c = proto.CloneOf(c)
	if c.Id == "" {
		c.Id = s.newID()
	}
	if err := s.store.SaveChair(ctx, c); err != nil {
		return nil, err
	}
	return c, s.resourcesChanged(ctx, "chair", c.GetId())
}

// SaveType creates (empty id) or replaces an appointment type.
func (s *Service) SaveType(ctx context.Context, t *molarv1.AppointmentType) (*molarv1.AppointmentType, error) {
	t = proto.CloneOf(t)
	if t.Id == "" {
		t.Id = s.newID()
	}
	if t.GetDefaultMinutes()%GridMinutes != 0 {
		return nil, services.InvalidFields(services.Violation{Field: "type.default_minutes", Rule: "schedule.minutes.grid", Message: "use a multiple of 5 minutes"})
	}
	if err := s.store.SaveType(ctx, t); err != nil {
		return nil, err
	}
	return t, s.resourcesChanged(ctx, "appointment_type", t.GetId())
}

func (s *Service) resourcesChanged(ctx context.Context, kind, id string) error {
	if err := s.reloadResources(ctx); err != nil {
		return err
	}
	return s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_SCHEDULE_RESOURCES_CHANGED, TargetType: kind, TargetID: id})
}

// parseDays checks a date range.
func (s *Service) parseDays(from, to string, maxDays int) (Filter, error) {
	a, err1 := time.ParseInLocation(time.DateOnly, from, s.loc)
	b, err2 := time.ParseInLocation(time.DateOnly, to, s.loc)
	if err1 != nil || err2 != nil || b.Before(a) || b.Sub(a) > time.Duration(maxDays)*24*time.Hour {
		return Filter{}, services.InvalidFields(services.Violation{Field: "end_date", Rule: "schedule.range", Message: fmt.Sprintf("give real dates, the end not before the start, at most %d days apart", maxDays)})
	}
	return Filter{From: from, To: to}, nil
}

// List returns the book for a range.
func (s *Service) List(from, to string, providers, chairs []string) (*Snapshot, error) {
	f, err := s.parseDays(from, to, 42)
	if err != nil {
		return nil, err
	}
	f.Providers, f.Chairs = providers, chairs
	as, bs, rev := s.book.Snapshot(f)
	return &Snapshot{Appointments: as, Blockouts: bs, Revision: rev}, nil
}

// WatchFilter checks a watch request's range.
func (s *Service) WatchFilter(from, to string, providers, chairs []string) (Filter, error) {
	f, err := s.parseDays(from, to, 42)
	f.Providers, f.Chairs = providers, chairs
	return f, err
}

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

// Book books an appointment. Its cells in the provider's and the chair's
// columns are claimed in one global order, so of any number of overlapping
// bookings racing exactly one wins; the others learn what is in the way.
func (s *Service) BookAppointment(ctx context.Context, in BookInput) (*molarv1.Appointment, error) {
	name, chart, err := s.patients.Label(ctx, in.PatientID)
	if err != nil {
		return nil, err
	}
	if err := s.checkPlacement(ctx, "", in.ProviderID, in.ChairID, in.Start, in.Minutes); err != nil {
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
	slots := s.slots(a.GetProviderId(), a.GetChairId(), in.Start, in.Minutes)
	if err := s.store.ClaimSlots(ctx, a.GetId(), slots); err != nil {
		return nil, s.describeConflict(err)
	}
	if err := s.store.ClaimVersion(ctx, a.GetId(), 1); err != nil {
		_ = s.store.ReleaseSlots(context.WithoutCancel(ctx), a.GetId(), slots)
		return nil, err
	}
	if _, err := s.commit(ctx, a, nil); err != nil {
		_ = s.store.ReleaseSlots(context.WithoutCancel(ctx), a.GetId(), slots)
		return nil, err
	}
	return a, s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_APPOINTMENT_BOOKED, TargetType: "patient", TargetID: in.PatientID,
		Detail: "appointment " + a.GetId()})
}

// slots lists the cells of an appointment in both columns, in the global
// claiming order.
func (s *Service) slots(provider, chair string, start time.Time, minutes int32) []Slot {
	out := append(slotsOf("p", provider, start, minutes, s.loc), slotsOf("c", chair, start, minutes, s.loc)...)
	slices.SortFunc(out, func(a, b Slot) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// ConflictError says what holds a cell.
type ConflictError struct {
	Key    string
	Holder string
}

func (e *ConflictError) Error() string { return "slot " + e.Key + " is held by " + e.Holder }

// describeConflict turns a slot conflict into a message a receptionist can
// act on: which column, what time, which appointment.
func (s *Service) describeConflict(err error) error {
	ce, ok := err.(*ConflictError)
	if !ok {
		return err
	}
	parts := strings.Split(ce.Key, "|")
	if len(parts) != 3 {
		return services.Errorf(services.AlreadyExists, "that time is already booked")
	}
	var minute int64
	fmt.Sscan(parts[2], &minute)
	at := time.Unix(minute*60, 0).In(s.loc).Format("2006-01-02 15:04")
	r := s.resources()
	what := "chair " + parts[1]
	if c, ok := r.chairs[parts[1]]; ok && parts[0] == "c" {
		what = c.GetName()
	}
	if parts[0] == "p" {
		what = "provider " + parts[1]
		if p, ok := r.providers[parts[1]]; ok {
			what = p.GetName()
		}
	}
	msg := fmt.Sprintf("%s is already booked at %s", what, at)
	if a, ok := s.book.Get(ce.Holder); ok {
		msg += fmt.Sprintf(" (appointment %s, chart %d)", a.GetId(), a.GetChartNumber())
	}
	return services.Errorf(services.AlreadyExists, "%s", msg)
}

// checkPlacement applies the rules of where an appointment may go: known,
// active provider and chair, the 5-minute grid, and, unless the caller may
// override, opening hours, the provider's hours and days off, and blockouts.
func (s *Service) checkPlacement(ctx context.Context, self, provider, chair string, start time.Time, minutes int32) error {
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
	if start.Unix()%(GridMinutes*60) != 0 || minutes%GridMinutes != 0 {
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
	if why := s.outsideHours(clinic, p, start, minutes); why != "" {
		return services.Errorf(services.FailedPrecondition, "%s; someone with the override permission can book it anyway", why)
	}
	end := start.Add(time.Duration(minutes) * time.Minute)
	_, blocks, _ := s.book.Snapshot(Filter{From: start.In(s.loc).Format(time.DateOnly), To: end.In(s.loc).Format(time.DateOnly)})
	for _, b := range blocks {
		bs := b.GetStartTime().AsTime()
		be := bs.Add(time.Duration(b.GetMinutes()) * time.Minute)
		if (b.GetProviderId() == provider || b.GetChairId() == chair) && bs.Before(end) && start.Before(be) {
			return services.Errorf(services.FailedPrecondition, "blocked (%s) from %s to %s; someone with the override permission can book it anyway",
				b.GetReason(), bs.In(s.loc).Format("15:04"), be.In(s.loc).Format("15:04"))
		}
	}
	return nil
}

// outsideHours says why an interval is outside the clinic's or provider's
// hours, or "" if it is inside.
func (s *Service) outsideHours(c *molarv1.Clinic, p *molarv1.Provider, start time.Time, minutes int32) string {
	local := start.In(s.loc)
	day := local.Format(time.DateOnly)
	from := local.Format("15:04")
	to := local.Add(time.Duration(minutes) * time.Minute).Format("15:04")
	if local.Add(time.Duration(minutes)*time.Minute).Format(time.DateOnly) != day {
		return "appointments end the day they start"
	}
	for _, cd := range c.GetClosedDays() {
		if cd.GetDate() == day {
			return "the clinic is closed on " + day
		}
	}
	if slices.Contains(p.GetDaysOff(), day) {
		return p.GetName() + " is off on " + day
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
		return "the clinic is closed on " + local.Weekday().String()
	}
	if from < open.GetOpenTime() || to > open.GetCloseTime() {
		return fmt.Sprintf("outside opening hours (%s-%s)", open.GetOpenTime(), open.GetCloseTime())
	}
	if open.GetLunchStart() != "" && from < open.GetLunchEnd() && open.GetLunchStart() < to {
		return fmt.Sprintf("during the lunch break (%s-%s)", open.GetLunchStart(), open.GetLunchEnd())
	}
	if len(p.GetHours()) > 0 {
		i := slices.IndexFunc(p.GetHours(), func(h *molarv1.ProviderHours) bool { return h.GetWeekday() == wd })
		if i < 0 {
			return p.GetName() + " does not work on " + local.Weekday().String()
		}
		if h := p.GetHours()[i]; from < h.GetStartTime() || to > h.GetEndTime() {
			return fmt.Sprintf("outside %s's hours (%s-%s)", p.GetName(), h.GetStartTime(), h.GetEndTime())
		}
	}
	return ""
}

// current returns an appointment at the given version, or Aborted.
func (s *Service) current(id string, version int64) (*molarv1.Appointment, error) {
	a, ok := s.book.Get(id)
	if !ok {
		return nil, services.Errorf(services.NotFound, "appointment not found")
	}
	if a.GetVersion() != version {
		return nil, services.Errorf(services.Aborted, "the appointment was changed by someone else; reload and try again")
	}
	return a, nil
}

// Move moves or resizes an appointment: it claims the new cells it lacks,
// then gives up the old ones it no longer covers.
func (s *Service) Move(ctx context.Context, id, provider, chair string, start time.Time, minutes int32, version int64) (*molarv1.Appointment, error) {
	a, err := s.current(id, version)
	if err != nil {
		return nil, err
	}
	if terminal(a.GetStatus()) {
		return nil, services.Errorf(services.FailedPrecondition, "a %s appointment cannot be moved", statusName(a.GetStatus()))
	}
	if err := s.checkPlacement(ctx, id, provider, chair, start, minutes); err != nil {
		return nil, err
	}
	oldSlots := s.slots(a.GetProviderId(), a.GetChairId(), a.GetStartTime().AsTime(), a.GetMinutes())
	newSlots := s.slots(provider, chair, start, minutes)
	if err := s.store.ClaimSlots(ctx, id, newSlots); err != nil {
		return nil, s.describeConflict(err)
	}
	added := minus(newSlots, oldSlots)
	if err := s.store.ClaimVersion(ctx, id, version+1); err != nil {
		_ = s.store.ReleaseSlots(context.WithoutCancel(ctx), id, added)
		if services.ErrorCode(err) == services.AlreadyExists {
			return nil, services.Errorf(services.Aborted, "the appointment was changed by someone else; reload and try again")
		}
		return nil, err
	}
	next := proto.CloneOf(a)
	next.ProviderId, next.ChairId, next.StartTime, next.Minutes, next.Version = provider, chair, timestamppb.New(start), minutes, version+1
	if _, err := s.commit(ctx, next, nil); err != nil {
		return nil, err
	}
	if err := s.store.ReleaseSlots(ctx, id, minus(oldSlots, newSlots)); err != nil {
		s.logger.Warn("old cells not released", "appointment", id, "error", err.Error())
	}
	return next, s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_APPOINTMENT_CHANGED, TargetType: "patient", TargetID: a.GetPatientId(),
		Detail: "moved appointment " + id})
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

func statusName(st molarv1.AppointmentStatus) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "APPOINTMENT_STATUS_"))
}

// SetStatus moves an appointment along its status flow. Cancelled and
// no-show appointments give their cells back.
func (s *Service) SetStatus(ctx context.Context, id string, to molarv1.AppointmentStatus, reason string, version int64) (*molarv1.Appointment, error) {
	a, err := s.current(id, version)
	if err != nil {
		return nil, err
	}
	if !CanTransition(a.GetStatus(), to) {
		return nil, services.Errorf(services.FailedPrecondition, "a %s appointment cannot become %s", statusName(a.GetStatus()), statusName(to))
	}
	if to == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED && strings.TrimSpace(reason) == "" {
		return nil, services.InvalidFields(services.Violation{Field: "reason", Rule: "schedule.cancel.reason", Message: "give a reason to cancel"})
	}
	if err := s.store.ClaimVersion(ctx, id, version+1); err != nil {
		if services.ErrorCode(err) == services.AlreadyExists {
			return nil, services.Errorf(services.Aborted, "the appointment was changed by someone else; reload and try again")
		}
		return nil, err
	}
	now := timestamppb.New(s.now())
	next := proto.CloneOf(a)
	next.Status, next.Version = to, version+1
	next.History = append(next.History, &molarv1.StatusChange{Status: to, By: actorName(ctx), Time: now})
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
	if _, err := s.commit(ctx, next, nil); err != nil {
		return nil, err
	}
	if to == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED || to == molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW {
		if err := s.store.ReleaseSlots(ctx, id, s.slots(a.GetProviderId(), a.GetChairId(), a.GetStartTime().AsTime(), a.GetMinutes())); err != nil {
			s.logger.Warn("cells not released", "appointment", id, "error", err.Error())
		}
	}
	return next, s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_APPOINTMENT_CHANGED, TargetType: "patient", TargetID: a.GetPatientId(),
		Detail: fmt.Sprintf("appointment %s %s", id, statusName(to))})
}

// CreateBlockout blocks time on a provider or chair.
func (s *Service) CreateBlockout(ctx context.Context, provider, chair string, start time.Time, minutes int32, reason string) (*molarv1.Blockout, error) {
	if start.Unix()%(GridMinutes*60) != 0 || minutes%GridMinutes != 0 {
		return nil, services.InvalidFields(services.Violation{Field: "start_time", Rule: "schedule.grid", Message: "blockouts start and end on the 5-minute grid"})
	}
	b := &molarv1.Blockout{Id: s.newID(), ProviderId: provider, ChairId: chair, StartTime: timestamppb.New(start), Minutes: minutes, Reason: strings.TrimSpace(reason)}
	if _, err := s.commit(ctx, nil, b); err != nil {
		return nil, err
	}
	return b, nil
}

// DeleteBlockout removes a blockout.
func (s *Service) DeleteBlockout(ctx context.Context, id string) error {
	b, ok := s.book.GetBlockout(id)
	if !ok {
		return services.Errorf(services.NotFound, "blockout not found")
	}
	gone := proto.CloneOf(b)
	gone.Deleted = true
	_, err := s.commit(ctx, nil, gone)
	return err
}

// PatientAppointments lists a patient's upcoming (soonest first) and past
// (latest first) visits.
func (s *Service) PatientAppointments(patientID string) (upcoming, past []*molarv1.Appointment) {
	now := s.now()
	s.book.Each(func(a *molarv1.Appointment) {
		if a.GetPatientId() != patientID {
			return
		}
		if a.GetStartTime().AsTime().After(now) {
			upcoming = append(upcoming, a)
		} else {
			past = append(past, a)
		}
	})
	slices.SortFunc(upcoming, func(a, b *molarv1.Appointment) int {
		return a.GetStartTime().AsTime().Compare(b.GetStartTime().AsTime())
	})
	slices.SortFunc(past, func(a, b *molarv1.Appointment) int {
		return b.GetStartTime().AsTime().Compare(a.GetStartTime().AsTime())
	})
	return upcoming, past
}

// FreeSlots finds the earliest starts in a range where the provider and
// some chair are free for minutes, within hours and outside blockouts.
func (s *Service) FreeSlots(ctx context.Context, provider string, minutes int32, from, to string, limit int) ([]*molarv1.FreeSlot, error) {
	f, err := s.parseDays(from, to, 62)
	if err != nil {
		return nil, err
	}
	r := s.resources()
	p, ok := r.providers[provider]
	if !ok {
		return nil, services.InvalidFields(services.Violation{Field: "provider_id", Rule: "schedule.provider.known", Message: "no such provider"})
	}
	if limit <= 0 {
		limit = 20
	}
	appts, blocks, _ := s.book.Snapshot(f)
	busy := map[string][][2]time.Time{} // column → intervals
	add := func(col string, st time.Time, m int32) {
		busy[col] = append(busy[col], [2]time.Time{st, st.Add(time.Duration(m) * time.Minute)})
	}
	for _, a := range appts {
		if terminal(a.GetStatus()) && a.GetStatus() != molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED {
			continue
		}
		add("p|"+a.GetProviderId(), a.GetStartTime().AsTime(), a.GetMinutes())
		add("c|"+a.GetChairId(), a.GetStartTime().AsTime(), a.GetMinutes())
	}
	for _, b := range blocks {
		if b.GetProviderId() != "" {
			add("p|"+b.GetProviderId(), b.GetStartTime().AsTime(), b.GetMinutes())
		}
		if b.GetChairId() != "" {
			add("c|"+b.GetChairId(), b.GetStartTime().AsTime(), b.GetMinutes())
		}
	}
	free := func(col string, st, en time.Time) bool {
		for _, iv := range busy[col] {
			if iv[0].Before(en) && st.Before(iv[1]) {
				return false
			}
		}
		return true
	}
	_, chairs, _ := s.Resources()
	clinic, err := s.clinic.Get(ctx)
	if err != nil {
		return nil, err
	}
	var out []*molarv1.FreeSlot
	day, _ := time.ParseInLocation(time.DateOnly, f.From, s.loc)
	last, _ := time.ParseInLocation(time.DateOnly, f.To, s.loc)
	earliest := s.now()
	for ; !day.After(last) && len(out) < limit; day = day.AddDate(0, 0, 1) {
		for t := day; t.Before(day.AddDate(0, 0, 1)) && len(out) < limit; t = t.Add(GridMinutes * time.Minute) {
			en := t.Add(time.Duration(minutes) * time.Minute)
			if t.Before(earliest) || s.outsideHours(clinic, p, t, minutes) != "" || !free("p|"+provider, t, en) {
				continue
			}
			for _, c := range chairs {
				if c.GetActive() && free("c|"+c.GetId(), t, en) {
					out = append(out, &molarv1.FreeSlot{StartTime: timestamppb.New(t), ChairId: c.GetId()})
					break
				}
			}
		}
	}
	return out, nil
}

// Location is the clinic's time zone the book works in.
func (s *Service) Location() *time.Location { return s.loc }

// Cells lists the cells an appointment holds, for bulk loading.
func (s *Service) Cells(a *molarv1.Appointment) []Slot {
	return s.slots(a.GetProviderId(), a.GetChairId(), a.GetStartTime().AsTime(), a.GetMinutes())
}
