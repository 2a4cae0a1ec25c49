package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/schedule"
)

// demoResources are the demo clinic's providers, chairs and visit types.
func demoResources() ([]*molarv1.Provider, []*molarv1.Chair, []*molarv1.AppointmentType) {
	providers := []*molarv1.Provider{
		{Id: "dr-kim", Name: "김하늘 원장", Color: "#1e88e5", Active: true},
		{Id: "dr-park", Name: "박서준 원장", Color: "#43a047", Active: true},
		{Id: "dr-lee", Name: "이도윤 원장", Color: "#8e24aa", Active: true},
		{Id: "hyg-lee", Name: "이지은 위생사", Color: "#fb8c00", Hygienist: true, Active: true},
	}
	var chairs []*molarv1.Chair
	for i := 1; i <= 5; i++ {
		chairs = append(chairs, &molarv1.Chair{Id: fmt.Sprintf("chair-%d", i), Name: fmt.Sprintf("%d번 체어", i), Position: int32(i), Active: true})
	}
	types := []*molarv1.AppointmentType{
		{Id: "checkup", NameKo: "정기검진", NameEn: "Check-up", DefaultMinutes: 30, Color: "#64b5f6", Active: true},
		{Id: "scaling", NameKo: "스케일링", NameEn: "Scaling", DefaultMinutes: 40, Color: "#4db6ac", Active: true},
		{Id: "filling", NameKo: "충전", NameEn: "Filling", DefaultMinutes: 45, Color: "#ffb74d", Active: true},
		{Id: "rct", NameKo: "신경치료", NameEn: "Root canal", DefaultMinutes: 60, Color: "#e57373", Active: true},
		{Id: "extraction", NameKo: "발치", NameEn: "Extraction", DefaultMinutes: 30, Color: "#ba68c8", Active: true},
		{Id: "implant-consult", NameKo: "임플란트 상담", NameEn: "Implant consult", DefaultMinutes: 30, Color: "#a1887f", Active: true},
	}
	return providers, chairs, types
}

// demoAppointments fills days around today: each provider works their own
// chair (the hygienist the fourth and fifth) from opening to closing, with
// lunch free; past visits are completed or no-shows, future ones booked.
// With fixedMinutes > 0 every visit takes that long and no gaps are left
// (the dense book of the benchmarks).
func demoAppointments(patients []string, labels func(string) (string, int64), from, to time.Time, loc *time.Location, now time.Time, newID func() string, seed uint64, fixedMinutes int32) []*molarv1.Appointment {
	rng := rand.New(rand.NewPCG(seed, 11))
	providers, _, types := demoResources()
	var out []*molarv1.Appointment
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		closeAt := 18
		switch day.Weekday() {
		case time.Sunday:
			continue
		case time.Saturday:
			closeAt = 13
		}
		for pi, p := range providers {
			chair := fmt.Sprintf("chair-%d", pi+1)
			t := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, loc)
			end := time.Date(day.Year(), day.Month(), day.Day(), closeAt, 0, 0, 0, loc)
			for {
				typ := types[rng.IntN(len(types))]
				if p.GetHygienist() {
					typ = types[1]
				}
				m := typ.GetDefaultMinutes()
				if fixedMinutes > 0 {
					m = fixedMinutes
				}
				if lunch := time.Date(day.Year(), day.Month(), day.Day(), 13, 0, 0, 0, loc); t.Before(lunch.Add(time.Hour)) && t.Add(time.Duration(m)*time.Minute).After(lunch) {
					t = lunch.Add(time.Hour)
				}
				if t.Add(time.Duration(m) * time.Minute).After(end) {
					break
				}
				if fixedMinutes > 0 || rng.IntN(4) > 0 { // leave some gaps
					pid := patients[rng.IntN(len(patients))]
					name, chart := labels(pid)
					st := molarv1.AppointmentStatus_APPOINTMENT_STATUS_BOOKED
					if t.Before(now) {
						st = molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED
						if rng.IntN(15) == 0 {
							st = molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW
						}
					} else if rng.IntN(2) == 0 {
						st = molarv1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED
					}
					chairID := chair
					if p.GetHygienist() && rng.IntN(2) == 0 {
						chairID = "chair-5"
					}
					a := &molarv1.Appointment{Id: newID(), PatientId: pid, PatientName: name, ChartNumber: chart, ProviderId: p.GetId(), ChairId: chairID,
						StartTime: timestamppb.New(t), Minutes: m, TypeId: typ.GetId(), Status: st, Version: 1,
						History: []*molarv1.StatusChange{{Status: st, By: "demo", Time: timestamppb.New(t.Add(-24 * time.Hour))}}}
					if st == molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED {
						a.ArriveTime, a.SeatTime, a.DismissTime = timestamppb.New(t.Add(-5*time.Minute)), timestamppb.New(t), timestamppb.New(t.Add(time.Duration(m)*time.Minute))
					}
					out = append(out, a)
				}
				gap := 5 * int32(rng.IntN(3))
				if fixedMinutes > 0 {
					gap = 0
				}
				t = t.Add(time.Duration(m+gap) * time.Minute)
				t = t.Truncate(5 * time.Minute)
			}
		}
	}
	return out
}

