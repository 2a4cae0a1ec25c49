package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// h2c is a client speaking HTTP/2 without TLS, so a thousand streams share
// a few connections.
func h2c() *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
}

// rssKiB reads a process's resident memory.
func rssKiB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkWatchFanout runs `molar serve` as its own process over a seeded
// database, holds 1,000 WatchSchedule streams open to it, and books
// appointments: it reports the time from a booking to its delivery on every
// stream (p50, p99) and the server's resident memory per idle stream.
func BenchmarkWatchFanout(b *testing.B) {
	const streams = 1000
	ctx := context.Background()
	seed := startServer(&testing.T{})
	if err := saveDemoResources(ctx, seed.db.schedule, 4); err != nil {
		b.Fatal(err)
	}
	if err := seed.app.patients.Import(ctx, demoPatients(50, 5, time.Now()), seed.db.patients.InsertMany); err != nil {
		b.Fatal(err)
	}
	seed.addStaff(&testing.T{}, "dr@clinic.test", "dentist-password-1", molarv1.Role_ROLE_DENTIST)
	patients := seed.app.patients.IDs()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMolarChild$")
	// A second process on the same data directory, as a second `molar serve`.
	cmd.Env = append(os.Environ(), "MOLAR_CHILD_ARGS=serve", "MOLAR_ADDR="+addr, "MOLAR_ADMIN_ADDR=127.0.0.1:0", "MOLAR_DATA_DIR="+seed.cfg.DataDir,
		"MOLAR_JWT_KEYS="+testKeySpec, "MOLAR_LOG_LEVEL=error")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	url := "http://" + addr
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(url + "/readyz"); err == nil && res.StatusCode == 200 {
			res.Body.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			b.Fatal("server did not start")
		}
	}
	login, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, url).Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: "dr@clinic.test", Password: "dentist-password-1"}))
	if err != nil {
		b.Fatal(err)
	}
	token := login.Msg.GetAccessToken()
	loc, _ := time.LoadLocation("Asia/Seoul")
	day := time.Now().In(loc).AddDate(0, 0, 3)
	dayStr := day.Format(time.DateOnly)
	base := rssKiB(cmd.Process.Pid)

	client := molarv1connect.NewScheduleServiceClient(h2c(), url, bearer(token))
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type arrival struct {
		id string
		at time.Time
	}
	arrivals := make(chan arrival, streams*64)
	var ready sync.WaitGroup
	for range streams {
		ready.Add(1)
		go func() {
			s, err := client.WatchSchedule(sctx, connect.NewRequest(&molarv1.WatchScheduleRequest{StartDate: dayStr, EndDate: dayStr}))
			if err != nil {
				ready.Done()
				return
			}
			first := true
			for s.Receive() {
				if first {
					ready.Done()
					first = false
				}
				if a := s.Msg().GetAppointment(); a != nil {
					arrivals <- arrival{a.GetId(), time.Now()}
				}
			}
		}()
	}
	ready.Wait()
	time.Sleep(500 * time.Millisecond)
	idle := rssKiB(cmd.Process.Pid)
	b.ReportMetric(float64(idle-base)/streams, "KiB/idle-stream")

	booker := molarv1connect.NewScheduleServiceClient(http.DefaultClient, url, bearer(token))
	var lat []time.Duration
	i := 0
	for b.Loop() {
		st := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, loc).Add(time.Duration(5*(i%96)) * time.Minute)
		i++
		sent := time.Now()
		res, err := booker.BookAppointment(ctx, connect.NewRequest(&molarv1.BookAppointmentRequest{PatientId: patients[i%len(patients)],
			ProviderId: []string{"dr-kim", "dr-park", "dr-lee", "hyg-lee"}[(i/96)%4], ChairId: fmt.Sprintf("chair-%d", 1+(i/96)%4),
			StartTime: timestamppb.New(st), Minutes: 5}))
		if err != nil {
			b.Fatal(err)
		}
		id := res.Msg.GetAppointment().GetId()
		got := 0
		timeout := time.After(10 * time.Second)
		for got < streams {
			select {
			case a := <-arrivals:
				if a.id == id {
					lat = append(lat, a.at.Sub(sent))
					got++
				}
			case <-timeout:
				b.Fatalf("booking %d reached %d of %d streams", i, got, streams)
			}
		}
	}
	b.ReportMetric(percentile(lat, 0.5), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
	b.Logf("%d streams; server RSS %d MiB before, %d MiB with streams idle", streams, base/1024, idle/1024)
}

// BenchmarkBookQueries loads five years of a three-dentist clinic (about
// 90,000 appointments) and measures the day view and the free-slot search.
func BenchmarkBookQueries(b *testing.B) {
	ctx := context.Background()
	seed := startServer(&testing.T{})
	repo := seed.db.schedule
	if err := saveDemoResources(ctx, repo, 3); err != nil {
		b.Fatal(err)
	}
	if err := seed.app.patients.Import(ctx, demoPatients(3000, 9, time.Now()), seed.db.patients.InsertMany); err != nil {
		b.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Seoul")
	now := time.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	labels := func(id string) (string, int64) { n, c, _ := seed.app.patients.Label(ctx, id); return n, c }
	all := demoAppointments(seed.app.patients.IDs(), labels, today.AddDate(-5, 0, 0), today.AddDate(0, 0, 30), loc, now, newID, 5, 20)
	var three []*molarv1.Appointment
	for _, a := range all {
		if a.GetProviderId() != "hyg-lee" {
			three = append(three, a)
		}
	}
	start := time.Now()
	if err := repo.SaveAppointments(ctx, three); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d appointments in %v", len(three), time.Since(start).Round(time.Millisecond))
	srv := startServer(&testing.T{}, seed.same())
	srv.addStaff(&testing.T{}, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
	_, tok := srv.login(&testing.T{}, "desk@clinic.test", "front-counter-1")
	c := molarv1connect.NewScheduleServiceClient(http.DefaultClient, srv.URL, bearer(tok))
	b.Run("day", func(b *testing.B) {
		var times []time.Duration
		i := 0
		for b.Loop() {
			d := today.AddDate(0, 0, -(i*37)%1800).Format(time.DateOnly)
			i++
			t0 := time.Now()
			if _, err := c.ListSchedule(ctx, connect.NewRequest(&molarv1.ListScheduleRequest{StartDate: d, EndDate: d})); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
		}
		b.ReportMetric(percentile(times, 0.5), "p50-ms")
		b.ReportMetric(percentile(times, 0.95), "p95-ms")
	})
	b.Run("free-slots", func(b *testing.B) {
		var times []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := c.FindFreeSlots(ctx, connect.NewRequest(&molarv1.FindFreeSlotsRequest{ProviderId: "dr-park", Minutes: 60,
				StartDate: today.Format(time.DateOnly), EndDate: today.AddDate(0, 0, 30).Format(time.DateOnly), Limit: 10})); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
		}
		b.ReportMetric(percentile(times, 0.5), "p50-ms")
		b.ReportMetric(percentile(times, 0.95), "p95-ms")
	})
}
