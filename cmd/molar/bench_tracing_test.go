package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// BenchmarkGetPatientTracing is what tracing costs a user: an authenticated
// GetPatient round trip through the whole server on the embedded engine,
// sent with a traceparent as the web app sends it, with traces off (no
// OTLP endpoint: the traceparent is only read for the log) and on (a span
// per RPC and per database call, batched and exported by OTLP/HTTP to a
// collector on loopback that decodes each export), over one kept-alive
// connection each. Metrics are off on both. One iteration is one call to
// each server; it reports each one's mean time per call, their ratio, and
// the spans exported per call.
//
//	go test ./cmd/molar -run '^$' -bench BenchmarkGetPatientTracing -count 6
func BenchmarkGetPatientTracing(b *testing.B) {
	ctx := context.Background()
	var spans atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if proto.Unmarshal(body, &req) == nil {
			for _, rs := range req.GetResourceSpans() {
				for _, ss := range rs.GetScopeSpans() {
					spans.Add(int64(len(ss.GetSpans())))
				}
			}
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	defer collector.Close()

	type side struct {
		ts     *testServer
		client molarv1connect.PatientServiceClient
		ids    []string
	}
	// Both servers start before either is measured, and stop after; the
	// environment is read at start only.
	sides := map[string]*side{}
	for _, name := range []string{"off", "on"} {
		if name == "on" {
			b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
		}
		ts := startServer(&testing.T{})
		defer func() { _ = ts.Shutdown(context.Background()) }()
		if ts.tracing.On() != (name == "on") {
			b.Fatalf("%s: traces on is %v", name, ts.tracing.On())
		}
		if err := ts.app.patients.Import(ctx, demoPatients(200, 11, time.Now()), ts.db.patients.InsertMany); err != nil {
			b.Fatal(err)
		}
		ts.addStaff(&testing.T{}, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
		_, tok := ts.login(&testing.T{}, "desk@clinic.test", "front-counter-1")
		sides[name] = &side{ts: ts, ids: ts.app.patients.IDs(), client: molarv1connect.NewPatientServiceClient(
			&http.Client{Transport: &http.Transport{}}, ts.URL, bearer(tok), withTraceparent(newTraceparent()))}
	}
	// Calls alternate between the two servers in one loop, so that both
	// meet the same load on a shared machine.
	for _, s := range sides {
		if err := s.ts.tracing.ForceFlush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	before := spans.Load()
	times := map[string][]time.Duration{}
	i := 0
	for b.Loop() {
		for _, name := range []string{"off", "on"} {
			s := sides[name]
			t0 := time.Now()
			if _, err := s.client.GetPatient(ctx, connect.NewRequest(&molarv1.GetPatientRequest{Id: s.ids[i%len(s.ids)]})); err != nil {
				b.Fatal(err)
			}
			times[name] = append(times[name], time.Since(t0))
		}
		i++
	}
	b.StopTimer()
	if err := sides["on"].ts.tracing.ForceFlush(ctx); err != nil {
		b.Fatal(err)
	}
	mean := func(ds []time.Duration) float64 {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return float64(sum.Nanoseconds()) / float64(len(ds))
	}
	off, on := mean(times["off"]), mean(times["on"])
	b.ReportMetric(off, "off-ns/call")
	b.ReportMetric(on, "on-ns/call")
	b.ReportMetric(on/off, "on/off")
	b.ReportMetric(percentile(times["off"], 0.5), "off-p50-ms")
	b.ReportMetric(percentile(times["on"], 0.5), "on-p50-ms")
	b.ReportMetric(percentile(times["on"], 0.95), "on-p95-ms")
	b.ReportMetric(float64(spans.Load()-before)/float64(i), "spans/call")
}