// seedSchedule loads the demo book: resources, and two weeks either side of
// today. It does nothing if the clinic has providers already.
func seedSchedule(ctx context.Context, db *database, a *app, now time.Time) (string, error) {
	repo := db.schedule
	existing, _, _, err := repo.Resources(ctx)
	if err != nil || len(existing) > 0 {
		return "", err
	}
	ps, cs, _ := demoResources()
	if err := saveDemoResources(ctx, repo, len(ps)); err != nil {
		return "", err
	}
	// The demo dentist and hygienist accounts work in their own columns.
	accounts, err := a.auth.ListAccounts(ctx)
	if err != nil {
		return "", err
	}
	for _, acct := range accounts {
		for _, p := range ps {
			if (acct.Email == "dentist@molar.test" && p.GetId() == "dr-park") || (acct.Email == "hygienist@molar.test" && p.GetId() == "hyg-lee") {
				p.StaffId = acct.ID
				if err := repo.SaveProvider(ctx, p, audit.Event{}); err != nil {
					return "", err
				}
			}
		}
	}
	if err := a.schedule.Start(ctx); err != nil {
		return "", err
	}
	loc := a.schedule.Location()
	today := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	ids := a.patients.IDs()
	labels := func(id string) (string, int64) {
		n, c, _ := a.patients.Label(ctx, id)
		return n, c
	}
	appts := demoAppointments(ids, labels, today.AddDate(0, 0, -14), today.AddDate(0, 0, 14), loc, now, newID, 2026, 0)
	if err := insertAppointments(ctx, repo, a.schedule, appts); err != nil {
		return "", err
	}
	return fmt.Sprintf("demo data: %d providers, %d chairs, %d appointments", len(ps), len(cs), len(appts)), nil
}

// insertAppointments stores appointments and their cells in bulk.
func insertAppointments(ctx context.Context, repo scheduleStore, svc *schedule.Service, appts []*molarv1.Appointment) error {
	var slots []schedule.Slot
	var claims []schedule.Claim
	now := time.Now()
	for _, ap := range appts {
		if ap.GetStatus() == molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW || ap.GetStatus() == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED {
			continue
		}
		for _, s := range svc.Cells(ap) {
			slots = append(slots, s)
			claims = append(claims, schedule.Claim{Owner: ap.GetId(), Op: "import", Version: ap.GetVersion(), At: now})
		}
	}
	if err := repo.InsertSlots(ctx, slots, claims); err != nil {
		return err
	}
	return repo.SaveAppointments(ctx, appts)
}

// saveDemoResources stores the first providers of the demo clinic, its
// chairs and its appointment types.
func saveDemoResources(ctx context.Context, repo schedule.Store, providers int) error {
	ps, cs, ts := demoResources()
	for _, p := range ps[:providers] {
		if err := repo.SaveProvider(ctx, p, audit.Event{}); err != nil {
			return err
		}
	}
	for _, c := range cs {
		if err := repo.SaveChair(ctx, c, audit.Event{}); err != nil {
			return err
		}
	}
	for _, t := range ts {
		if err := repo.SaveType(ctx, t, audit.Event{}); err != nil {
			return err
		}
	}
	return nil
}
