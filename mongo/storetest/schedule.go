package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/clinic"
	"github.com/molar-dental/molar/services/schedule"
)

// Schedule is what an engine gives the schedule service: a fresh, empty
// database's book store and audit trail, both on one database, dropped
// when the test ends.
type Schedule struct {
	Store schedule.Store
	Audit audit.Store
}

// ScheduleEngine opens a fresh Schedule for a test.
type ScheduleEngine func(t *testing.T) Schedule

// TestSchedule runs the schedule contract against an engine.
func TestSchedule(t *testing.T, open ScheduleEngine) {
	for name, test := range map[string]func(*testing.T, ScheduleEngine){
		"survives every fault":                 scheduleSurvivesEveryFault,
		"claims hold for the lease":            claimsHoldForTheLease,
		"overlapping claims race":              overlappingClaimsRace,
		"claim verdicts":                       claimVerdicts,
		"release takes only what it selects":   releaseTakesOnlyWhatItSelects,
		"event revision is one winner":         eventRevisionIsOneWinner,
		"copies never go back":                 copiesNeverGoBack,
		"copies read by range, id and patient": copiesReadByRangeIDAndPatient,
		"the book holds a window":              bookHoldsAWindow,
		"resource changes carry their audit":   resourceChangesCarryTheirAudit,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// schedClock is the injected clock: leases run on it, never on the wall.
type schedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *schedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *schedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type schedClinic struct{ c *molarv1.Clinic }

func (f schedClinic) Get(context.Context) (*molarv1.Clinic, error) { return f.c, nil }

type schedPatients struct{}

func (schedPatients) Label(_ context.Context, id string) (string, int64, error) {
	return "환자 " + id, 101, nil
}

// schedFault says how the armed call fails.
type schedFault struct {
	// after: the call does its work, then reports an error (the answer was
	// lost). Otherwise it fails without doing anything.
	after bool
	// crash: from the failing call on, nothing of this service reaches the
	// database any more: the process died there.
	crash bool
}

func (f schedFault) String() string {
	return map[[2]bool]string{{false, false}: "error", {true, false}: "error-after", {false, true}: "crash", {true, true}: "crash-after"}[[2]bool{f.after, f.crash}]
}

var errScheduleFault = errors.New("injected schedFault")

// schedFaults counts the store calls of a service while armed and fails the
// chosen one.
type schedFaults struct {
	mu    sync.Mutex
	armed bool
	at    int
	how   schedFault
	calls []string
	dead  bool
	// only, if set, is the one call to fail (the first by that name).
	only string
}

// armCall fails the next store call named name (an error, nothing done).
func (f *schedFaults) armCall(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.at, f.how, f.calls, f.dead, f.only = true, -1, schedFault{}, nil, false, name
}

func (f *schedFaults) arm(at int, how schedFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.at, f.how, f.calls, f.dead, f.only = true, at, how, nil, false, ""
}

func (f *schedFaults) disarm() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.dead = false, false
	return f.calls
}

func (f *schedFaults) do(name string, call func() error) error {
	f.mu.Lock()
	if f.dead {
		f.mu.Unlock()
		return errScheduleFault
	}
	if !f.armed {
		f.mu.Unlock()
		return call()
	}
	f.calls = append(f.calls, name)
	hit := len(f.calls) == f.at
	if f.only != "" && f.only == name {
		hit, f.only = true, "\x00" // once
	}
	how := f.how
	if hit && how.crash {
		f.dead = true
	}
	f.mu.Unlock()
	if !hit {
		return call()
	}
	if how.after {
		_ = call()
	}
	return errScheduleFault
}

// schedFaultyStore is schedule.Store with schedFaults injected into every call.
type schedFaultyStore struct {
	schedule.Store
	f *schedFaults
}

func (s schedFaultyStore) ClaimSlots(ctx context.Context, c schedule.Claim, slots []schedule.Slot, judge func(schedule.Holding) schedule.Hold) error {
	return s.f.do("ClaimSlots", func() error { return s.Store.ClaimSlots(ctx, c, slots, judge) })
}

func (s schedFaultyStore) ReleaseSlots(ctx context.Context, r schedule.Release, slots []schedule.Slot) error {
	return s.f.do("ReleaseSlots", func() error { return s.Store.ReleaseSlots(ctx, r, slots) })
}

func (s schedFaultyStore) Holdings(ctx context.Context, from string) (hs []schedule.Holding, err error) {
	err = s.f.do("Holdings", func() error { hs, err = s.Store.Holdings(ctx, from); return err })
	return hs, err
}

func (s schedFaultyStore) SweepReleases(ctx context.Context, before time.Time) error {
	return s.f.do("SweepReleases", func() error { return s.Store.SweepReleases(ctx, before) })
}

func (s schedFaultyStore) AppendEvent(ctx context.Context, e schedule.Event) error {
	return s.f.do("AppendEvent", func() error { return s.Store.AppendEvent(ctx, e) })
}

func (s schedFaultyStore) Event(ctx context.Context, rev int64) (e schedule.Event, err error) {
	err = s.f.do("Event", func() error { e, err = s.Store.Event(ctx, rev); return err })
	return e, err
}

func (s schedFaultyStore) LastRevision(ctx context.Context) (r int64, err error) {
	err = s.f.do("LastRevision", func() error { r, err = s.Store.LastRevision(ctx); return err })
	return r, err
}

func (s schedFaultyStore) OldestRevision(ctx context.Context) (r int64, err error) {
	err = s.f.do("OldestRevision", func() error { r, err = s.Store.OldestRevision(ctx); return err })
	return r, err
}

func (s schedFaultyStore) AuditMark(ctx context.Context) (r int64, err error) {
	err = s.f.do("AuditMark", func() error { r, err = s.Store.AuditMark(ctx); return err })
	return r, err
}

func (s schedFaultyStore) SetAuditMark(ctx context.Context, rev int64) error {
	return s.f.do("SetAuditMark", func() error { return s.Store.SetAuditMark(ctx, rev) })
}

func (s schedFaultyStore) SaveAppointment(ctx context.Context, a *molarv1.Appointment) error {
	return s.f.do("SaveAppointment", func() error { return s.Store.SaveAppointment(ctx, a) })
}

func (s schedFaultyStore) SaveBlockout(ctx context.Context, b *molarv1.Blockout) error {
	return s.f.do("SaveBlockout", func() error { return s.Store.SaveBlockout(ctx, b) })
}

// schedFaultyAudit is the audit store with the same schedFaults.
type schedFaultyAudit struct {
	audit.Store
	f *schedFaults
}

func (s schedFaultyAudit) Append(ctx context.Context, e audit.Event) error {
	return s.f.do("audit.Append", func() error { return s.Store.Append(ctx, e) })
}

// bookRig is a book on its own fresh database of the engine under test.
type bookRig struct {
	t      *testing.T
	repo   schedule.Store
	audits audit.Store
	clock  *schedClock
	clinic schedClinic
	f      *schedFaults
	loc    *time.Location
	monday time.Time
}

func newBookRig(t *testing.T, open ScheduleEngine) *bookRig {
	t.Helper()
	ctx := context.Background()
	e := open(t)
	r := &bookRig{t: t, repo: e.Store, audits: e.Audit, f: &schedFaults{}, clinic: schedClinic{clinic.Default()}}
	r.loc, _ = time.LoadLocation(clinic.DefaultTimeZone)
	r.clock = &schedClock{t: time.Date(2030, 1, 1, 8, 0, 0, 0, r.loc)}
	r.monday = time.Date(2030, 1, 7, 0, 0, 0, 0, r.loc)
	for _, p := range []*molarv1.Provider{{Id: "dr-kim", Name: "김하늘 원장", Active: true}, {Id: "dr-park", Name: "박서준 원장", Active: true}} {
		if err := r.repo.SaveProvider(ctx, p, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		if err := r.repo.SaveChair(ctx, &molarv1.Chair{Id: fmt.Sprintf("chair-%d", i), Name: fmt.Sprintf("%d번 체어", i), Position: int32(i), Active: true}, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func newTestID() string { return uuid.Must(uuid.NewV7()).String() }

// service starts a Service over the rig's database, through the schedFaults if
// faulty.
func (r *bookRig) service(faulty bool) *schedule.Service {
	r.t.Helper()
	var st schedule.Store = r.repo
	var as audit.Store = r.audits
	if faulty {
		st, as = schedFaultyStore{r.repo, r.f}, schedFaultyAudit{r.audits, r.f}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := schedule.NewService(schedule.Deps{Store: st, Clinic: r.clinic, Patients: schedPatients{}, Audit: audit.NewRecorder(as, r.clock.Now, newTestID, logger),
		Now: r.clock.Now, NewID: newTestID, Logger: logger})
	if err := svc.Start(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	return svc
}

// day is the n-th working day (Monday to Friday) after the rig's Monday.
func (r *bookRig) day(n int) time.Time {
	return r.monday.AddDate(0, 0, 7*(n/5)+n%5)
}

func at(day time.Time, hour, minute int) time.Time {
	return day.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

// check asserts what must hold after any schedFault and a recovery: every cell
// is held by a live appointment that covers it, every live appointment holds
// all its cells, and every committed change's audit record is on the trail.
func (r *bookRig) check(svc *schedule.Service) {
	r.t.Helper()
	ctx := context.Background()
	hs, err := r.repo.Holdings(ctx, "")
	if err != nil {
		r.t.Fatal(err)
	}
	held := map[schedule.Slot]string{}
	for _, h := range hs {
		held[h.Slot] = h.Claim.Owner
		a, ok := svc.Book().Get(h.Claim.Owner)
		if !ok || !live(a) || !hasSlot(svc.Cells(a), h.Slot) {
			r.t.Errorf("cell %v held by %s without its committed appointment (%v)", h.Slot, h.Claim.Owner, a)
		}
	}
	svc.Book().Each(func(a *molarv1.Appointment) {
		if !live(a) {
			return
		}
		for _, c := range svc.Cells(a) {
			if held[c] != a.GetId() {
				r.t.Errorf("appointment %s does not hold its cell %v (held by %q)", a.GetId(), c, held[c])
			}
		}
	})
	trail := map[string]bool{}
	events, _, err := r.audits.List(ctx, audit.Filter{}, "", 10000)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range events {
		trail[e.ID] = true
	}
	oldest, _ := r.repo.OldestRevision(ctx)
	last, _ := r.repo.LastRevision(ctx)
	for rev := max(oldest, 1); rev <= last; rev++ {
		e, err := r.repo.Event(ctx, rev)
		if err != nil {
			r.t.Fatal(err)
		}
		if e.Audit.ID == "" || !trail[e.Audit.ID] {
			r.t.Errorf("revision %d committed without its audit record on the trail (%q)", rev, e.Audit.ID)
		}
	}
}

func live(a *molarv1.Appointment) bool {
	return a.GetStatus() != molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED && a.GetStatus() != molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW
}

func hasSlot(ss []schedule.Slot, s schedule.Slot) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// schedCommand is one change of the book under test. setup runs unfaulted and
// returns what run changes; run returns the id of what it changed; done
// says whether an acknowledged change is in the fresh book.
type schedCommand struct {
	name  string
	setup func(svc *schedule.Service, day time.Time) string
	run   func(ctx context.Context, svc *schedule.Service, day time.Time, id string) (string, error)
	done  func(svc *schedule.Service, day time.Time, id string) bool
}

func book(ctx context.Context, svc *schedule.Service, provider, chair string, start time.Time, minutes int32) (*molarv1.Appointment, error) {
	return svc.BookAppointment(ctx, schedule.BookInput{PatientID: newTestID(), ProviderID: provider, ChairID: chair, Start: start, Minutes: minutes})
}

func version(svc *schedule.Service, id string) int64 {
	a, _ := svc.Book().Get(id)
	return a.GetVersion()
}

func schedCommands(t *testing.T) []schedCommand {
	booked := func(svc *schedule.Service, day time.Time) string {
		a, err := book(context.Background(), svc, "dr-kim", "chair-1", at(day, 10, 0), 10)
		if err != nil {
			t.Fatal(err)
		}
		return a.GetId()
	}
	appt := func(svc *schedule.Service, id string) *molarv1.Appointment { a, _ := svc.Book().Get(id); return a }
	status := func(to molarv1.AppointmentStatus, reason string) func(ctx context.Context, svc *schedule.Service, day time.Time, id string) (string, error) {
		return func(ctx context.Context, svc *schedule.Service, _ time.Time, id string) (string, error) {
			_, err := svc.SetStatus(ctx, id, to, reason, version(svc, id))
			return id, err
		}
	}
	return []schedCommand{
		{name: "book", setup: func(*schedule.Service, time.Time) string { return "" },
			run: func(ctx context.Context, svc *schedule.Service, day time.Time, _ string) (string, error) {
				a, err := book(ctx, svc, "dr-kim", "chair-1", at(day, 10, 0), 10)
				return a.GetId(), err
			},
			done: func(svc *schedule.Service, _ time.Time, id string) bool { return appt(svc, id) != nil }},
		{name: "move", setup: booked,
			run: func(ctx context.Context, svc *schedule.Service, day time.Time, id string) (string, error) {
				_, err := svc.Move(ctx, id, "dr-park", "chair-2", at(day, 10, 5), 10, version(svc, id))
				return id, err
			},
			done: func(svc *schedule.Service, _ time.Time, id string) bool {
				return appt(svc, id).GetProviderId() == "dr-park"
			}},
		{name: "resize", setup: booked,
			run: func(ctx context.Context, svc *schedule.Service, day time.Time, id string) (string, error) {
				_, err := svc.Move(ctx, id, "dr-kim", "chair-1", at(day, 10, 0), 20, version(svc, id))
				return id, err
			},
			done: func(svc *schedule.Service, _ time.Time, id string) bool { return appt(svc, id).GetMinutes() == 20 }},
		{name: "status", setup: booked, run: status(molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED, ""),
			done: func(svc *schedule.Service, _ time.Time, id string) bool {
				return appt(svc, id).GetStatus() == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED
			}},
		{name: "cancel", setup: booked, run: status(molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED, "환자 요청"),
			done: func(svc *schedule.Service, _ time.Time, id string) bool {
				return appt(svc, id).GetStatus() == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED
			}},
		{name: "blockout", setup: func(*schedule.Service, time.Time) string { return "" },
			run: func(ctx context.Context, svc *schedule.Service, day time.Time, _ string) (string, error) {
				b, err := svc.CreateBlockout(ctx, "", "chair-3", at(day, 16, 0), 30, "장비 점검")
				return b.GetId(), err
			},
			done: func(svc *schedule.Service, _ time.Time, id string) bool {
				_, ok := svc.Book().GetBlockout(id)
				return ok
			}},
		{name: "unblock",
			setup: func(svc *schedule.Service, day time.Time) string {
				b, err := svc.CreateBlockout(context.Background(), "", "chair-3", at(day, 16, 0), 60, "장비 점검")
				if err != nil {
					t.Fatal(err)
				}
				return b.GetId()
			},
			run: func(ctx context.Context, svc *schedule.Service, _ time.Time, id string) (string, error) {
				return id, svc.DeleteBlockout(ctx, id)
			},
			done: func(svc *schedule.Service, _ time.Time, id string) bool {
				_, ok := svc.Book().GetBlockout(id)
				return !ok
			}},
	}
}

// scheduleSurvivesEveryFault fails each store call of each schedCommand in turn, once
// as an error the service sees and once as a crash, and checks that a fresh
// service, after recovery past the lease, finds nothing stuck: no
// appointment locked, no cell held without its committed appointment, every
// acknowledged change present with its audit record.
func scheduleSurvivesEveryFault(t *testing.T, open ScheduleEngine) {
	for _, cmd := range schedCommands(t) {
		t.Run(cmd.name, func(t *testing.T) {
			t.Parallel()
			r := newBookRig(t, open)
			ctx := context.Background()
			n := 0
			// A clean run counts the calls and finds the commit point.
			svc := r.service(true)
			id := cmd.setup(svc, r.day(n))
			r.f.arm(0, schedFault{})
			if _, err := cmd.run(ctx, svc, r.day(n), id); err != nil {
				t.Fatal(err)
			}
			calls := r.f.disarm()
			commitAt := 0
			for i, c := range calls {
				if c == "AppendEvent" && commitAt == 0 {
					commitAt = i + 1
				}
			}
			if commitAt == 0 {
				t.Fatalf("no commit among %v", calls)
			}
			t.Logf("%s: %v", cmd.name, calls)
			for i := 1; i <= len(calls); i++ {
				for _, how := range []schedFault{{}, {after: true}, {crash: true}, {after: true, crash: true}} {
					n++
					day := r.day(n)
					svc := r.service(true)
					id := cmd.setup(svc, day)
					r.f.arm(i, how)
					got, err := cmd.run(ctx, svc, day, id)
					r.f.disarm()
					what := fmt.Sprintf("%s failing call %d (%s) by %v", cmd.name, i, calls[i-1], how)
					if !how.crash && i >= commitAt && err != nil {
						t.Errorf("%s: the change was committed but the client was told %v", what, err)
					}
					// The process is gone; another starts past the lease and recovers.
					r.clock.Advance(schedule.DefaultLease + time.Second)
					fresh := r.service(false)
					if err := fresh.Recover(ctx); err != nil {
						t.Fatalf("%s: recover: %v", what, err)
					}
					if err == nil && !cmd.done(fresh, day, got) {
						t.Errorf("%s: acknowledged change missing", what)
					}
					r.check(fresh)
					if t.Failed() {
						t.Fatalf("after %s", what)
					}
					r.notStuck(fresh, day)
					// Keep the log short, so each start stays quick; the
					// stored copies carry the book.
					if last, err := r.repo.LastRevision(ctx); err != nil || r.repo.PruneEvents(ctx, last) != nil {
						t.Fatal("prune", err)
					}
				}
			}
		})
	}
}

// notStuck changes every appointment of the day once more: none is locked,
// and the time a failed change reached for is free.
func (r *bookRig) notStuck(svc *schedule.Service, day time.Time) {
	r.t.Helper()
	ctx := context.Background()
	snap, err := svc.List(context.Background(), day.Format(time.DateOnly), day.Format(time.DateOnly), nil, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, a := range snap.Appointments {
		if !live(a) {
			continue
		}
		if _, err := svc.Move(ctx, a.GetId(), "dr-kim", "chair-3", at(day, 11, 0), 10, a.GetVersion()); err != nil {
			r.t.Fatalf("appointment %s stuck: move: %v", a.GetId(), err)
		}
		if _, err := svc.SetStatus(ctx, a.GetId(), molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW, "", version(svc, a.GetId())); err != nil {
			r.t.Fatalf("appointment %s stuck: status: %v", a.GetId(), err)
		}
	}
	// Everything the commands reached for is free again.
	for _, b := range []struct {
		provider, chair string
		hour, minute    int
		minutes         int32
	}{{"dr-kim", "chair-1", 10, 0, 20}, {"dr-park", "chair-2", 10, 5, 10}} {
		if _, err := book(ctx, svc, b.provider, b.chair, at(day, b.hour, b.minute), b.minutes); err != nil {
			r.t.Fatalf("time %s %s %02d:%02d not free after recovery: %v", b.provider, b.chair, b.hour, b.minute, err)
		}
	}
	r.check(svc)
}

// claimsHoldForTheLease: cells of an operation that never committed hold
// for the lease and no longer; a committed appointment's cells hold for ever.
func claimsHoldForTheLease(t *testing.T, open ScheduleEngine) {
	r := newBookRig(t, open)
	ctx := context.Background()
	svc := r.service(false)
	day := r.day(0)
	a, err := book(ctx, svc, "dr-kim", "chair-1", at(day, 9, 0), 30)
	if err != nil {
		t.Fatal(err)
	}
	// An operation that claimed 10:00 and died before committing.
	dead := schedule.Claim{Owner: newTestID(), Op: newTestID(), Version: 1, At: r.clock.Now()}
	cells := svc.Cells(&molarv1.Appointment{ProviderId: "dr-park", ChairId: "chair-2", StartTime: tsAt(at(day, 10, 0)), Minutes: 30})
	if err := r.repo.ClaimSlots(ctx, dead, cells, func(schedule.Holding) schedule.Hold { return schedule.HeldByOther }); err != nil {
		t.Fatal(err)
	}
	_, err = book(ctx, svc, "dr-park", "chair-2", at(day, 10, 0), 30)
	if p := services.ProblemOf(err); services.ErrorCode(err) != services.AlreadyExists || p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_SLOT_TAKEN ||
		p.GetResourceKind() != molarv1.ResourceKind_RESOURCE_KIND_PROVIDER || p.GetResourceName() != "박서준 원장" || !p.GetTime().AsTime().Equal(at(day, 10, 0)) {
		t.Fatalf("inside the lease: %v %v", err, p)
	}
	r.clock.Advance(schedule.DefaultLease + time.Second)
	if _, err := book(ctx, svc, "dr-park", "chair-2", at(day, 10, 0), 30); err != nil {
		t.Fatalf("after the lease the cells are free: %v", err)
	}
	// The committed appointment still holds its time.
	_, err = book(ctx, svc, "dr-kim", "chair-3", at(day, 9, 0), 30)
	if p := services.ProblemOf(err); p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_SLOT_TAKEN || p.GetSubjectId() != a.GetId() || p.GetChartNumber() != 101 ||
		p.GetResourceName() != "김하늘 원장" {
		t.Fatalf("committed cells: %v %v", err, p)
	}
	if err := svc.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	r.check(svc)
}

func tsAt(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// cells lists n cells of a provider's column from minute on, in order.
func cells(provider string, minute int64, n int) []schedule.Slot {
	out := make([]schedule.Slot, n)
	for i := range out {
		m := minute + int64(i*schedule.GridMinutes)
		out[i] = schedule.Slot{Day: time.Unix(m*60, 0).UTC().Format(time.DateOnly), Kind: molarv1.ResourceKind_RESOURCE_KIND_PROVIDER, Resource: provider, Minute: m}
	}
	return out
}

// holdings maps each held cell to its claim.
func holdings(t *testing.T, st schedule.Store) map[schedule.Slot]schedule.Claim {
	t.Helper()
	hs, err := st.Holdings(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[schedule.Slot]schedule.Claim{}
	for _, h := range hs {
		out[h.Slot] = h.Claim
	}
	return out
}

var (
	othersHold  = func(schedule.Holding) schedule.Hold { return schedule.HeldByOther }
	nobodyHolds = func(schedule.Holding) schedule.Hold { return schedule.HeldByNobody }
	iHold       = func(schedule.Holding) schedule.Hold { return schedule.HeldByMe }
)

// baseMinute is a Monday morning in 2030, in minutes since the epoch.
var baseMinute = time.Date(2030, 1, 7, 0, 0, 0, 0, time.UTC).Unix() / 60

// overlappingClaimsRace races twenty claims of 30 minutes, each starting
// ten minutes after the one before, so each overlaps its neighbours: the
// winners never overlap, every loser is told who is in the way, and what
// is held afterwards is exactly the winners' cells, each under its
// winner's claim.
func overlappingClaimsRace(t *testing.T, open ScheduleEngine) {
	ctx := context.Background()
	st := open(t).Store
	at := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	type result struct {
		claim schedule.Claim
		slots []schedule.Slot
		err   error
	}
	results := make([]result, 20)
	var wg sync.WaitGroup
	for i := range results {
		results[i] = result{claim: schedule.Claim{Owner: fmt.Sprintf("appt-%02d", i), Op: fmt.Sprintf("op-%02d", i), Version: 1, At: at},
			slots: cells("dr-kim", baseMinute+int64(i*10), 6)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].err = st.ClaimSlots(ctx, results[i].claim, results[i].slots, othersHold)
		}()
	}
	wg.Wait()
	want := map[schedule.Slot]schedule.Claim{}
	for i, r := range results {
		var ce *schedule.ConflictError
		switch {
		case r.err == nil:
			for _, s := range r.slots {
				if w, ok := want[s]; ok {
					t.Errorf("cell %v won by both %s and %s", s, w.Owner, r.claim.Owner)
				}
				want[s] = r.claim
			}
		case errors.As(r.err, &ce):
			if ce.Holder.Owner == r.claim.Owner {
				t.Errorf("claim %d was told it holds its own cell %v", i, ce.Slot)
			}
		default:
			t.Errorf("claim %d: %v", i, r.err)
		}
	}
	got := holdings(t, st)
	for s, c := range got {
		if w, ok := want[s]; !ok || w.Owner != c.Owner || w.Op != c.Op || w.Version != c.Version || !w.At.Equal(c.At) {
			t.Errorf("cell %v is held by %+v; the winner was %+v", s, c, w)
		}
	}
	for s, w := range want {
		if _, ok := got[s]; !ok {
			t.Errorf("winner %s does not hold its cell %v", w.Owner, s)
		}
	}
	t.Logf("%d cells held by the winners", len(want))
}

// claimVerdicts: a claim keeps the cells judged its own as they are, takes
// over cells whose claims no longer count, and, stopped by a cell held by
// another, holds nothing it took.
func claimVerdicts(t *testing.T, open ScheduleEngine) {
	ctx := context.Background()
	st := open(t).Store
	at := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	old := schedule.Claim{Owner: "appt-a", Op: "op-a1", Version: 1, At: at}
	if err := st.ClaimSlots(ctx, old, cells("dr-kim", baseMinute, 2), othersHold); err != nil {
		t.Fatal(err)
	}
	// The same appointment, a later version, over its own cells and more.
	next := schedule.Claim{Owner: "appt-a", Op: "op-a2", Version: 2, At: at.Add(time.Minute)}
	if err := st.ClaimSlots(ctx, next, cells("dr-kim", baseMinute, 4), iHold); err != nil {
		t.Fatal(err)
	}
	got := holdings(t, st)
	for i, s := range cells("dr-kim", baseMinute, 4) {
		want := next
		if i < 2 {
			want = old
		}
		if c := got[s]; c.Op != want.Op || c.Version != want.Version {
			t.Errorf("cell %d held by %+v, want %+v", i, c, want)
		}
	}
	// Another appointment takes over claims that no longer count.
	taker := schedule.Claim{Owner: "appt-b", Op: "op-b1", Version: 1, At: at.Add(2 * time.Minute)}
	if err := st.ClaimSlots(ctx, taker, cells("dr-kim", baseMinute, 3), nobodyHolds); err != nil {
		t.Fatal(err)
	}
	got = holdings(t, st)
	for i, s := range cells("dr-kim", baseMinute, 4) {
		want := taker
		if i == 3 {
			want = next
		}
		if c := got[s]; c.Owner != want.Owner || c.Op != want.Op || !c.At.Equal(want.At) {
			t.Errorf("after take-over cell %d held by %+v, want %+v", i, c, want)
		}
	}
	// A claim that meets a held cell last gives back all it took.
	blocked := schedule.Claim{Owner: "appt-c", Op: "op-c1", Version: 1, At: at.Add(3 * time.Minute)}
	held := cells("dr-kim", baseMinute+15, 1)[0]
	err := st.ClaimSlots(ctx, blocked, append(cells("dr-kim", baseMinute+20, 3), held), othersHold)
	var ce *schedule.ConflictError
	if !errors.As(err, &ce) || ce.Slot != held || ce.Holder.Owner != "appt-a" || ce.Holder.Op != "op-a2" || ce.Holder.Version != 2 {
		t.Fatalf("blocked claim: %v", err)
	}
	for s, c := range holdings(t, st) {
		if c.Owner == "appt-c" {
			t.Errorf("the blocked claim still holds %v", s)
		}
	}
}

// releaseTakesOnlyWhatItSelects: a release gives up only its owner's
// claims, and only those of its operation or up to its version.
func releaseTakesOnlyWhatItSelects(t *testing.T, open ScheduleEngine) {
	ctx := context.Background()
	st := open(t).Store
	at := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	v1 := schedule.Claim{Owner: "appt-a", Op: "op-1", Version: 1, At: at}
	v2 := schedule.Claim{Owner: "appt-a", Op: "op-2", Version: 2, At: at}
	other := schedule.Claim{Owner: "appt-b", Op: "op-b", Version: 1, At: at}
	first, second, third := cells("dr-kim", baseMinute, 2), cells("dr-kim", baseMinute+10, 2), cells("dr-kim", baseMinute+20, 2)
	for _, c := range []struct {
		claim schedule.Claim
		slots []schedule.Slot
	}{{v1, first}, {v2, second}, {other, third}} {
		if err := st.ClaimSlots(ctx, c.claim, c.slots, othersHold); err != nil {
			t.Fatal(err)
		}
	}
	all := append(append(append([]schedule.Slot{}, first...), second...), third...)
	count := func(owner, op string) int {
		n := 0
		for _, c := range holdings(t, st) {
			if c.Owner == owner && (op == "" || c.Op == op) {
				n++
			}
		}
		return n
	}
	for _, step := range []struct {
		name      string
		r         schedule.Release
		v1, v2, b int
	}{
		{"someone else's owner", schedule.Release{Owner: "appt-c", At: at}, 2, 2, 2},
		{"another operation", schedule.Release{Owner: "appt-a", Op: "op-3", At: at}, 2, 2, 2},
		{"up to version 1", schedule.Release{Owner: "appt-a", UpTo: 1, At: at}, 0, 2, 2},
		{"the operation", schedule.Release{Owner: "appt-a", Op: "op-2", At: at}, 0, 0, 2},
		{"again", schedule.Release{Owner: "appt-a", At: at}, 0, 0, 2},
	} {
		if err := st.ReleaseSlots(ctx, step.r, all); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if a, b, c := count("appt-a", "op-1"), count("appt-a", "op-2"), count("appt-b", ""); a != step.v1 || b != step.v2 || c != step.b {
			t.Fatalf("after releasing %s: held %d/%d/%d, want %d/%d/%d", step.name, a, b, c, step.v1, step.v2, step.b)
		}
	}
	if err := st.SweepReleases(ctx, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := count("appt-b", ""); n != 2 {
		t.Fatalf("a sweep took %d of another's cells", 2-n)
	}
	// Holdings from a later day leave out the earlier ones.
	later := cells("dr-kim", baseMinute+24*60, 1)
	if err := st.ClaimSlots(ctx, other, later, othersHold); err != nil {
		t.Fatal(err)
	}
	hs, err := st.Holdings(ctx, later[0].Day)
	if err != nil || len(hs) != 1 || hs[0].Slot != later[0] {
		t.Fatalf("holdings from %s: %v %v", later[0].Day, hs, err)
	}
}

// eventRevisionIsOneWinner races twenty writers for revision 1: exactly
// one stores its event, the others are told AlreadyExists, and the log
// reads back the winner's event whole.
func eventRevisionIsOneWinner(t *testing.T, open ScheduleEngine) {
	ctx := context.Background()
	st := open(t).Store
	at := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	errs := make([]error, 20)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.AppendEvent(ctx, schedule.Event{Revision: 1, Op: fmt.Sprintf("op-%02d", i),
				Appointment: &molarv1.Appointment{Id: fmt.Sprintf("appt-%02d", i), ProviderId: "dr-kim", ChairId: "chair-1", StartTime: tsAt(at), Minutes: 30, Version: 1, Revision: 1},
				Audit:       audit.Event{ID: fmt.Sprintf("audit-%02d", i), Time: at, Action: molarv1.AuditAction_AUDIT_ACTION_APPOINTMENT_BOOKED, TargetType: "patient", TargetID: "p1", Detail: "booked"}})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch services.ErrorCode(err) {
		case 0:
			if winner >= 0 {
				t.Fatalf("both %d and %d stored revision 1", winner, i)
			}
			winner = i
		case services.AlreadyExists:
		default:
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("nobody stored revision 1")
	}
	e, err := st.Event(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if e.Revision != 1 || e.Op != fmt.Sprintf("op-%02d", winner) || e.Appointment.GetId() != fmt.Sprintf("appt-%02d", winner) ||
		!e.Appointment.GetStartTime().AsTime().Equal(at) || e.Audit.ID != fmt.Sprintf("audit-%02d", winner) || !e.Audit.Time.Equal(at) ||
		e.Audit.Action != molarv1.AuditAction_AUDIT_ACTION_APPOINTMENT_BOOKED || e.Audit.Detail != "booked" || e.Blockout != nil {
		t.Fatalf("revision 1 reads back as %+v; writer %d won", e, winner)
	}
	if _, err := st.Event(ctx, 2); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("revision 2: %v", err)
	}
	if err := st.AppendEvent(ctx, schedule.Event{Revision: 2, Op: "op-b", Blockout: &molarv1.Blockout{Id: "b1", ChairId: "chair-1", StartTime: tsAt(at), Minutes: 30, Revision: 2}}); err != nil {
		t.Fatal(err)
	}
	if e, err := st.Event(ctx, 2); err != nil || e.Blockout.GetId() != "b1" || e.Appointment != nil || e.Audit.ID != "" {
		t.Fatalf("revision 2 reads back as %+v (%v)", e, err)
	}
	for _, c := range []struct {
		prune, oldest, last int64
	}{{0, 1, 2}, {2, 2, 2}, {3, 0, 0}} {
		if err := st.PruneEvents(ctx, c.prune); err != nil {
			t.Fatal(err)
		}
		oldest, err1 := st.OldestRevision(ctx)
		last, err2 := st.LastRevision(ctx)
		if err1 != nil || err2 != nil || oldest != c.oldest || last != c.last {
			t.Fatalf("pruned below %d: oldest %d, last %d (%v %v)", c.prune, oldest, last, err1, err2)
		}
	}
}

// copiesNeverGoBack: the durable copies and the audit mark keep the newest
// they were given, whatever order they arrive in.
func copiesNeverGoBack(t *testing.T, open ScheduleEngine) {
	ctx := context.Background()
	st := open(t).Store
	at := time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC)
	for _, rev := range []int64{3, 5, 4} {
		a := &molarv1.Appointment{Id: "appt-a", PatientId: "p1", ProviderId: "dr-kim", ChairId: "chair-1", StartTime: tsAt(at.Add(time.Duration(rev) * time.Hour)),
			Minutes: 30, Version: rev, Revision: rev}
		if err := st.SaveAppointment(ctx, a); err != nil {
			t.Fatal(err)
		}
		b := &molarv1.Blockout{Id: "b1", ChairId: "chair-2", StartTime: tsAt(at), Minutes: 60, Revision: rev, Deleted: rev == 4}
		if err := st.SaveBlockout(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SaveBlockout(ctx, &molarv1.Blockout{Id: "b2", ChairId: "chair-2", StartTime: tsAt(at), Minutes: 60, Revision: 6, Deleted: true}); err != nil {
		t.Fatal(err)
	}
	as, bs, err := st.Range(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].GetRevision() != 5 || !as[0].GetStartTime().AsTime().Equal(at.Add(5*time.Hour)) {
		t.Fatalf("appointments: %v", as)
	}
	if len(bs) != 1 || bs[0].GetId() != "b1" || bs[0].GetRevision() != 5 {
		t.Fatalf("live blockouts: %v", bs)
	}
	for _, m := range []int64{7, 3} {
		if err := st.SetAuditMark(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := st.AuditMark(ctx); err != nil || m != 7 {
		t.Fatalf("audit mark %d (%v), want 7", m, err)
	}
}

// copiesReadByRangeIDAndPatient: the stored copies are read by start range
// (either end open), by id and by patient, without loading the rest.
func copiesReadByRangeIDAndPatient(t *testing.T, open ScheduleEngine) {
	ctx := context.Background()
	st := open(t).Store
	day := time.Date(2030, 3, 4, 0, 0, 0, 0, time.UTC)
	for i := range 6 {
		// One appointment a day at 09:00; patient p1 on even days.
		patient := "p2"
		if i%2 == 0 {
			patient = "p1"
		}
		a := &molarv1.Appointment{Id: fmt.Sprintf("a%d", i), PatientId: patient, ProviderId: "dr-kim", ChairId: "chair-1",
			StartTime: tsAt(day.AddDate(0, 0, i).Add(9 * time.Hour)), Minutes: 30, Version: 1, Revision: int64(i + 1)}
		if err := st.SaveAppointment(ctx, a); err != nil {
			t.Fatal(err)
		}
		b := &molarv1.Blockout{Id: fmt.Sprintf("b%d", i), ChairId: "chair-2", StartTime: tsAt(day.AddDate(0, 0, i).Add(12 * time.Hour)), Minutes: 60,
			Revision: int64(i + 10), Deleted: i == 3}
		if err := st.SaveBlockout(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(as []*molarv1.Appointment, bs []*molarv1.Blockout) string {
		var out []string
		for _, a := range as {
			out = append(out, a.GetId())
		}
		for _, b := range bs {
			out = append(out, b.GetId())
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		from, to time.Time
		want     string
	}{
		{day.AddDate(0, 0, 1), day.AddDate(0, 0, 3), "a1 a2 b1 b2"},
		// The range is by start: half open, exact to the instant.
		{day.Add(9 * time.Hour), day.Add(9 * time.Hour), ""},
		{day.Add(9 * time.Hour), day.Add(9*time.Hour + time.Second), "a0"},
		{day.AddDate(0, 0, 4), time.Time{}, "a4 a5 b4 b5"},
		{time.Time{}, day.AddDate(0, 0, 1), "a0 b0"},
		// A removed blockout is never in a range.
		{day.AddDate(0, 0, 3), day.AddDate(0, 0, 4), "a3"},
	} {
		as, bs, err := st.Range(ctx, c.from, c.to)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(as, bs); got != c.want {
			t.Errorf("range %v to %v: %q, want %q", c.from, c.to, got, c.want)
		}
	}
	a, err := st.Appointment(ctx, "a2")
	if err != nil || a.GetPatientId() != "p1" || !a.GetStartTime().AsTime().Equal(day.AddDate(0, 0, 2).Add(9*time.Hour)) || a.GetRevision() != 3 {
		t.Fatalf("appointment a2: %v (%v)", a, err)
	}
	if _, err := st.Appointment(ctx, "nobody"); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("unknown appointment: %v, want not found", err)
	}
	b, err := st.Blockout(ctx, "b3")
	if err != nil || !b.GetDeleted() || b.GetRevision() != 13 {
		t.Fatalf("removed blockout b3: %v (%v)", b, err)
	}
	if _, err := st.Blockout(ctx, "nothing"); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("unknown blockout: %v, want not found", err)
	}
	mine, err := st.PatientAppointments(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(mine, nil); got != "a0 a2 a4" {
		t.Fatalf("p1's appointments: %q", got)
	}
	if none, err := st.PatientAppointments(ctx, "p9"); err != nil || len(none) != 0 {
		t.Fatalf("unknown patient's appointments: %v (%v)", none, err)
	}
}

// bookHoldsAWindow: a process keeps only the weeks around today in memory.
// Older days are read from the store when asked for, with every change the
// log has that their copies lack, and an old appointment is changed like a
// new one.
func bookHoldsAWindow(t *testing.T, open ScheduleEngine) {
	ctx := context.Background()
	r := newBookRig(t, open)
	then := r.service(false)
	old := r.day(0)
	patient := newTestID()
	a, err := then.BookAppointment(ctx, schedule.BookInput{PatientID: patient, ProviderID: "dr-kim", ChairID: "chair-1", Start: at(old, 10, 0), Minutes: 30})
	if err != nil {
		t.Fatal(err)
	}
	b, err := then.CreateBlockout(ctx, "", "chair-2", at(old, 12, 0), 60, "점심")
	if err != nil {
		t.Fatal(err)
	}
	// A change whose copy was never saved: only the log has it.
	broken := r.f
	faulty := r.service(true)
	broken.armCall("SaveAppointment")
	seated, err := faulty.SetStatus(ctx, a.GetId(), molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED, "", a.GetVersion())
	broken.disarm()
	if err != nil {
		t.Fatal(err)
	}

	// Months later a process starts: the old day is not in its memory.
	r.clock.Advance(time.Duration(schedule.PastDays+40) * 24 * time.Hour)
	now := r.service(false)
	if _, ok := now.Book().Get(a.GetId()); ok {
		t.Fatalf("an appointment %d days old was loaded at start", schedule.PastDays+40)
	}
	if m := now.Book().Missing(schedule.Filter{From: old.Format(time.DateOnly), To: old.Format(time.DateOnly)}); len(m) != 1 {
		t.Fatalf("days missing from the book: %v", m)
	}
	// Its patient's history has it, as of the log.
	up, past, err := now.PatientAppointments(ctx, patient)
	if err != nil || len(up) != 0 || len(past) != 1 || past[0].GetId() != a.GetId() {
		t.Fatalf("patient's appointments: %v %v (%v)", up, past, err)
	}
	// The day view reads it, with the blockout, as of the log.
	snap, err := now.List(ctx, old.Format(time.DateOnly), old.Format(time.DateOnly), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Appointments) != 1 || snap.Appointments[0].GetVersion() != seated.GetVersion() || len(snap.Blockouts) != 1 || snap.Blockouts[0].GetId() != b.GetId() {
		t.Fatalf("old day: %v %v, want version %d and blockout %s", snap.Appointments, snap.Blockouts, seated.GetVersion(), b.GetId())
	}
	// Another process changes it; this one, which now holds the day, follows.
	other := r.service(false)
	done, err := other.SetStatus(ctx, a.GetId(), molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED, "환자 요청", seated.GetVersion())
	if err != nil {
		t.Fatalf("cancelling an old appointment: %v", err)
	}
	if err := other.DeleteBlockout(ctx, b.GetId()); err != nil {
		t.Fatalf("removing an old blockout: %v", err)
	}
	now.Recover(ctx) // catches up with the log
	snap, err = now.List(ctx, old.Format(time.DateOnly), old.Format(time.DateOnly), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Appointments) != 1 || snap.Appointments[0].GetVersion() != done.GetVersion() || len(snap.Blockouts) != 0 {
		t.Fatalf("old day after another process's change: %v %v", snap.Appointments, snap.Blockouts)
	}
	// A process that never looked at the day changes it by id.
	fresh := r.service(false)
	if _, err := fresh.SetStatus(ctx, a.GetId(), molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED, "", done.GetVersion()); err == nil {
		t.Fatal("a cancelled appointment went back to confirmed")
	} else if services.ErrorCode(err) != services.FailedPrecondition {
		t.Fatalf("changing an old appointment by id: %v", err)
	}
	if _, err := fresh.SetStatus(ctx, a.GetId(), molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED, "", seated.GetVersion()); services.ErrorCode(err) != services.Aborted {
		t.Fatalf("a change from a stale version of an old appointment: %v, want aborted", err)
	}
	if err := fresh.DeleteBlockout(ctx, b.GetId()); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("removing a removed old blockout: %v, want not found", err)
	}
}

// resourceChangesCarryTheirAudit: saving a provider, a chair or an
// appointment type while the audit trail refuses appends succeeds for the
// caller (the change and its record commit in one write), and the record
// is on the trail exactly once after a recovery pass, however often it
// runs.
func resourceChangesCarryTheirAudit(t *testing.T, open ScheduleEngine) {
	ctx := context.Background()
	r := newBookRig(t, open)
	rig := newTrailRig(r.audits, false, r.clock.Now, r.repo)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := schedule.NewService(schedule.Deps{Store: r.repo, Clinic: r.clinic, Patients: schedPatients{}, Audit: rig.rec,
		Now: r.clock.Now, NewID: newTestID, Logger: logger})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rig.gate.setFailing(true)
	p, err := svc.SaveProvider(ctx, &molarv1.Provider{Name: "이서연 원장", Color: "#336699", Active: true})
	if err != nil {
		t.Fatalf("saving a provider while the trail fails: %v", err)
	}
	c, err := svc.SaveChair(ctx, &molarv1.Chair{Name: "4번 체어", Position: 4, Active: true})
	if err != nil {
		t.Fatalf("saving a chair while the trail fails: %v", err)
	}
	ty, err := svc.SaveType(ctx, &molarv1.AppointmentType{NameKo: "스케일링", NameEn: "Scaling", DefaultMinutes: 40, Active: true})
	if err != nil {
		t.Fatalf("saving a type while the trail fails: %v", err)
	}
	ps, cs, ts, err := r.repo.Resources(ctx)
	if err != nil || len(ps) != 3 || len(cs) != 4 || len(ts) != 1 {
		t.Fatalf("resources after saving: %d providers, %d chairs, %d types (%v)", len(ps), len(cs), len(ts), err)
	}
	rig.gate.setFailing(false)
	for range 2 {
		rig.recover(t)
		for _, id := range []string{p.GetId(), c.GetId(), ty.GetId()} {
			if got := rig.events(t, id, molarv1.AuditAction_AUDIT_ACTION_SCHEDULE_RESOURCES_CHANGED); len(got) != 1 {
				t.Fatalf("%d audit records of the change to %s after recovery, want 1", len(got), id)
			}
		}
	}
}
