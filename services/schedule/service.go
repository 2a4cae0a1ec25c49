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

	// lease is how long cells of an operation that has not committed hold.
	lease time.Duration
	// commitMu lets one change of this process at a time take the next
	// revision, so that they queue here rather than collide in the database.
	commitMu sync.Mutex

	mu  sync.Mutex
	res resources
	// resReads counts reads of the resources begun; resKept is the read
	// res came from. A read begun before the kept one is dropped: it may
	// have missed a change the later one saw.
	resReads, resKept uint64
	resRev            int
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
	// Lease is how long cells claimed by an operation that has not committed
	// hold against others (DefaultLease if zero), on the clock of Now.
	Lease time.Duration
}

// NewService returns a Service; Start loads the book and Recover cleans up
// after interrupted operations.
func NewService(d Deps) *Service {
	lease := d.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	return &Service{store: d.Store, clinic: d.Clinic, patients: d.Patients, audit: d.Audit, now: d.Now, newID: d.NewID, logger: d.Logger,
		lease: lease}
}

// Book is the in-memory book.
func (s *Service) Book() *Book { return s.book }

// Start loads the book: the stored appointments of the window (PastDays
// before today on), then every retained event newer than they are.
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
	from := s.windowStart()
	appts, blocks, err := s.store.Range(ctx, s.dayStart(from), time.Time{})
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
	s.book.load(from, appts, blocks, max(start, 0))
	s.catchUp(ctx)
	return nil
}

// Sweep is the book's share of the process's minute sweep: it prunes the
// event log (never past what Recover has projected), rereads providers,
// chairs and types, runs Recover, and moves the window of days kept in
// memory along with the clock.
func (s *Service) Sweep(ctx context.Context) {
	if rev := s.book.Revision(); rev > 2000 {
		// Never past what Recover has projected: the log is the only
		// record of a change whose copy was not saved.
		mark, err := s.store.AuditMark(ctx)
		if err == nil {
			err = s.store.PruneEvents(ctx, min(rev-2000, mark+1))
		}
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("schedule events not pruned", "error", err.Error())
		}
	}
	if err := s.reloadResources(ctx); err != nil && ctx.Err() == nil {
		s.logger.Warn("schedule resources not reloaded", "error", err.Error())
	}
	if err := s.Recover(ctx); err != nil && ctx.Err() == nil {
		s.logger.Warn("schedule recovery incomplete", "error", err.Error())
	}
	s.book.slide(s.windowStart())
}

// CatchUp applies the events other processes appended to the log since
// the book last read it.
func (s *Service) CatchUp(ctx context.Context) { s.catchUp(ctx) }

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
			// What this process missed is gone from the log: read the book
			// again from the stored copies, which every commit brings up to
			// date, and follow on from the revision taken before reading.
			s.logger.Warn("schedule log pruned past this process; reloading the book", "from", next, "to", oldest)
			last, err := s.store.LastRevision(ctx)
			if err != nil {
				return
			}
			from := s.windowStart()
			appts, blocks, err := s.store.Range(ctx, s.dayStart(from), time.Time{})
			if err != nil {
				return
			}
			s.book.reset(from, appts, blocks, max(last, oldest-1))
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

// ReloadResources rereads providers, chairs and types (they are also
// reread every minute, for changes made by other processes).
func (s *Service) ReloadResources(ctx context.Context) error { return s.reloadResources(ctx) }

func (s *Service) reloadResources(ctx context.Context) error {
	s.mu.Lock()
	s.resReads++
	read := s.resReads
	s.mu.Unlock()
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
	defer s.mu.Unlock()
	if read > s.resKept {
		s.res, s.resKept = r, read
	}
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
	rec := s.resourceAudit(ctx, "provider", p.GetId())
	if err := s.store.SaveProvider(ctx, p, rec); err != nil {
		return nil, err
	}
	s.resourcesSaved(ctx, rec)
	return p, nil
}

