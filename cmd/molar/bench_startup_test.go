package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// A clinic-year as the storage issue measures it: 3,000 patients and
// 18,000 appointments (three dentists' weekdays and Saturday mornings).
const (
	patientsPerYear = 3000
)

// seedClinicYears fills a fresh embedded database in dir with years of a
// three-dentist clinic: patients with charts and notes, and the book.
func seedClinicYears(b *testing.B, dir string, years int) (patients, appointments int) {
	b.Helper()
	ctx := context.Background()
	cfg := Config{Profile: "dev", DataDir: dir, JWTKeys: testKeySpec}
	logger := newLogger(&syncBuffer{}, 8)
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer db.close(ctx)
	a, err := newApp(cfg, db, logger, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := seedClinic(ctx, db, time.Now); err != nil {
		b.Fatal(err)
	}
	for _, p := range demoCatalog() {
		if err := a.chart.SaveProcedure(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now()
	if err := a.patients.Import(ctx, demoPatients(patientsPerYear*years, uint64(years), now), db.patients.InsertMany); err != nil {
		b.Fatal(err)
	}
	procs, _, err := a.chart.Procedures(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.clinical.InsertMany(ctx, demoCharts(a.patients.IDs(), uint64(years), now, procs)); err != nil {
		b.Fatal(err)
	}
	if err := saveDemoResources(ctx, db.schedule, 3); err != nil {
		b.Fatal(err)
	}
	if err := a.schedule.Start(ctx); err != nil {
		b.Fatal(err)
	}
	loc := a.schedule.Location()
	today := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	labels := func(id string) (string, int64) { n, c, _ := a.patients.Label(ctx, id); return n, c }
	appts := demoAppointments(a.patients.IDs(), labels, today.AddDate(-years, 0, 0), today.AddDate(0, 0, 30), loc, now, newID, uint64(years), 20)
	var three []*molarv1.Appointment
	for _, ap := range appts {
		if ap.GetProviderId() != "hyg-lee" {
			three = append(three, ap)
		}
	}
	if err := insertAppointments(ctx, db.schedule, a.schedule, three); err != nil {
		b.Fatal(err)
	}
	return a.patients.Count(), len(three)
}

// cpuTicks returns the user+system clock ticks a process has used.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// BenchmarkStartup measures `molar serve` on the embedded database at 1, 5
// and 10 clinic-years: the time from starting the process to /readyz
// answering 200, its resident memory then, and the CPU it uses while idle
// for a minute (as a share of one core; Linux counts 100 ticks a second).
//
//	go test -run '^$' -bench Startup -benchtime 3x -timeout 60m ./cmd/molar/
func BenchmarkStartup(b *testing.B) {
	for _, years := range []int{1, 5, 10} {
		b.Run(fmt.Sprintf("years=%d", years), func(b *testing.B) {
			dir := b.TempDir()
			t0 := time.Now()
			patients, appts := seedClinicYears(b, dir, years)
			b.Logf("%d clinic-years: %d patients, %d appointments, seeded in %v", years, patients, appts, time.Since(t0).Round(time.Second))
			c := &child{dir: dir}
			var ready, rss []float64
			var idle float64
			for i := 0; b.Loop(); i++ {
				c.addr = freeAddr(&testing.T{})
				start := time.Now()
				c.cmd = c.command("serve")
				if err := c.cmd.Start(); err != nil {
					b.Fatal(err)
				}
				for {
					if res, err := http.Get("http://" + c.addr + "/readyz"); err == nil {
						res.Body.Close()
						if res.StatusCode == http.StatusOK {
							break
						}
					}
					if time.Since(start) > 5*time.Minute {
						b.Fatal("not ready in 5 minutes")
					}
					time.Sleep(10 * time.Millisecond)
				}
				ready = append(ready, time.Since(start).Seconds())
				rss = append(rss, float64(rssKiB(c.cmd.Process.Pid))/1024)
				if i == 0 {
					before := cpuTicks(c.cmd.Process.Pid)
					time.Sleep(60 * time.Second)
					idle = float64(cpuTicks(c.cmd.Process.Pid)-before) / 100 / 60 * 100
				}
				c.stop()
			}
			b.ReportMetric(median(ready), "ready-s")
			b.ReportMetric(median(rss), "rss-MiB")
			b.ReportMetric(idle, "idle-cpu-%")
		})
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
