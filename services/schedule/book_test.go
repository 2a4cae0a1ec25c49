package schedule

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

func appt(id string, rev int64, start time.Time) Event {
	return Event{Revision: rev, Appointment: &molarv1.Appointment{Id: id, Revision: rev, StartTime: timestamppb.New(start), ProviderId: "p1", ChairId: "c1", Minutes: 30}}
}

// TestSlowWatcherIsToldToResync: a watcher that stops reading overflows its
// own buffer and is flagged, while another watcher gets every event.
func TestSlowWatcherIsToldToResync(t *testing.T) {
	loc := time.UTC
	b := NewBook(loc, 100)
	day := time.Date(2026, 12, 1, 9, 0, 0, 0, loc)
	f := Filter{From: "2026-12-01", To: "2026-12-01"}
	slow, _, _ := b.Watch(f, 0, 2)
	fast, _, _ := b.Watch(f, 0, 100)
	for i := range 10 {
		b.apply(appt(fmt.Sprint("a", i), int64(i+1), day))
	}
	select {
	case <-slow.Overflowed():
	default:
		t.Fatal("slow watcher not flagged")
	}
	select {
	case <-fast.Overflowed():
		t.Fatal("fast watcher flagged")
	default:
	}
	if len(fast.Events()) != 10 {
		t.Fatalf("fast watcher has %d events, want 10", len(fast.Events()))
	}
}

// TestWatchReplaysOrSnapshots: resuming from a remembered revision replays
// exactly the later events, including a move out of the range; resuming from
// one the book has forgotten gets a snapshot.
func TestWatchReplaysOrSnapshots(t *testing.T) {
	loc := time.UTC
	b := NewBook(loc, 3)
	in := time.Date(2026, 12, 1, 9, 0, 0, 0, loc)
	out := time.Date(2026, 12, 2, 9, 0, 0, 0, loc)
	f := Filter{From: "2026-12-01", To: "2026-12-01"}
	b.apply(appt("a", 1, in))
	b.apply(appt("b", 2, in))
	b.apply(appt("a", 3, out)) // a moves to the next day
	b.apply(appt("c", 4, out)) // never in range
	_, replay, snap := b.Watch(f, 2, 10)
	if snap != nil || len(replay) != 1 || replay[0].Revision != 3 {
		t.Fatalf("replay %v snapshot %v; want only revision 3 (a moving out)", replay, snap)
	}
	_, replay, snap = b.Watch(f, 0, 10)
	if snap == nil || len(snap.Appointments) != 1 || snap.Appointments[0].GetId() != "b" || snap.Revision != 4 {
		t.Fatalf("snapshot %v", snap)
	}
	b.apply(appt("d", 5, in))
	_, _, snap = b.Watch(f, 1, 10) // revision 2 is no longer remembered
	if snap == nil {
		t.Fatal("no snapshot for a forgotten revision")
	}
}

// TestBookSlidesItsWindow: the book holds the days from its first day on;
// an event on an earlier day it does not hold is only remembered, a day
// read on demand is held and followed, and sliding the window forgets what
// is before it unless a watcher watches that day.
func TestBookSlidesItsWindow(t *testing.T) {
	loc := time.UTC
	b := NewBook(loc, 100)
	b.load("2026-11-01", nil, nil, 0)
	day := func(d int) time.Time { return time.Date(2026, 10, d, 9, 0, 0, 0, loc) }
	b.apply(appt("old", 1, day(5)))
	if _, ok := b.Get("old"); ok {
		t.Fatal("an event on a day before the window was held")
	}
	if m := b.Missing(Filter{From: "2026-10-30", To: "2026-11-02"}); fmt.Sprint(m) != "[2026-10-30 2026-10-31]" {
		t.Fatalf("missing days %v", m)
	}
	// The stored copy of day 5 lags the log (revision 0): the remembered
	// event is newer and wins.
	stale := appt("old", 0, day(6)).Appointment
	b.adopt([]string{"2026-10-05"}, []*molarv1.Appointment{stale, appt("kept", 0, day(5)).Appointment}, nil)
	if a, ok := b.Get("old"); !ok || a.GetRevision() != 1 {
		t.Fatalf("adopted copy %v, want the remembered revision 1", a)
	}
	b.apply(appt("new-old", 2, day(5)))
	if _, ok := b.Get("new-old"); !ok {
		t.Fatal("an event on a day read on demand was not held")
	}
	// A watcher on day 5 keeps it; day 6 goes.
	b.apply(appt("six", 3, day(6)))
	b.adopt([]string{"2026-10-06"}, nil, nil)
	w, _, _ := b.Watch(Filter{From: "2026-10-05", To: "2026-10-05"}, 0, 10)
	b.slide("2026-11-02")
	if _, ok := b.Get("kept"); !ok {
		t.Fatal("a watched day was forgotten")
	}
	if _, ok := b.Get("six"); ok {
		t.Fatal("a day nobody watches was kept after the window moved")
	}
	b.Unwatch(w)
	b.slide("2026-11-03")
	if _, ok := b.Get("kept"); ok {
		t.Fatal("a day kept for a watcher outlived the watcher")
	}
}