// SaveChair creates (empty id) or replaces a chair.
func (s *Service) SaveChair(ctx context.Context, c *molarv1.Chair) (*molarv1.Chair, error) {
	c = proto.CloneOf(c)
	if c.Id == "" {
		c.Id = s.newID()
	}
	rec := s.resourceAudit(ctx, "chair", c.GetId())
	if err := s.store.SaveChair(ctx, c, rec); err != nil {
		return nil, err
	}
	s.resourcesSaved(ctx, rec)
	return c, nil
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
	rec := s.resourceAudit(ctx, "appointment_type", t.GetId())
	if err := s.store.SaveType(ctx, t, rec); err != nil {
		return nil, err
	}
	s.resourcesSaved(ctx, rec)
	return t, nil
}

// resourceAudit is the audit record a resource change commits with.
func (s *Service) resourceAudit(ctx context.Context, kind, id string) audit.Event {
	return s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_SCHEDULE_RESOURCES_CHANGED, TargetType: kind, TargetID: id})
}

// resourcesSaved does what follows a committed resource change: this
// process rereads the resources, and the audit record reaches the trail.
// Nothing here can fail the change: a failure is logged, the next reread
// (or the next start's recovery, for the record) makes up for it.
func (s *Service) resourcesSaved(ctx context.Context, rec audit.Event) {
	ctx = context.WithoutCancel(ctx)
	if err := s.reloadResources(ctx); err != nil {
		s.logger.WarnContext(ctx, "resources committed, reread failed", "error", err.Error())
	}
	if err := s.audit.Project(ctx, rec); err != nil {
		s.logger.WarnContext(ctx, "resources committed, audit record left for recovery", "audit_id", rec.ID, "error", err.Error())
	}
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

// PastDays is how many days before today the book holds in memory; earlier
// days are read from the store when a screen asks for them.
const PastDays = 62

// windowStart is the first day the book holds whole.
func (s *Service) windowStart() string {
	return s.now().In(s.loc).AddDate(0, 0, -PastDays).Format(time.DateOnly)
}

// dayStart is the first instant of a day (YYYY-MM-DD) in the clinic's zone.
func (s *Service) dayStart(day string) time.Time {
	t, _ := time.ParseInLocation(time.DateOnly, day, s.loc)
	return t
}

// Ensure reads into the book the days of f it does not hold.
func (s *Service) Ensure(ctx context.Context, f Filter) error {
	missing := s.book.Missing(f)
	if len(missing) == 0 {
		return nil
	}
	from, to := s.dayStart(missing[0]), s.dayStart(missing[len(missing)-1]).AddDate(0, 0, 1)
	appts, blocks, err := s.store.Range(ctx, from, to)
	if err != nil {
		return err
	}
	s.book.adopt(missing, appts, blocks)
	return nil
}

// appointment returns an appointment as of the book: from memory, or else
// from its stored copy (brought up to date by the events the book
// remembers), which the book then holds. NotFound if there is none.
func (s *Service) appointment(ctx context.Context, id string) (*molarv1.Appointment, error) {
	if a, ok := s.book.Get(id); ok {
		return a, nil
	}
	a, err := s.store.Appointment(ctx, id)
	if services.ErrorCode(err) == services.NotFound {
		a, _ = s.book.remembered(id)
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, services.Errorf(services.NotFound, "appointment not found")
	}
	s.book.adopt(nil, []*molarv1.Appointment{a}, nil)
	if cur, ok := s.book.Get(id); ok {
		a = cur
	}
	return a, nil
}

// blockout returns a blockout as of the book likewise; a removed one is
// NotFound (adopting its copy and the remembered events leaves the book
// without it).
func (s *Service) blockout(ctx context.Context, id string) (*molarv1.Blockout, error) {
	if x, ok := s.book.GetBlockout(id); ok {
		return x, nil
	}
	x, err := s.store.Blockout(ctx, id)
	if services.ErrorCode(err) == services.NotFound {
		_, x = s.book.remembered(id)
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if x != nil {
		s.book.adopt(nil, nil, []*molarv1.Blockout{x})
	}
	if cur, ok := s.book.GetBlockout(id); ok {
		return cur, nil
	}
	return nil, services.Errorf(services.NotFound, "blockout not found")
}

// List returns the book for a range.
func (s *Service) List(ctx context.Context, from, to string, providers, chairs []string) (*Snapshot, error) {
	f, err := s.parseDays(from, to, 42)
	if err != nil {
		return nil, err
	}
	f.Providers, f.Chairs = providers, chairs
	if err := s.Ensure(ctx, f); err != nil {
		return nil, err
	}
	as, bs, rev := s.book.Snapshot(f)
	return &Snapshot{Appointments: as, Blockouts: bs, Revision: rev}, nil
}

// WatchFilter checks a watch request's range.
func (s *Service) WatchFilter(from, to string, providers, chairs []string) (Filter, error) {
	f, err := s.parseDays(from, to, 42)
	f.Providers, f.Chairs = providers, chairs
	return f, err
}

// PatientAppointments lists a patient's upcoming (soonest first) and past
// (latest first) visits: the stored copies, with the book's newer ones over
// them. A visit that is over (completed, cancelled, missed) is past even if
// its booked time has not come.
func (s *Service) PatientAppointments(ctx context.Context, patientID string) (upcoming, past []*molarv1.Appointment, err error) {
	stored, err := s.store.PatientAppointments(ctx, patientID)
	if err != nil {
		return nil, nil, err
	}
	byID := map[string]*molarv1.Appointment{}
	for _, a := range stored {
		byID[a.GetId()] = a
	}
	s.book.Each(func(a *molarv1.Appointment) {
		if cur, ok := byID[a.GetId()]; (ok && cur.GetRevision() < a.GetRevision()) || (!ok && a.GetPatientId() == patientID) {
			byID[a.GetId()] = a
		}
	})
	now := s.now()
	for _, a := range byID {
		if a.GetPatientId() != patientID {
			continue // moved to another patient's chart since its copy
		}
		if a.GetStartTime().AsTime().After(now) && !terminal(a.GetStatus()) {
			upcoming = append(upcoming, a)
		} else {
			past = append(past, a)
		}
	}
	slices.SortFunc(upcoming, func(a, b *molarv1.Appointment) int {
		return a.GetStartTime().AsTime().Compare(b.GetStartTime().AsTime())
	})
	slices.SortFunc(past, func(a, b *molarv1.Appointment) int {
		return b.GetStartTime().AsTime().Compare(a.GetStartTime().AsTime())
	})
	return upcoming, past, nil
}

// FreeSlots finds the earliest starts in a range where the provider and
// some chair are free for minutes, within hours and outside blockouts; with
// spread, only the first of each half-day.
func (s *Service) FreeSlots(ctx context.Context, provider string, minutes int32, from, to string, limit int, spread bool) ([]*molarv1.FreeSlot, error) {
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
	if err := s.Ensure(ctx, f); err != nil {
		return nil, err
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
		split := afternoonStart(clinic, day)
		offered := [2]bool{} // morning, afternoon
		for t := day; t.Before(day.AddDate(0, 0, 1)) && len(out) < limit; t = t.Add(GridMinutes * time.Minute) {
			half := 0
			if t.Format("15:04") >= split {
				half = 1
			}
			if spread && offered[half] {
				continue
			}
			en := t.Add(time.Duration(minutes) * time.Minute)
			if t.Before(earliest) || s.outsideHours(clinic, p, t, minutes) != nil || !free("p|"+provider, t, en) {
				continue
			}
			for _, c := range chairs {
				if c.GetActive() && free("c|"+c.GetId(), t, en) {
					out = append(out, &molarv1.FreeSlot{StartTime: timestamppb.New(t), ChairId: c.GetId()})
					offered[half] = true
					break
				}
			}
		}
	}
	return out, nil
}

// afternoonStart is where a day's morning ends for spreading offers: the
// start of that weekday's lunch break, or 13:00.
func afternoonStart(c *molarv1.Clinic, day time.Time) string {
	wd := int32(day.Weekday())
	if wd == 0 {
		wd = 7
	}
	for _, h := range c.GetOpeningHours() {
		if int32(h.GetWeekday()) == wd && h.GetLunchStart() != "" {
			return h.GetLunchStart()
		}
	}
	return "13:00"
}

// Location is the clinic's time zone the book works in.
func (s *Service) Location() *time.Location { return s.loc }

// Cells lists the cells an appointment holds, for bulk loading.
func (s *Service) Cells(a *molarv1.Appointment) []Slot {
	return s.slots(a.GetProviderId(), a.GetChairId(), a.GetStartTime().AsTime(), a.GetMinutes())
}
