package auth

import (
	"context"
	"testing"
	"time"

	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services"
)

// TestOnePersonsCallsQueueApart: FindFreeSlots declares two calls at a
// time per person. Two of one person's calls run, two more wait, a fifth
// is refused at once; another person's call runs meanwhile; a waiting call
// runs when a slot frees, and one given up leaves the queue.
func TestOnePersonsCallsQueueApart(t *testing.T) {
	t.Parallel()
	l := NewLimits(SchemaRules())
	const find = molarv1connect.ScheduleServiceFindFreeSlotsProcedure
	if n := l.rules[find].GetConcurrentPerUser(); n != 2 {
		t.Fatalf("FindFreeSlots declares %d calls at a time, want 2", n)
	}
	as := func(staff string) context.Context {
		return services.WithPrincipal(context.Background(), &services.Principal{StaffID: staff, SessionID: staff + "-session"})
	}
	var running []func()
	for range 2 {
		release, err := l.enter(as("desk"), find)
		if err != nil {
			t.Fatal(err)
		}
		running = append(running, release)
	}
	type entered struct {
		release func()
		err     error
	}
	waiting := make(chan entered, 2)
	giveUp, cancel := context.WithCancel(as("desk"))
	go func() { r, err := l.enter(as("desk"), find); waiting <- entered{r, err} }()
	go func() { r, err := l.enter(giveUp, find); waiting <- entered{r, err} }()
	queued := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		if c := l.calls[callKey{"desk", find}]; c != nil {
			return c.queued
		}
		return 0
	}
	for deadline := time.Now().Add(30 * time.Second); queued() < 4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want 4", queued())
		}
	}
	if _, err := l.enter(as("desk"), find); services.ErrorCode(err) != services.ResourceExhausted {
		t.Fatalf("a fifth call: %v, want ResourceExhausted", err)
	}
	other, err := l.enter(as("dentist"), find)
	if err != nil {
		t.Fatalf("another person's call: %v", err)
	}
	other()
	if _, err := l.enter(as("desk"), molarv1connect.AuthServiceGetMeProcedure); err != nil {
		t.Fatalf("an undeclared method of the same person: %v", err)
	}
	cancel()
	if e := <-waiting; e.err == nil {
		t.Fatal("a call given up while waiting ran")
	}
	running[0]()
	e := <-waiting
	if e.err != nil {
		t.Fatalf("a waiting call once a slot freed: %v", e.err)
	}
	e.release()
	running[1]()
	if n := queued(); n != 0 {
		t.Errorf("%d calls left queued", n)
	}
}
