package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// bookTest is a server with the demo resources, a few patients and a front
// desk token.
type bookTest struct {
	ts       *testServer
	desk     string
	patients []string
	loc      *time.Location
	day      time.Time // a future Monday, 00:00 in the clinic's zone
}

func newBookTest(t *testing.T, change ...func(*Config)) *bookTest {
	t.Helper()
	ctx := context.Background()
	ts := startServer(t, change...)
	if err := saveDemoResources(ctx, ts.db.schedule, 4); err != nil {
		t.Fatal(err)
	}
	if err := ts.app.schedule.ReloadResources(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ts.app.patients.Import(ctx, demoPatients(20, 3, time.Now()), ts.db.patients.InsertMany); err != nil {
		t.Fatal(err)
	}
	ts.addStaff(t, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
	_, tok := ts.login(t, "desk@clinic.test", "front-counter-1")
	loc, _ := time.LoadLocation("Asia/Seoul")
	day := time.Now().In(loc).AddDate(0, 0, 7)
	for day.Weekday() != time.Monday {
		day = day.AddDate(0, 0, 1)
	}
	day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
	return &bookTest{ts: ts, desk: tok, patients: ts.app.patients.IDs(), loc: loc, day: day}
}

func (b *bookTest) client(url string) molarv1connect.ScheduleServiceClient {
	if url == "" {
		url = b.ts.URL
	}
	return molarv1connect.NewScheduleServiceClient(http.DefaultClient, url, bearer(b.desk))
}

func (b *bookTest) at(hour, minute int) *timestamppb.Timestamp {
	return timestamppb.New(b.day.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute))
}

func (b *bookTest) book(ctx context.Context, c molarv1connect.ScheduleServiceClient, patient int, provider, chair string, hour, minute int, minutes int32) (*molarv1.Appointment, error) {
	res, err := c.BookAppointment(ctx, connect.NewRequest(&molarv1.BookAppointmentRequest{
		PatientId: b.patients[patient%len(b.patients)], ProviderId: provider, ChairId: chair, StartTime: b.at(hour, minute), Minutes: minutes, TypeId: "checkup"}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetAppointment(), nil
}

// TestBookingRace: many front desks book overlapping times for one dentist
// at once, each in another chair. Exactly one wins; the others are told
// what is in the way.
func TestBookingRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBookTest(t)
	c := b.client("")
	const n = 16
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chair := fmt.Sprintf("chair-%d", 1+i%5)
			_, err := b.book(ctx, c, i, "dr-kim", chair, 10, 5*(i%4), 30)
			var ce *connect.Error
			switch {
			case err == nil:
				wins.Add(1)
			case errors.As(err, &ce) && ce.Code() == connect.CodeAlreadyExists:
				conflicts.Add(1)
				if ce.Message() == "" {
					t.Error("conflict without a message")
				}
			default:
				t.Errorf("booking %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("wins %d, conflicts %d; want 1 and %d", wins.Load(), conflicts.Load(), n-1)
	}
	// A chair race: different dentists, same chair, same time.
	var chairWins atomic.Int32
	for i, p := range []string{"dr-park", "dr-lee", "hyg-lee"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.book(ctx, c, i, p, "chair-3", 15, 0, 30); err == nil {
				chairWins.Add(1)
			} else if connect.CodeOf(err) != connect.CodeAlreadyExists {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if chairWins.Load() != 1 {
		t.Fatalf("%d bookings of one chair at one time won", chairWins.Load())
	}
	list, err := c.ListSchedule(ctx, connect.NewRequest(&molarv1.ListScheduleRequest{StartDate: b.day.Format(time.DateOnly), EndDate: b.day.Format(time.DateOnly)}))
	if err != nil || len(list.Msg.GetAppointments()) != 2 {
		t.Fatalf("book has %d appointments (%v), want 2", len(list.Msg.GetAppointments()), err)
	}
}

func TestStatusTransitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBookTest(t)
	c := b.client("")
	set := func(a *molarv1.Appointment, to molarv1.AppointmentStatus, reason string) (*molarv1.Appointment, error) {
		res, err := c.SetAppointmentStatus(ctx, connect.NewRequest(&molarv1.SetAppointmentStatusRequest{Id: a.GetId(), Status: to, Reason: reason, Version: a.GetVersion()}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetAppointment(), nil
	}
	S := molarv1.AppointmentStatus_value
	all := []molarv1.AppointmentStatus{}
	for v := range molarv1.AppointmentStatus_name {
		if v != 0 {
			all = append(all, molarv1.AppointmentStatus(v))
		}
	}
	allowed := map[string]bool{
		"BOOKED>CONFIRMED": true, "BOOKED>ARRIVED": true, "BOOKED>CANCELLED": true, "BOOKED>NO_SHOW": true,
		"CONFIRMED>ARRIVED": true, "CONFIRMED>CANCELLED": true, "CONFIRMED>NO_SHOW": true,
		"ARRIVED>IN_CHAIR": true, "ARRIVED>CANCELLED": true, "IN_CHAIR>COMPLETED": true,
	}
	// Reach each status by the shortest valid path, then try every target.
	paths := map[molarv1.AppointmentStatus][]molarv1.AppointmentStatus{
		molarv1.AppointmentStatus_APPOINTMENT_STATUS_BOOKED:    nil,
		molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED: {2},
		molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED:   {3},
		molarv1.AppointmentStatus_APPOINTMENT_STATUS_IN_CHAIR:  {3, 4},
		molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED: {3, 4, 5},
		molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED: {6},
		molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW:   {7},
	}
	slot := 0
	_ = S
	for from, path := range paths {
		for _, to := range all {
			slot++
			a, err := b.book(ctx, c, slot, []string{"dr-kim", "dr-park", "dr-lee"}[slot%3], fmt.Sprintf("chair-%d", 1+slot%3), 9+(slot/3)/12, 5*((slot/3)%12), 5)
			if err != nil {
				t.Fatalf("booking for %v→%v: %v", from, to, err)
			}
			for _, step := range path {
				if a, err = set(a, step, "사정"); err != nil {
					t.Fatalf("path to %v: %v", from, err)
				}
			}
			key := statusName(from) + ">" + statusName(to)
			got, err := set(a, to, "환자 요청")
			if allowed[key] {
				if err != nil {
					t.Errorf("%s refused: %v", key, err)
				} else if len(got.GetHistory()) != len(path)+2 || got.GetHistory()[len(got.GetHistory())-1].GetBy() != "desk@clinic.test" {
					t.Errorf("%s: history %v", key, got.GetHistory())
				}
			} else if connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Errorf("%s: %v, want failed_precondition", key, err)
			}
		}
	}
	// A stale version is refused.
	a, _ := b.book(ctx, c, 1, "dr-kim", "chair-1", 16, 0, 30)
	if _, err := set(a, molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := set(a, molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED, ""); connect.CodeOf(err) != connect.CodeAborted {
		t.Fatalf("stale version: %v", err)
	}
	// Cancelling frees the time.
	c2, _ := b.book(ctx, c, 2, "dr-park", "chair-2", 16, 0, 30)
	if _, err := set(c2, molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED, ""); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("cancel without reason: %v", err)
	}
	if _, err := set(c2, molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED, "환자 요청"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.book(ctx, c, 3, "dr-park", "chair-2", 16, 0, 30); err != nil {
		t.Fatalf("time of a cancelled visit not free: %v", err)
	}
}

func statusName(s molarv1.AppointmentStatus) string {
	return s.String()[len("APPOINTMENT_STATUS_"):]
}

func TestHoursAndBlockouts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBookTest(t)
	if _, err := b.ts.app.clinic.Update(ctx, func() *molarv1.Clinic { c, _ := b.ts.app.clinic.Get(ctx); return c }()); err != nil {
		t.Fatal(err)
	}
	c := b.client("")
	for name, tc := range map[string][2]int{"before opening": {8, 30}, "lunch": {13, 0}, "after closing": {17, 45}} {
		if _, err := b.book(ctx, c, 1, "dr-kim", "chair-1", tc[0], tc[1], 30); connect.CodeOf(err) != connect.CodeFailedPrecondition {
			t.Errorf("%s: %v, want failed_precondition", name, err)
		}
	}
	if _, err := b.book(ctx, c, 1, "dr-kim", "chair-1", 9, 3, 30); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("off the grid: %v", err)
	}
	if _, err := c.CreateBlockout(ctx, connect.NewRequest(&molarv1.CreateBlockoutRequest{ChairId: "chair-2", StartTime: b.at(10, 0), Minutes: 60, Reason: "장비 점검"})); err != nil {
		t.Fatal(err)
	}
	if _, err := b.book(ctx, c, 1, "dr-park", "chair-2", 10, 30, 30); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("over a blockout: %v", err)
	}
	// A dentist holds the override permission.
	b.ts.addStaff(t, "dr@clinic.test", "dentist-password-1", molarv1.Role_ROLE_DENTIST)
	_, dr := b.ts.login(t, "dr@clinic.test", "dentist-password-1")
	over := molarv1connect.NewScheduleServiceClient(http.DefaultClient, b.ts.URL, bearer(dr))
	if _, err := b.book(ctx, over, 1, "dr-park", "chair-2", 10, 30, 30); err != nil {
		t.Errorf("override over a blockout: %v", err)
	}
	if _, err := b.book(ctx, over, 2, "dr-kim", "chair-1", 18, 0, 30); err != nil {
		t.Errorf("override after closing: %v", err)
	}
	slots, err := c.FindFreeSlots(ctx, connect.NewRequest(&molarv1.FindFreeSlotsRequest{ProviderId: "dr-lee", Minutes: 60,
		StartDate: b.day.Format(time.DateOnly), EndDate: b.day.Format(time.DateOnly), Limit: 3}))
	if err != nil || len(slots.Msg.GetSlots()) != 3 || !slots.Msg.GetSlots()[0].GetStartTime().AsTime().Equal(b.at(9, 0).AsTime()) {
		t.Fatalf("free slots %v %v", slots, err)
	}
	// Spread offers: the first free start of each morning and afternoon (the
	// afternoon begins at the lunch break), reaching into the next day.
	spread, err := c.FindFreeSlots(ctx, connect.NewRequest(&molarv1.FindFreeSlotsRequest{ProviderId: "dr-lee", Minutes: 60,
		StartDate: b.day.Format(time.DateOnly), EndDate: b.day.AddDate(0, 0, 1).Format(time.DateOnly), Limit: 3, Spread: true}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range spread.Msg.GetSlots() {
		got = append(got, s.GetStartTime().AsTime().In(b.loc).Format("Mon 15:04"))
	}
	if want := []string{"Mon 09:00", "Mon 14:00", "Tue 09:00"}; !slices.Equal(got, want) {
		t.Errorf("spread offers %v, want %v", got, want)
	}
}

// watch collects a stream's messages into a state keyed by id, tracking
// revisions, until ctx ends or stop returns true.
type watchState struct {
	appts map[string]*molarv1.Appointment
	rev   int64
	seen  map[int64]bool
	// latest is rev, for other goroutines.
	latest atomic.Int64
}

func (w *watchState) consume(t *testing.T, stream *connect.ServerStreamForClient[molarv1.WatchScheduleResponse], stop func(int) bool) error {
	n := 0
	for stream.Receive() {
		m := stream.Msg()
		switch ev := m.GetEvent().(type) {
		case *molarv1.WatchScheduleResponse_Snapshot:
			w.appts = map[string]*molarv1.Appointment{}
			for _, a := range ev.Snapshot.GetAppointments() {
				w.appts[a.GetId()] = a
			}
		case *molarv1.WatchScheduleResponse_Appointment:
			if w.seen[m.GetRevision()] {
				t.Errorf("revision %d delivered twice", m.GetRevision())
			}
			if m.GetRevision() <= w.rev {
				t.Errorf("revision %d after %d", m.GetRevision(), w.rev)
			}
			w.seen[m.GetRevision()] = true
			w.appts[ev.Appointment.GetId()] = ev.Appointment
		}
		w.rev = m.GetRevision()
		w.latest.Store(w.rev)
		n++
		if stop(n) {
			return nil
		}
	}
	return stream.Err()
}

// finished reports whether a channel is closed.
func finished(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// TestWatchResumesWithoutLossOrRepeat drops the stream at random points
// while bookings happen and reconnects from the last revision received.
func TestWatchResumesWithoutLossOrRepeat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBookTest(t)
	c := b.client("")
	day := b.day.Format(time.DateOnly)
	const total = 40
	done := make(chan struct{})
	w := &watchState{appts: map[string]*molarv1.Appointment{}, seen: map[int64]bool{}}
	go func() {
		defer close(done)
		for i := range total {
			a, err := b.book(ctx, c, i, []string{"dr-kim", "dr-park", "dr-lee", "hyg-lee"}[i%4], fmt.Sprintf("chair-%d", 1+i%4), 9+(i/4)/12, 5*((i/4)%12), 5)
			if err != nil {
				t.Error(err)
				return
			}
			// Every few bookings, let the watcher catch up, so that it cuts
			// and resumes its stream several times however slow it runs.
			if i%5 == 4 {
				deadline := time.Now().Add(2 * time.Minute)
				for w.latest.Load() < a.GetRevision() && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	reconnects := 0
	for {
		// The stream is cut after a few events, or when the writer is done;
		// never by a clock a loaded machine can miss.
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-done:
				cancel()
			case <-sctx.Done():
			}
		}()
		stream, err := c.WatchSchedule(sctx, connect.NewRequest(&molarv1.WatchScheduleRequest{StartDate: day, EndDate: day, SinceRevision: w.rev}))
		if err != nil {
			cancel()
			if finished(done) && connect.CodeOf(err) == connect.CodeCanceled {
				// The writer finished while this stream was being opened,
				// which cancelled it: the drain below reads the rest.
				break
			}
			t.Fatal(err)
		}
		cut := 1 + rng.IntN(6)
		_ = w.consume(t, stream, func(n int) bool { return n >= cut })
		cancel()
		reconnects++
		if finished(done) {
			break
		}
	}
	// Drain what is left after the writer finished.
	list, err := c.ListSchedule(ctx, connect.NewRequest(&molarv1.ListScheduleRequest{StartDate: day, EndDate: day}))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	stream, err := c.WatchSchedule(sctx, connect.NewRequest(&molarv1.WatchScheduleRequest{StartDate: day, EndDate: day, SinceRevision: w.rev}))
	if err != nil {
		t.Fatal(err)
	}
	if w.rev < list.Msg.GetRevision() {
		if err := w.consume(t, stream, func(int) bool { return w.rev >= list.Msg.GetRevision() }); err != nil {
			t.Fatalf("draining from %d to %d: %v", w.rev, list.Msg.GetRevision(), err)
		}
	}
	if len(w.appts) != total || len(list.Msg.GetAppointments()) != total {
		t.Fatalf("watcher has %d appointments, book %d, want %d (after %d reconnects)", len(w.appts), len(list.Msg.GetAppointments()), total, reconnects)
	}
	if reconnects < 5 {
		t.Fatalf("only %d reconnects; the test did not exercise resuming", reconnects)
	}
}

// TestTwoServersOneDatabase: a booking made through one server reaches a
// stream held by another server on the same database.
func TestTwoServersOneDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBookTest(t)
	other := startServer(t, b.ts.same())
	day := b.day.Format(time.DateOnly)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := b.client(other.URL).WatchSchedule(sctx, connect.NewRequest(&molarv1.WatchScheduleRequest{StartDate: day, EndDate: day}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() || stream.Msg().GetSnapshot() == nil {
		t.Fatalf("no snapshot first: %v", stream.Err())
	}
	start := time.Now()
	a, err := b.book(ctx, b.client(""), 0, "dr-kim", "chair-1", 11, 0, 30)
	if err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
		if got := stream.Msg().GetAppointment(); got != nil && got.GetId() == a.GetId() {
			t.Logf("delivered across servers in %v", time.Since(start))
			return
		}
	}
	t.Fatalf("the other server's stream never saw the booking: %v", stream.Err())
}

// TestStreamEndsWhenSessionEnds: signing out ends the session's open
// streams at once, not when the access token expires.
func TestStreamEndsWhenSessionEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBookTest(t)
	hc, tok := b.ts.login(t, "desk@clinic.test", "front-counter-1")
	day := b.day.Format(time.DateOnly)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := molarv1connect.NewScheduleServiceClient(http.DefaultClient, b.ts.URL, bearer(tok)).
		WatchSchedule(sctx, connect.NewRequest(&molarv1.WatchScheduleRequest{StartDate: day, EndDate: day}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatalf("no first message: %v", stream.Err())
	}
	if _, err := molarv1connect.NewAuthServiceClient(hc, b.ts.URL).Logout(ctx, connect.NewRequest(&molarv1.LogoutRequest{})); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for stream.Receive() {
	}
	if connect.CodeOf(stream.Err()) != connect.CodeUnauthenticated || time.Since(start) > 2*time.Second {
		t.Fatalf("stream after logout: %v after %v, want unauthenticated at once", stream.Err(), time.Since(start))
	}
}

// TestChangeRace: many front desks change one appointment at once, all from
// the same version: moves to different free times, status changes, and
// changes the status flow forbids. Exactly one valid change wins, the other
// valid ones are told the appointment changed, the forbidden ones are
// refused, and afterwards the appointment is not locked and every time a
// losing move reached for is free.
func TestChangeRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBookTest(t)
	c := b.client("")
	a, err := b.book(ctx, c, 0, "dr-kim", "chair-1", 9, 0, 30)
	if err != nil {
		t.Fatal(err)
	}
	const moves = 8
	var wins, stale, refused atomic.Int32
	var wg sync.WaitGroup
	race := func(call func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := call()
			var ce *connect.Error
			switch {
			case err == nil:
				wins.Add(1)
			case errors.As(err, &ce) && ce.Code() == connect.CodeAborted:
				stale.Add(1)
			case errors.As(err, &ce) && ce.Code() == connect.CodeFailedPrecondition:
				refused.Add(1)
			default:
				t.Errorf("change: %v", err)
			}
		}()
	}
	for i := range moves {
		race(func() error {
			_, err := c.MoveAppointment(ctx, connect.NewRequest(&molarv1.MoveAppointmentRequest{Id: a.GetId(), ProviderId: "dr-park",
				ChairId: fmt.Sprintf("chair-%d", 2+i%3), StartTime: b.at(10+i/3, 20*(i%3)), Minutes: 20, Version: a.GetVersion()}))
			return err
		})
	}
	for _, to := range []molarv1.AppointmentStatus{molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED, molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED,
		molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED, molarv1.AppointmentStatus_APPOINTMENT_STATUS_IN_CHAIR} {
		race(func() error {
			_, err := c.SetAppointmentStatus(ctx, connect.NewRequest(&molarv1.SetAppointmentStatusRequest{Id: a.GetId(), Status: to, Version: a.GetVersion()}))
			return err
		})
	}
	wg.Wait()
	// A forbidden change is refused, or found stale if the winner came first.
	if wins.Load() != 1 || stale.Load()+refused.Load() != moves+4-1 || stale.Load() < moves+2-1 {
		t.Fatalf("wins %d, stale %d, refused %d; want 1 win of %d", wins.Load(), stale.Load(), refused.Load(), moves+4)
	}
	// Not locked: a change from the current version goes through.
	list, err := c.ListSchedule(ctx, connect.NewRequest(&molarv1.ListScheduleRequest{StartDate: b.day.Format(time.DateOnly), EndDate: b.day.Format(time.DateOnly)}))
	if err != nil || len(list.Msg.GetAppointments()) != 1 {
		t.Fatalf("book %v %v", list, err)
	}
	cur := list.Msg.GetAppointments()[0]
	if cur.GetVersion() != a.GetVersion()+1 {
		t.Fatalf("version %d after one winning change of %d", cur.GetVersion(), a.GetVersion())
	}
	moved, err := c.MoveAppointment(ctx, connect.NewRequest(&molarv1.MoveAppointmentRequest{Id: a.GetId(), ProviderId: "dr-lee", ChairId: "chair-5",
		StartTime: b.at(16, 0), Minutes: 30, Version: cur.GetVersion()}))
	if err != nil {
		t.Fatalf("appointment locked after the race: %v", err)
	}
	// Every time a move reached for is free again, whoever won.
	for i := range moves {
		if _, err := b.book(ctx, c, 1+i, "dr-park", fmt.Sprintf("chair-%d", 2+i%3), 10+i/3, 20*(i%3), 20); err != nil {
			t.Errorf("time of move %d not free: %v", i, err)
		}
	}
	// A status the winner allows: a patient who arrived goes into the chair.
	next := molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW
	if moved.Msg.GetAppointment().GetStatus() == molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED {
		next = molarv1.AppointmentStatus_APPOINTMENT_STATUS_IN_CHAIR
	}
	if _, err := c.SetAppointmentStatus(ctx, connect.NewRequest(&molarv1.SetAppointmentStatusRequest{Id: a.GetId(),
		Status: next, Version: moved.Msg.GetAppointment().GetVersion()})); err != nil {
		t.Fatalf("status after the race: %v", err)
	}
}

// TestProblemsAreTyped: a conflict and a broken rule reach the client as a
// typed Problem detail, not as prose to parse.
func TestProblemsAreTyped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBookTest(t)
	c := b.client("")
	a, err := b.book(ctx, c, 0, "dr-kim", "chair-1", 10, 0, 30)
	if err != nil {
		t.Fatal(err)
	}
	problem := func(err error) *molarv1.Problem {
		t.Helper()
		var ce *connect.Error
		if !errors.As(err, &ce) {
			t.Fatalf("not a connect error: %v", err)
		}
		for _, d := range ce.Details() {
			if m, derr := d.Value(); derr == nil {
				if p, ok := m.(*molarv1.Problem); ok {
					return p
				}
			}
		}
		t.Fatalf("no Problem detail on %v", err)
		return nil
	}
	_, err = b.book(ctx, c, 1, "dr-kim", "chair-2", 10, 10, 30)
	if p := problem(err); p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_SLOT_TAKEN || p.GetResourceId() != "dr-kim" || p.GetResourceName() != "김하늘 원장" ||
		p.GetSubjectId() != a.GetId() || p.GetChartNumber() != a.GetChartNumber() || !p.GetTime().AsTime().Equal(b.at(10, 10).AsTime()) {
		t.Errorf("conflict: %v", p)
	}
	_, err = b.book(ctx, c, 1, "dr-park", "chair-2", 13, 0, 30)
	if p := problem(err); p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_LUNCH_BREAK || p.GetWindowStart() != "13:00" || p.GetWindowEnd() != "14:00" || !p.GetOverridable() {
		t.Errorf("lunch: %v", p)
	}
	_, err = c.SetAppointmentStatus(ctx, connect.NewRequest(&molarv1.SetAppointmentStatusRequest{Id: a.GetId(), Status: molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED, Version: a.GetVersion()}))
	if p := problem(err); p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_STATUS_TRANSITION || p.GetState() != "BOOKED" || p.GetWantedState() != "COMPLETED" || p.GetOverridable() {
		t.Errorf("transition: %v", p)
	}
	_, err = c.SetAppointmentStatus(ctx, connect.NewRequest(&molarv1.SetAppointmentStatusRequest{Id: a.GetId(), Status: molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED, Version: a.GetVersion() + 5}))
	if p := problem(err); p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_STALE_VERSION {
		t.Errorf("stale: %v", p)
	}

	// A time already gone: refused for the front desk (a booking or a move
	// there is a slip of the mouse far more often than a record), allowed
	// for those who may override the book's rules.
	past := time.Now().In(b.loc).AddDate(0, 0, -7)
	for past.Weekday() == time.Saturday || past.Weekday() == time.Sunday {
		past = past.AddDate(0, 0, -1)
	}
	pastAt := timestamppb.New(time.Date(past.Year(), past.Month(), past.Day(), 10, 0, 0, 0, b.loc))
	pastBooking := &molarv1.BookAppointmentRequest{PatientId: b.patients[2], ProviderId: "dr-lee", ChairId: "chair-3", StartTime: pastAt, Minutes: 30}
	_, err = c.BookAppointment(ctx, connect.NewRequest(pastBooking))
	if p := problem(err); p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_IN_THE_PAST || !p.GetOverridable() || p.GetDate() != past.Format(time.DateOnly) {
		t.Errorf("past booking: %v", p)
	}
	_, err = c.MoveAppointment(ctx, connect.NewRequest(&molarv1.MoveAppointmentRequest{Id: a.GetId(), ProviderId: "dr-kim", ChairId: "chair-1",
		StartTime: pastAt, Minutes: 30, Version: a.GetVersion()}))
	if p := problem(err); p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_IN_THE_PAST {
		t.Errorf("move into the past: %v", p)
	}
	b.ts.addStaff(t, "boss@clinic.test", "seoul-owner-77", molarv1.Role_ROLE_ADMIN)
	_, owner := b.ts.login(t, "boss@clinic.test", "seoul-owner-77")
	if _, err := molarv1connect.NewScheduleServiceClient(http.DefaultClient, b.ts.URL, bearer(owner)).BookAppointment(ctx, connect.NewRequest(pastBooking)); err != nil {
		t.Errorf("past booking with the override: %v", err)
	}
}

// TestFinishedVisitIsPast: a visit seen and completed before its booked
// time has come is a past visit of the patient, not an upcoming one.
func TestFinishedVisitIsPast(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBookTest(t)
	c := b.client("")
	a, err := b.book(ctx, c, 3, "dr-kim", "chair-1", 15, 0, 30)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []molarv1.AppointmentStatus{molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED, molarv1.AppointmentStatus_APPOINTMENT_STATUS_IN_CHAIR,
		molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED} {
		res, err := c.SetAppointmentStatus(ctx, connect.NewRequest(&molarv1.SetAppointmentStatusRequest{Id: a.GetId(), Status: st, Version: a.GetVersion()}))
		if err != nil {
			t.Fatalf("%v: %v", st, err)
		}
		a = res.Msg.GetAppointment()
	}
	visits, err := c.ListPatientAppointments(ctx, connect.NewRequest(&molarv1.ListPatientAppointmentsRequest{PatientId: a.GetPatientId()}))
	if err != nil {
		t.Fatal(err)
	}
	if len(visits.Msg.GetUpcoming()) != 0 || len(visits.Msg.GetPast()) != 1 || visits.Msg.GetPast()[0].GetId() != a.GetId() {
		t.Fatalf("upcoming %v, past %v", visits.Msg.GetUpcoming(), visits.Msg.GetPast())
	}
}
