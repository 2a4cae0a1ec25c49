package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/mongo/sqlite"
)

// TestSuspendedFollowerCatchesUp runs two `molar serve` processes on one
// data directory with a change log kept for two seconds. The second is
// suspended (SIGSTOP) while the first registers patients and books, and
// until the change log and the book's log have dropped what the second
// never read; resumed (SIGCONT), it shows the same patients and the same
// book as the first.
func TestSuspendedFollowerCatchesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and suspends real server processes")
	}
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	writer, follower := &child{dir: dir, addr: freeAddr(t)}, &child{dir: dir, addr: freeAddr(t)}
	for _, c := range []*child{writer, follower} {
		c.extraEnv = []string{"MOLAR_CHANGE_RETENTION=2s"}
		t.Cleanup(c.stop)
	}
	if out, err := writer.command("seed --demo").CombinedOutput(); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	writer.start(t)
	follower.start(t)
	token := func(c *child) string {
		res, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, "http://"+c.addr).Login(ctx,
			connect.NewRequest(&molarv1.LoginRequest{Email: "frontdesk@molar.test", Password: "seoul-desk-2026"}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetAccessToken()
	}
	wtok, ftok := token(writer), token(follower)
	wpat := molarv1connect.NewPatientServiceClient(http.DefaultClient, "http://"+writer.addr, bearer(wtok))
	wbook := molarv1connect.NewScheduleServiceClient(http.DefaultClient, "http://"+writer.addr, bearer(wtok))
	fpat := molarv1connect.NewPatientServiceClient(http.DefaultClient, "http://"+follower.addr, bearer(ftok))
	fbook := molarv1connect.NewScheduleServiceClient(http.DefaultClient, "http://"+follower.addr, bearer(ftok))
	res, err := wbook.ListResources(ctx, connect.NewRequest(&molarv1.ListResourcesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, sqliteFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := sqlite.NewChangeLog(db, time.Now)
	before, err := log.Last(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if err := syscall.Kill(follower.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var names []string
	var booked []string
	loc, _ := time.LoadLocation("Asia/Seoul")
	day := time.Now().In(loc).AddDate(0, 0, 21)
	for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
		day = day.AddDate(0, 0, 1)
	}
	for i := range 3 {
		name := fmt.Sprintf("정지%s", []string{"훈", "민", "우"}[i])
		p, err := wpat.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{AllowDuplicate: true,
			Details: &molarv1.PatientInput{Name: name, Sex: molarv1.Sex_SEX_MALE, BirthDate: "1990-01-0" + fmt.Sprint(i+1), MobilePhone: fmt.Sprintf("010-7777-%04d", 1000+i)}}))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		a, err := wbook.BookAppointment(ctx, connect.NewRequest(&molarv1.BookAppointmentRequest{PatientId: p.Msg.GetPatient().GetId(),
			ProviderId: res.Msg.GetProviders()[0].GetId(), ChairId: res.Msg.GetChairs()[0].GetId(), Minutes: 30,
			StartTime: timestamppb.New(time.Date(day.Year(), day.Month(), day.Day(), 10+i, 0, 0, 0, loc))}))
		if err != nil {
			t.Fatal(err)
		}
		booked = append(booked, a.Msg.GetAppointment().GetId())
	}
	// Wait until the log has dropped changes the follower never read.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		oldest, err := log.Oldest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if oldest > before+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer did not prune its change log (oldest %d, follower at %d)", oldest, before)
		}
	}

	// And the book's own log, as if far more had happened meanwhile than it
	// keeps: the follower must reload the book, not skip what it missed.
	book := sqlite.NewScheduleStore(db)
	last, err := book.LastRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := book.PruneEvents(ctx, last); err != nil {
		t.Fatal(err)
	}

	resumed := time.Now()
	if err := syscall.Kill(follower.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	dayStr := day.Format(time.DateOnly)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		found := 0
		for _, n := range names {
			got, err := fpat.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: n}))
			if err == nil && len(got.Msg.GetPatients()) > 0 {
				found++
			}
		}
		list, err := fbook.ListSchedule(ctx, connect.NewRequest(&molarv1.ListScheduleRequest{StartDate: dayStr, EndDate: dayStr}))
		seen := map[string]bool{}
		if err == nil {
			for _, a := range list.Msg.GetAppointments() {
				seen[a.GetId()] = true
			}
		}
		all := found == len(names)
		for _, id := range booked {
			all = all && seen[id]
		}
		if all {
			t.Logf("the resumed process showed every patient and booking %v after SIGCONT", time.Since(resumed).Round(time.Millisecond))
			// And it shows what the writer shows: the same day of the book,
			// the same patients.
			wl, err := wbook.ListSchedule(ctx, connect.NewRequest(&molarv1.ListScheduleRequest{StartDate: dayStr, EndDate: dayStr}))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(wl.Msg.GetAppointments(), list.Msg.GetAppointments(), protocmp.Transform(),
				protocmp.SortRepeated(func(a, b *molarv1.Appointment) bool { return a.GetId() < b.GetId() })); d != "" {
				t.Fatalf("the follower's book differs from the writer's (-writer +follower):\n%s", d)
			}
			for _, q := range []string{"정지", "ㅈㅈ"} {
				w, err1 := wpat.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: q, PageSize: 100}))
				f, err2 := fpat.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: q, PageSize: 100}))
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if d := cmp.Diff(w.Msg.GetPatients(), f.Msg.GetPatients(), protocmp.Transform(),
					protocmp.SortRepeated(func(a, b *molarv1.PatientSummary) bool { return a.GetId() < b.GetId() })); d != "" {
					t.Fatalf("searching %q, the follower's patients differ from the writer's (-writer +follower):\n%s", q, d)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after resuming, the follower shows %d of %d patients and %v of %v bookings", found, len(names), seen, booked)
		}
	}
}
