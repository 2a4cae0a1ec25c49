package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// BenchmarkGetPatientMetrics is what metrics cost a user: an authenticated
// GetPatient round trip through the whole server on the embedded engine,
// with metrics off (MOLAR_ADMIN_ADDR=off) and on (every RPC counted and
// timed, every database call timed), over one kept-alive connection. It
// logs on/off of the time per call, and how many database calls one
// GetPatient makes with metrics on.
//
//	go test ./cmd/molar -run '^$' -bench BenchmarkGetPatientMetrics -count 6
func BenchmarkGetPatientMetrics(b *testing.B) {
	ctx := context.Background()
	type side struct {
		ts     *testServer
		client molarv1connect.PatientServiceClient
		ids    []string
	}
	// Both servers start before either is measured, and stop after.
	sides := map[string]*side{}
	for name, change := range map[string][]func(*Config){"off": nil, "on": {withAdmin}} {
		ts := startServer(&testing.T{}, change...)
		defer func() { _ = ts.Shutdown(context.Background()) }()
		if err := ts.app.patients.Import(ctx, demoPatients(200, 11, time.Now()), ts.db.patients.InsertMany); err != nil {
			b.Fatal(err)
		}
		ts.addStaff(&testing.T{}, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
		_, tok := ts.login(&testing.T{}, "desk@clinic.test", "front-counter-1")
		sides[name] = &side{ts: ts, ids: ts.app.patients.IDs(),
			client: molarv1connect.NewPatientServiceClient(&http.Client{Transport: &http.Transport{}}, ts.URL, bearer(tok))}
	}
	perOp := map[string]float64{}
	for _, name := range []string{"off", "on"} {
		s := sides[name]
		b.Run(name, func(b *testing.B) {
			dbCalls := func() float64 {
				if s.ts.AdminAddr() == "" {
					return 0
				}
				v, _ := s.ts.scrapeMetrics(&testing.T{}).value("molar_db_operation_duration_seconds")
				return v
			}
			before := dbCalls()
			var times []time.Duration
			i := 0
			for b.Loop() {
				t0 := time.Now()
				if _, err := s.client.GetPatient(ctx, connect.NewRequest(&molarv1.GetPatientRequest{Id: s.ids[i%len(s.ids)]})); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t0))
				i++
			}
			b.StopTimer()
			perOp[name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(percentile(times, 0.5), "p50-ms")
			b.ReportMetric(percentile(times, 0.95), "p95-ms")
			if s.ts.AdminAddr() != "" {
				b.ReportMetric((dbCalls()-before)/float64(b.N), "db-calls/op")
			}
		})
	}
	if perOp["off"] > 0 && perOp["on"] > 0 {
		b.Logf("metrics on/off: %.0f / %.0f ns per GetPatient = %.3f", perOp["on"], perOp["off"], perOp["on"]/perOp["off"])
	}
}
