package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/patient"
)

func percentile(ds []time.Duration, p float64) float64 {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return float64(ds[int(float64(len(ds)-1)*p)].Microseconds()) / 1000
}

// BenchmarkLogin signs in through the real server and database, reporting
// the p50 and p95 a user waits.
func BenchmarkLogin(b *testing.B) {
	ts := startServer(&testing.T{})
	if _, err := ts.app.auth.CreateAccount(context.Background(), "owner@clinic.test", "owner", []molarv1.Role{molarv1.Role_ROLE_ADMIN}, adminPassword, false); err != nil {
		b.Fatal(err)
	}
	// Each sign-in comes from another loopback address, as from many desks,
	// so the per-address limit does not cut the run short.
	var times []time.Duration
	n := 0
	for b.Loop() {
		n++
		local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(n/250), byte(1+n%250))}
		hc := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}}
		c := molarv1connect.NewAuthServiceClient(hc, ts.URL)
		start := time.Now()
		_, err := c.Login(context.Background(), connect.NewRequest(&molarv1.LoginRequest{Email: "owner@clinic.test", Password: adminPassword}))
		if err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.ReportMetric(percentile(times, 0.5), "p50-ms")
	b.ReportMetric(percentile(times, 0.95), "p95-ms")
	b.Logf("argon2id m=%dKiB t=%d p=%d", auth.DefaultHashParams.MemoryKiB, auth.DefaultHashParams.Time, auth.DefaultHashParams.Threads)
}

// BenchmarkAuthenticatedCall compares a public call with an authenticated
// one of the same work through the whole stack; the difference is the auth
// middleware.
func BenchmarkAuthenticatedCall(b *testing.B) {
	ts := startServer(&testing.T{})
	if _, err := ts.app.auth.CreateAccount(context.Background(), "owner@clinic.test", "owner", []molarv1.Role{molarv1.Role_ROLE_ADMIN}, adminPassword, false); err != nil {
		b.Fatal(err)
	}
	res, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL).Login(context.Background(),
		connect.NewRequest(&molarv1.LoginRequest{Email: "owner@clinic.test", Password: adminPassword}))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts []connect.ClientOption
	}{{"public", nil}, {"bearer", []connect.ClientOption{bearer(res.Msg.GetAccessToken())}}} {
		b.Run(tc.name, func(b *testing.B) {
			c := molarv1connect.NewClinicServiceClient(http.DefaultClient, ts.URL, tc.opts...)
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := c.GetClinic(context.Background(), connect.NewRequest(&molarv1.GetClinicRequest{})); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
			}
			b.ReportMetric(percentile(times, 0.5), "p50-ms")
		})
	}
}

// BenchmarkPatientSearch loads 15,000 patients on the embedded engine and
// measures, through the whole server, what a receptionist waits for while
// typing in the search box and when opening a patient.
func BenchmarkPatientSearch(b *testing.B) {
	ctx := context.Background()
	ts := startServer(&testing.T{})
	start := time.Now()
	if err := ts.app.patients.Import(ctx, demoPatients(15000, 7, time.Now()), ts.db.patients.InsertMany); err != nil {
		b.Fatal(err)
	}
	b.Logf("imported 15,000 patients in %v", time.Since(start).Round(time.Millisecond))
	// A second server process over the same database starts cold: how long
	// it takes to load every patient into memory.
	cold := patient.NewService(patient.Deps{Store: ts.db.patients, Now: time.Now})
	start = time.Now()
	if err := cold.Load(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d patients from the database in %v", cold.Count(), time.Since(start).Round(time.Millisecond))

	if _, err := ts.app.auth.CreateAccount(ctx, "desk@clinic.test", "desk", []molarv1.Role{molarv1.Role_ROLE_FRONT_DESK}, "front-counter-1", false); err != nil {
		b.Fatal(err)
	}
	res, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL).Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: "desk@clinic.test", Password: "front-counter-1"}))
	if err != nil {
		b.Fatal(err)
	}
	c := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(res.Msg.GetAccessToken()))
	typed := []string{"김", "김민", "김민수", "ㄱ", "ㄱㅁ", "ㄱㅁㅅ", "박서", "5", "56", "567", "5678", "010-12", "010-1234-5678", "850302", "1234", "이지은", "ㅇㅈㅇ"}
	ids := ts.app.patients.IDs()
	b.Run("search", func(b *testing.B) {
		var times []time.Duration
		i := 0
		for b.Loop() {
			q := typed[i%len(typed)]
			i++
			t0 := time.Now()
			if _, err := c.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: q})); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
		}
		b.ReportMetric(percentile(times, 0.5), "p50-ms")
		b.ReportMetric(percentile(times, 0.95), "p95-ms")
	})
	b.Run("get", func(b *testing.B) {
		var times []time.Duration
		i := 0
		for b.Loop() {
			id := ids[(i*7919)%len(ids)]
			i++
			t0 := time.Now()
			if _, err := c.GetPatient(ctx, connect.NewRequest(&molarv1.GetPatientRequest{Id: id})); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
		}
		b.ReportMetric(percentile(times, 0.5), "p50-ms")
		b.ReportMetric(percentile(times, 0.95), "p95-ms")
	})
}

// BenchmarkCatalogNotModified measures the catalog's 304 path (token check
// and ETag compare in front of Connect) against a bare net/http handler that
// answers 304, through the same kind of loopback client.
func BenchmarkCatalogNotModified(b *testing.B) {
	ctx := context.Background()
	ts := startServer(&testing.T{})
	for _, p := range demoCatalog() {
		if err := ts.app.chart.SaveProcedure(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	ts.addStaff(&testing.T{}, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
	_, tok := ts.login(&testing.T{}, "desk@clinic.test", "front-counter-1")
	etag, _ := ts.app.chart.CatalogETag(ctx)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag {
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer plain.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	get := func(b *testing.B, url string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("If-None-Match", etag)
		res, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotModified {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	for _, tc := range []struct{ name, url string }{
		{"molar", ts.URL + "/molar.v1.CatalogService/ListProcedures?encoding=proto&message=&connect=v1"},
		{"plain", plain.URL + "/"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, tc.url)
				}
			})
		})
	}
}
