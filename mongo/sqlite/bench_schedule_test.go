package sqlite_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/clinic"
	"github.com/molar-dental/molar/services/schedule"
)

type benchClinic struct{ c *molarv1.Clinic }

func (f benchClinic) Get(context.Context) (*molarv1.Clinic, error) { return f.c, nil }

type benchPatients struct{}

func (benchPatients) Label(_ context.Context, id string) (string, int64, error) {
	return "환자 " + id[len(id)-4:], 1001, nil
}

// benchDentists are the clinic's three dentists, each in their own chair.
var benchDentists = []string{"dr-kim", "dr-park", "dr-lee"}

// clinicYears is five years of a three-dentist clinic up to today: each
// dentist sees patients from 09:00 to 18:00 with lunch at 13:00 on
// weekdays and until 13:00 on Saturdays, back to back in 15- to 30-minute
// visits (about 95,000 in all);
// one visit in twenty is cancelled and gives its time back.
func clinicYears(today time.Time, loc *time.Location) []*molarv1.Appointment {
	lengths := []int32{20, 15, 30, 20, 25, 15, 20, 30, 15, 20}
	var out []*molarv1.Appointment
	n := 0
	for day := today.AddDate(-5, 0, 0); day.Before(today); day = day.AddDate(0, 0, 1) {
		sessions := [][2]int{{9, 13}, {14, 18}}
		switch day.Weekday() {
		case time.Sunday:
			continue
		case time.Saturday:
			sessions = sessions[:1]
		}
		for d, dr := range benchDentists {
			for _, half := range sessions {
				t := time.Date(day.Year(), day.Month(), day.Day(), half[0], 0, 0, 0, loc)
				end := time.Date(day.Year(), day.Month(), day.Day(), half[1], 0, 0, 0, loc)
				for {
					m := lengths[n%len(lengths)]
					if t.Add(time.Duration(m) * time.Minute).After(end) {
						break
					}
					status := molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED
					if n%20 == 7 {
						status = molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED
					}
					out = append(out, &molarv1.Appointment{Id: uuid.Must(uuid.NewV7()).String(), PatientId: fmt.Sprintf("patient-%05d", n%3000),
						PatientName: "환자", ChartNumber: int64(1000 + n%3000), ProviderId: dr, ChairId: fmt.Sprintf("chair-%d", d+1),
						StartTime: timestamppb.New(t), Minutes: m, Status: status, Version: 3, Revision: 1,
						History: []*molarv1.StatusChange{{Status: molarv1.AppointmentStatus_APPOINTMENT_STATUS_BOOKED, By: "데스크", Time: timestamppb.New(t.AddDate(0, 0, -7))}}})
					t = t.Add(time.Duration(m) * time.Minute)
					n++
				}
			}
		}
	}
	return out
}

// BenchmarkScheduleSQLite books 60-minute appointments through the real
// schedule.Service on the SQLite store of a clinic that already holds five
// years of appointments (about 95,000, with their cells), commit with
// fsync included, and reads the day view the front desk opens. It reports
// p50/p95 of each, and how long a process takes to load the book at start.
func BenchmarkScheduleSQLite(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "molar.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	store := sqlite.NewScheduleStore(db)
	loc, _ := time.LoadLocation(clinic.DefaultTimeZone)
	now := time.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	for i, dr := range benchDentists {
		if err := store.SaveProvider(ctx, &molarv1.Provider{Id: dr, Name: dr, Active: true}, audit.Event{}); err != nil {
			b.Fatal(err)
		}
		if err := store.SaveChair(ctx, &molarv1.Chair{Id: fmt.Sprintf("chair-%d", i+1), Name: fmt.Sprintf("%d번 체어", i+1), Position: int32(i + 1), Active: true}, audit.Event{}); err != nil {
			b.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	newID := func() string { return uuid.Must(uuid.NewV7()).String() }
	newService := func() *schedule.Service {
		return schedule.NewService(schedule.Deps{Store: store, Clinic: benchClinic{clinic.Default()}, Patients: benchPatients{},
			Audit: audit.NewRecorder(sqlite.NewAuditStore(db), time.Now, newID, logger), Now: time.Now, NewID: newID, Logger: logger})
	}
	// Cells are what a booking claims, so they are stored for every visit
	// that holds its time, as bulk loading does.
	seeding := time.Now()
	svc := newService()
	if err := svc.Start(ctx); err != nil {
		b.Fatal(err)
	}
	appts := clinicYears(today, loc)
	var slots []schedule.Slot
	var claims []schedule.Claim
	for _, a := range appts {
		if a.GetStatus() == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED {
			continue
		}
		for _, s := range svc.Cells(a) {
			slots = append(slots, s)
			claims = append(claims, schedule.Claim{Owner: a.GetId(), Op: "import", Version: a.GetVersion(), At: seeding})
		}
	}
	if err := store.InsertSlots(ctx, slots, claims); err != nil {
		b.Fatal(err)
	}
	if err := store.SaveAppointments(ctx, appts); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d appointments and %d cells in %v", len(appts), len(slots), time.Since(seeding).Round(time.Millisecond))

	started := time.Now()
	svc = newService()
	if err := svc.Start(ctx); err != nil {
		b.Fatal(err)
	}
	startTime := time.Since(started)
	if err := svc.Recover(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("a process loads the book in %v", startTime.Round(time.Millisecond))

	// Future weekdays, starting two months out, each with 8 free hours
	// per dentist.
	var days []time.Time
	for d := today.AddDate(0, 2, 0); len(days) < 2000; d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			days = append(days, d)
		}
	}
	hours := []int{9, 10, 11, 12, 14, 15, 16, 17}
	b.Run("book-60min", func(b *testing.B) {
		var lat []time.Duration
		i := 0
		for b.Loop() {
			d := i % len(benchDentists)
			day := days[i/(len(benchDentists)*len(hours))]
			start := day.Add(time.Duration(hours[(i/len(benchDentists))%len(hours)]) * time.Hour)
			i++
			t0 := time.Now()
			if _, err := svc.BookAppointment(ctx, schedule.BookInput{PatientID: fmt.Sprintf("patient-%05d", i%3000), ProviderID: benchDentists[d],
				ChairID: fmt.Sprintf("chair-%d", d+1), Start: start, Minutes: 60}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
		b.ReportMetric(startTime.Seconds(), "start-s")
	})
	b.Run("day-view", func(b *testing.B) {
		var lat []time.Duration
		i := 0
		for b.Loop() {
			d := today.AddDate(0, 0, -(i*37)%1800).Format(time.DateOnly)
			i++
			t0 := time.Now()
			snap, err := svc.List(ctx, d, d, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			_ = snap
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}
