package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/auth"
)

// TestSlowBodiesAreCutButStreamsAreNot sends a request body that never
// finishes: the server cuts the connection once the body deadline passes.
// A live view of the book opened on the same server outlives that deadline
// and still delivers the next booking.
func TestSlowBodiesAreCutButStreamsAreNot(t *testing.T) {
	t.Parallel()
	const deadline = 2 * time.Second
	b := newBookTest(t, func(c *Config) { c.BodyTimeout = deadline })
	ctx := context.Background()

	conn, err := net.Dial("tcp", b.ts.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST "+molarv1connect.AuthServiceGetMeProcedure+" HTTP/1.1\r\nHost: molar\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	_, err = io.ReadAll(bufio.NewReader(conn))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection with an unfinished body was still open after %v", time.Since(start))
	}
	t.Logf("unfinished body cut after %v", time.Since(start))

	day := b.day.Format(time.DateOnly)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	stream, err := b.client("").WatchSchedule(sctx, connect.NewRequest(&molarv1.WatchScheduleRequest{StartDate: day, EndDate: day}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() || stream.Msg().GetSnapshot() == nil {
		t.Fatalf("no snapshot first: %v", stream.Err())
	}
	// Outlast the body deadline (waiting longer only makes the point
	// stronger).
	time.Sleep(2*deadline + time.Second)
	a, err := b.book(ctx, b.client(""), 0, "dr-kim", "chair-1", 11, 0, 30)
	if err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
		if got := stream.Msg().GetAppointment(); got != nil && got.GetId() == a.GetId() {
			return
		}
	}
	t.Fatalf("the live view ended before the booking reached it: %v", stream.Err())
}

// TestStreamsPerSessionAreCapped opens live views with one session until
// the cap: the next is refused, another session's is not, and closing one
// makes room again.
func TestStreamsPerSessionAreCapped(t *testing.T) {
	t.Parallel()
	b := newBookTest(t)
	day := b.day.Format(time.DateOnly)
	open := func(ctx context.Context, token string) (*connect.ServerStreamForClient[molarv1.WatchScheduleResponse], error) {
		s, err := molarv1connect.NewScheduleServiceClient(http.DefaultClient, b.ts.URL, bearer(token)).
			WatchSchedule(ctx, connect.NewRequest(&molarv1.WatchScheduleRequest{StartDate: day, EndDate: day}))
		if err != nil {
			return nil, err
		}
		if !s.Receive() {
			return nil, s.Err()
		}
		return s, nil
	}
	var cancels []context.CancelFunc
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for i := range auth.MaxStreamsPerSession {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cancels = append(cancels, cancel)
		if _, err := open(ctx, b.desk); err != nil {
			t.Fatalf("view %d: %v", i+1, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := open(ctx, b.desk); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("one view over the cap: %v, want resource_exhausted", err)
	}
	_, other := b.ts.login(t, "desk@clinic.test", "front-counter-1")
	if _, err := open(ctx, other); err != nil {
		t.Fatalf("another session's view: %v", err)
	}
	cancels[0]()
	for limit := time.Now().Add(time.Minute); ; {
		_, err := open(ctx, b.desk)
		if err == nil {
			break
		}
		if connect.CodeOf(err) != connect.CodeResourceExhausted || time.Now().After(limit) {
			t.Fatalf("a view after closing one: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScheduleInputHygiene: times outside 2000-2099, off the 5-minute grid
// by a fraction of a second, blockouts of providers and chairs that do not
// exist, and closings of impossible dates, reversed or over a year are
// refused, each naming its rule.
func TestScheduleInputHygiene(t *testing.T) {
	t.Parallel()
	b := newBookTest(t)
	ctx := context.Background()
	c := b.client("")
	pat := b.patients[0]
	at := func(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
	ten := b.day.Add(10 * time.Hour)
	for _, tc := range []struct {
		name  string
		call  func() error
		field string
		rule  string
	}{
		{"booking in year 1", func() error {
			_, err := c.BookAppointment(ctx, connect.NewRequest(&molarv1.BookAppointmentRequest{PatientId: pat, ProviderId: "dr-kim", ChairId: "chair-1",
				StartTime: at(time.Date(1, 3, 2, 1, 0, 0, 0, time.UTC)), Minutes: 30}))
			return err
		}, "start_time", "timestamp.gte_lt"},
		{"booking in year 9999", func() error {
			_, err := c.BookAppointment(ctx, connect.NewRequest(&molarv1.BookAppointmentRequest{PatientId: pat, ProviderId: "dr-kim", ChairId: "chair-1",
				StartTime: at(time.Date(9999, 3, 2, 1, 0, 0, 0, time.UTC)), Minutes: 30}))
			return err
		}, "start_time", "timestamp.gte_lt"},
		{"booking half a second off the grid", func() error {
			_, err := c.BookAppointment(ctx, connect.NewRequest(&molarv1.BookAppointmentRequest{PatientId: pat, ProviderId: "dr-kim", ChairId: "chair-1",
				StartTime: at(ten.Add(500 * time.Millisecond)), Minutes: 30}))
			return err
		}, "start_time", "schedule.grid"},
		{"move a millisecond off the grid", func() error {
			_, err := c.MoveAppointment(ctx, connect.NewRequest(&molarv1.MoveAppointmentRequest{Id: "any", ProviderId: "dr-kim", ChairId: "chair-1",
				StartTime: at(ten.Add(time.Millisecond)), Minutes: 30, Version: 1}))
			return err
		}, "start_time", "schedule.grid"},
		{"blockout of an unknown provider", func() error {
			_, err := c.CreateBlockout(ctx, connect.NewRequest(&molarv1.CreateBlockoutRequest{ProviderId: "dr-nobody", StartTime: at(ten), Minutes: 60}))
			return err
		}, "provider_id", "schedule.provider.known"},
		{"blockout of an unknown chair", func() error {
			_, err := c.CreateBlockout(ctx, connect.NewRequest(&molarv1.CreateBlockoutRequest{ChairId: "chair-99", StartTime: at(ten), Minutes: 60}))
			return err
		}, "chair_id", "schedule.chair.known"},
	} {
		err := tc.call()
		if !slices.Contains(violationsOf(t, err), violation{Field: tc.field, Rule: tc.rule}) {
			t.Errorf("%s: %v, want %s on %s", tc.name, err, tc.rule, tc.field)
		}
	}
	// The microsecond on the server side too: the schema's rule sees
	// milliseconds, the book's sees every nanosecond.
	_, err := b.ts.app.schedule.CreateBlockout(ctx, "dr-kim", "", ten.Add(time.Microsecond), 60, "")
	if e := (*services.Error)(nil); !errors.As(err, &e) || !slices.Contains(e.Violations, services.Violation{Field: "start_time", Rule: "schedule.grid", Message: "blockouts start and end on the 5-minute grid"}) {
		t.Errorf("a blockout a microsecond off the grid: %v", err)
	}

	_, admin := b.ts.login(t, "desk@clinic.test", "front-counter-1")
	billing := molarv1connect.NewBillingServiceClient(http.DefaultClient, b.ts.URL, bearer(admin))
	for _, tc := range []struct {
		from, to string
		want     violation
	}{
		{"2026-02-30", "2026-03-01", violation{Field: "end_date", Rule: "billing.range"}},
		{"2026-03-02", "2026-03-01", violation{Rule: "dates.order"}},
		{"2025-01-01", "2026-06-30", violation{Field: "end_date", Rule: "billing.range"}},
		{"0001-01-01", "2026-01-01", violation{Field: "start_date", Rule: "string.pattern"}},
		{"2026-13-01", "2026-13-02", violation{Field: "start_date", Rule: "string.pattern"}},
	} {
		_, err := billing.GetDailyClosing(ctx, connect.NewRequest(&molarv1.GetDailyClosingRequest{StartDate: tc.from, EndDate: tc.to}))
		if !slices.Contains(violationsOf(t, err), tc.want) {
			t.Errorf("closing %s to %s: %v, want %+v", tc.from, tc.to, err, tc.want)
		}
	}
}
