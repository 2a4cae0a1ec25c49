package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/patient"
)

// The personal values the telemetry tests register, in every form a
// request or a message might carry them.
const (
	seedName  = "황보칠성"
	seedPhone = "010-7391-4826"
	seedRRN   = "770312-1849263"
)

var seeded = []string{seedName, "황보", "칠성", seedPhone, "01073914826", "7391-4826", seedRRN, "7703121849263", "1849263", "레진 충전"}

// otlpReceiver is an OTLP/HTTP trace collector on loopback: it keeps every
// export request as sent (protobuf bytes) and decoded.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	raw      [][]byte
	requests []*coltracepb.ExportTraceServiceRequest
}

func newOTLPReceiver(t testing.TB) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "not an OTLP/HTTP protobuf export", http.StatusBadRequest)
			return
		}
		b, ok := readBody(w, req)
		if !ok {
			return
		}
		m := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(b, m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.raw, r.requests = append(r.raw, b), append(r.requests, m)
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

// readBody reads a request's body, gzip-compressed or not; when it cannot,
// it answers 400 and returns false.
func readBody(w http.ResponseWriter, req *http.Request) ([]byte, bool) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return nil, false
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return b, true
}

// receivedSpan is one received span with the resource it came from.
type receivedSpan struct {
	*tracepb.Span
	resource []*commonpb.KeyValue
}

func (r *otlpReceiver) spans() []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []receivedSpan
	for _, req := range r.requests {
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					out = append(out, receivedSpan{Span: s, resource: rs.GetResource().GetAttributes()})
				}
			}
		}
	}
	return out
}

// text is everything received, as sent and as JSON, to search for values.
func (r *otlpReceiver) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for i, raw := range r.raw {
		b.Write(raw)
		j, _ := protojson.Marshal(r.requests[i])
		b.Write(j)
	}
	return b.String()
}

func attr(kvs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue(), true
		}
	}
	return "", false
}

// traceparent is a header as the web app sends it: a trace and a parent
// span of the browser's, sampled.
type traceparent struct{ trace, span string }

func newTraceparent() traceparent {
	return traceparent{trace: hex.EncodeToString([]byte("molar-test-trace")), span: hex.EncodeToString([]byte("click-01"))}
}

func (p traceparent) header() string { return "00-" + p.trace + "-" + p.span + "-01" }

// withTraceparent is a client option that sends p on every call.
func withTraceparent(p traceparent) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("traceparent", p.header())
			return next(ctx, req)
		}
	}))
}

// rpcLogLines returns the decoded "rpc" log lines of procedure.
func rpcLogLines(t *testing.T, logs, procedure string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if line["msg"] == "rpc" && line["procedure"] == procedure {
			out = append(out, line)
		}
	}
	return out
}

// TestTracesOfAWorkflow runs a day's work (sign in, register a patient
// with a registration number, a phone and a Korean name, search, book,
// chart, invoice, pay) with traces exported by OTLP, as
// OTEL_EXPORTER_OTLP_ENDPOINT turns them on, to a collector on loopback,
// on the embedded engine and on MongoDB. Every RPC has a server span whose
// children are its database calls; the browser's traceparent is the parent
// of the server span; no span, event, attribute or resource carries a
// personal value; and every RPC log line names its trace and span.
func TestTracesOfAWorkflow(t *testing.T) {
	// Not parallel: the OpenTelemetry environment is the process's.
	for _, engine := range []struct {
		name, system string
		change       []func(*Config)
	}{
		{"sqlite", "sqlite", nil},
		{"mongodb", "mongodb", []func(*Config){onMongo(t)}},
	} {
		t.Run(engine.name, func(t *testing.T) {
			recv := newOTLPReceiver(t)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL)
			ts := startServer(t, engine.change...)
			if !ts.tracing.On() {
				t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT did not turn traces on")
			}
			click := tracedWorkflow(t, ts)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := ts.tracing.ForceFlush(ctx); err != nil {
				t.Fatal(err)
			}
			checkTraces(t, ts, recv, engine.system, click)
		})
	}
}

// tracedWorkflow signs in the staff of ts and registers, finds, books,
// charts, bills and reads one patient with the seeded values; the last
// read carries a browser's traceparent, which it returns.
func tracedWorkflow(t *testing.T, ts *testServer) traceparent {
	t.Helper()
	ctx := context.Background()
	if err := saveDemoResources(ctx, ts.db.schedule, 4); err != nil {
		t.Fatal(err)
	}
	if err := ts.app.schedule.ReloadResources(ctx); err != nil {
		t.Fatal(err)
	}
	seedCatalog(t, ts)
	staff := clinicStaff(t, ts)
	desk, dentist := bearer(staff[molarv1.Role_ROLE_FRONT_DESK]), bearer(staff[molarv1.Role_ROLE_DENTIST])
	patients := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, desk)

	created, err := patients.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: seedName, Sex: molarv1.Sex_SEX_MALE, BirthDate: "1977-03-12", MobilePhone: "01073914826", Rrn: "7703121849263",
	}}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.GetPatient().GetId()
	for _, q := range []string{"황보", seedPhone, "770312"} {
		if res, err := patients.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: q})); err != nil || len(res.Msg.GetPatients()) == 0 {
			t.Fatalf("search %q: %v %v", q, res, err)
		}
	}
	loc, _ := time.LoadLocation("Asia/Seoul")
	day := time.Now().In(loc).AddDate(0, 0, 7)
	for day.Weekday() != time.Monday {
		day = day.AddDate(0, 0, 1)
	}
	start := time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, loc)
	if _, err := molarv1connect.NewScheduleServiceClient(http.DefaultClient, ts.URL, desk).BookAppointment(ctx, connect.NewRequest(&molarv1.BookAppointmentRequest{
		PatientId: id, ProviderId: "dr-kim", ChairId: "chair-1", StartTime: timestamppb.New(start), Minutes: 30, TypeId: "checkup",
		Note: "보호자 연락처 " + seedPhone,
	})); err != nil {
		t.Fatal(err)
	}
	chartc := molarv1connect.NewChartServiceClient(http.DefaultClient, ts.URL, dentist)
	if _, err := chartc.AddChartEntry(ctx, connect.NewRequest(&molarv1.AddChartEntryRequest{PatientId: id, Tooth: 36,
		Surfaces: []molarv1.Surface{molarv1.Surface_SURFACE_M, molarv1.Surface_SURFACE_O}, ProcedureCode: "RS-CR", Status: molarv1.EntryStatus_ENTRY_STATUS_COMPLETED})); err != nil {
		t.Fatal(err)
	}
	if _, err := chartc.AddNote(ctx, connect.NewRequest(&molarv1.AddNoteRequest{PatientId: id, Title: "충전 치료", Content: "36 MO 레진 충전 완료"})); err != nil {
		t.Fatal(err)
	}
	billing := molarv1connect.NewBillingServiceClient(http.DefaultClient, ts.URL, desk)
	inv, err := billing.CreateInvoice(ctx, connect.NewRequest(&molarv1.CreateInvoiceRequest{PatientId: id}))
	if err != nil {
		t.Fatal(err)
	}
	issued, err := billing.IssueInvoice(ctx, connect.NewRequest(&molarv1.IssueInvoiceRequest{Id: inv.Msg.GetInvoice().GetId(), Version: inv.Msg.GetInvoice().GetVersion()}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := billing.RecordPayment(ctx, connect.NewRequest(&molarv1.RecordPaymentRequest{InvoiceId: issued.Msg.GetInvoice().GetId(),
		IdempotencyKey: "pay-telemetry-1", Parts: []*molarv1.PaymentPart{cash(issued.Msg.GetInvoice().GetBalance())}})); err != nil {
		t.Fatal(err)
	}
	// A click in the browser: its traceparent comes with the call.
	click := newTraceparent()
	if _, err := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, desk, withTraceparent(click)).
		GetPatient(ctx, connect.NewRequest(&molarv1.GetPatientRequest{Id: id})); err != nil {
		t.Fatal(err)
	}
	return click
}

// checkTraces checks what recv received from ts after tracedWorkflow, on
// an engine whose db.system.name is system.
func checkTraces(t *testing.T, ts *testServer, recv *otlpReceiver, system string, click traceparent) {
	t.Helper()
	spans := recv.spans()
	byID := map[string]receivedSpan{}
	servers := map[string]receivedSpan{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.GetSpanId())] = s
		if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
			servers[s.GetName()] = s
		}
	}
	for _, want := range []string{"molar.v1.AuthService/Login", "molar.v1.PatientService/CreatePatient", "molar.v1.PatientService/SearchPatients",
		"molar.v1.ScheduleService/BookAppointment", "molar.v1.ChartService/AddChartEntry", "molar.v1.BillingService/RecordPayment",
		"molar.v1.PatientService/GetPatient"} {
		if _, ok := servers[want]; !ok {
			t.Errorf("no server span %s among %d spans", want, len(spans))
		}
	}
	// Database calls are the children of the RPC that made them.
	children := map[string][]string{}
	collections := map[string]bool{}
	for _, s := range spans {
		if s.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
			continue
		}
		if sys, _ := attr(s.GetAttributes(), "db.system.name"); sys != system {
			t.Errorf("database span %s: db.system.name %q, want %q", s.GetName(), sys, system)
		}
		if c, ok := attr(s.GetAttributes(), "db.collection.name"); ok {
			collections[s.GetName()+" "+c] = true
		}
		parent, ok := byID[hex.EncodeToString(s.GetParentSpanId())]
		if !ok || parent.GetKind() != tracepb.Span_SPAN_KIND_SERVER || !bytes.Equal(parent.GetTraceId(), s.GetTraceId()) {
			t.Errorf("database span %s is not the child of an RPC span", s.GetName())
			continue
		}
		children[parent.GetName()] = append(children[parent.GetName()], s.GetName())
	}
	for _, rpc := range []string{"molar.v1.PatientService/CreatePatient", "molar.v1.BillingService/RecordPayment", "molar.v1.ChartService/AddChartEntry"} {
		ops := strings.Join(children[rpc], " ")
		if !strings.Contains(ops, "insert") && !strings.Contains(ops, "update") && !strings.Contains(ops, "findAndModify") {
			t.Errorf("%s has database spans %q, no write", rpc, ops)
		}
	}
	if system == "mongodb" && !collections["insert patients"] {
		t.Errorf("no insert span names the patients collection: %v", collections)
	}
	// The browser's span is the parent of the server's.
	get := servers["molar.v1.PatientService/GetPatient"]
	if hex.EncodeToString(get.GetTraceId()) != click.trace || hex.EncodeToString(get.GetParentSpanId()) != click.span {
		t.Errorf("GetPatient span in trace %x under %x; want %s under %s", get.GetTraceId(), get.GetParentSpanId(), click.trace, click.span)
	}
	res := servers["molar.v1.PatientService/CreatePatient"].resource
	if name, _ := attr(res, "service.name"); name != "molar" {
		t.Errorf("service.name %q", name)
	}
	if v, _ := attr(res, "service.version"); v != currentBuild().Version {
		t.Errorf("service.version %q, want %q", v, currentBuild().Version)
	}
	// Nothing personal anywhere in what was exported.
	all := recv.text()
	for _, secret := range seeded {
		if strings.Contains(all, secret) {
			t.Errorf("the exported spans contain %q", secret)
		}
	}
	// The RPC's log line names its trace and its span.
	lines := rpcLogLines(t, ts.logs.String(), "/molar.v1.PatientService/GetPatient")
	if len(lines) != 1 {
		t.Fatalf("%d GetPatient log lines", len(lines))
	}
	if lines[0]["trace_id"] != click.trace || lines[0]["span_id"] != hex.EncodeToString(get.GetSpanId()) {
		t.Errorf("GetPatient logged trace %v span %v; want %s %x", lines[0]["trace_id"], lines[0]["span_id"], click.trace, get.GetSpanId())
	}
	for _, l := range rpcLogLines(t, ts.logs.String(), "/molar.v1.PatientService/CreatePatient") {
		if id, _ := l["trace_id"].(string); len(id) != 32 || l["span_id"] == nil {
			t.Errorf("CreatePatient logged without its trace: %v", l)
		}
	}
}

// TestTraceIDLoggedWithTracesOff: with no collector, an RPC still logs the
// trace its caller sent, and no span of its own.
func TestTraceIDLoggedWithTracesOff(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	if ts.tracing.On() {
		t.Fatal("traces on without a collector")
	}
	ts.addStaff(t, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
	_, tok := ts.login(t, "desk@clinic.test", "front-counter-1")
	click := newTraceparent()
	_, err := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(tok), withTraceparent(click)).
		SearchPatients(context.Background(), connect.NewRequest(&molarv1.SearchPatientsRequest{Query: "김"}))
	if err != nil {
		t.Fatal(err)
	}
	lines := rpcLogLines(t, ts.logs.String(), "/molar.v1.PatientService/SearchPatients")
	if len(lines) != 1 || lines[0]["trace_id"] != click.trace || lines[0]["span_id"] != nil {
		t.Fatalf("log lines %v; want trace %s and no span", lines, click.trace)
	}
}

// envelopeReceiver takes error reports as Sentry does, at
// /api/<project>/envelope/, and keeps each envelope's bytes.
type envelopeReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	envelopes [][]byte
}

func newEnvelopeReceiver(t *testing.T) *envelopeReceiver {
	t.Helper()
	r := &envelopeReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/api/1/envelope/" {
			http.Error(w, "not an envelope", http.StatusNotFound)
			return
		}
		b, ok := readBody(w, req)
		if !ok {
			return
		}
		r.mu.Lock()
		r.envelopes = append(r.envelopes, b)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(r.Close)
	return r
}

// dsn is the receiver's address as a DSN.
func (r *envelopeReceiver) dsn() string {
	return "http://public@" + strings.TrimPrefix(r.URL, "http://") + "/1"
}

// events returns the error events received, decoded.
func (r *envelopeReceiver) events(t *testing.T) []map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, env := range r.envelopes {
		lines := bytes.Split(env, []byte("\n"))
		// The envelope's header, then each item's header and payload.
		for i := 1; i+1 < len(lines); i += 2 {
			var item struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(lines[i], &item); err != nil {
				t.Fatalf("envelope item header %q: %v", lines[i], err)
			}
			if item.Type != "event" {
				continue
			}
			var ev map[string]any
			if err := json.Unmarshal(lines[i+1], &ev); err != nil {
				t.Fatalf("event %q: %v", lines[i+1], err)
			}
			out = append(out, ev)
		}
	}
	return out
}

func (r *envelopeReceiver) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.Join(r.envelopes, nil))
}

// faultyPatients is the patient service with two faults for the test: a
// registration panics, an update fails, each quoting what it was sent.
// Everything else is the real service.
type faultyPatients struct {
	molarv1connect.PatientServiceHandler
}

func (faultyPatients) CreatePatient(_ context.Context, req *connect.Request[molarv1.CreatePatientRequest]) (*connect.Response[molarv1.CreatePatientResponse], error) {
	d := req.Msg.GetDetails()
	panic(fmt.Sprintf("registering %s, born %s, phone %s, number %s", d.GetName(), d.GetBirthDate(), d.GetMobilePhone(), d.GetRrn()))
}

func (faultyPatients) UpdatePatient(_ context.Context, req *connect.Request[molarv1.UpdatePatientRequest]) (*connect.Response[molarv1.UpdatePatientResponse], error) {
	d := req.Msg.GetDetails()
	return nil, fmt.Errorf("saving %s (%s, %s): %w", d.GetName(), d.GetRrn(), d.GetEmail(), errors.New("disk full"))
}

// TestPanicsAndInternalErrorsReported: a handler mounted with the
// production routes' options (interceptors, recovery, limits) panics on one
// call: that caller is told internal with a request id, the server goes on
// answering, and the error reports server receives the panic and an
// internal error with the request id, the trace id, release and
// environment, and no request, header, token or personal value.
func TestPanicsAndInternalErrorsReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	recv := newEnvelopeReceiver(t)
	ts := startServer(t, func(c *Config) { c.SentryDSN = recv.dsn() })
	ts.addStaff(t, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
	_, tok := ts.login(t, "desk@clinic.test", "front-counter-1")

	access := auth.NewInterceptor(auth.SchemaRules(), ts.app.tokens, ts.app.revocations, ts.app.audit, ts.cfg.Proxies)
	opts, err := ts.handlerOptions(access)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(molarv1connect.NewPatientServiceHandler(faultyPatients{patient.NewHandler(ts.app.patients)}, opts...))
	faulty := httptest.NewServer(services.WithRequestID(mux))
	defer faulty.Close()

	click := newTraceparent()
	client := molarv1connect.NewPatientServiceClient(http.DefaultClient, faulty.URL, bearer(tok), withTraceparent(click))
	details := &molarv1.PatientInput{Name: seedName, Sex: molarv1.Sex_SEX_MALE, BirthDate: "1977-03-12", MobilePhone: "01073914826",
		Rrn: "7703121849263", Email: "chilseong.hwangbo@example.com"}
	var requestIDs []string
	for range 2 {
		_, err := client.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: details}))
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeInternal {
			t.Fatalf("a panic answered %v; want internal", err)
		}
		id := ce.Meta().Get(services.RequestIDHeader)
		if id == "" || !strings.Contains(ce.Message(), id) || strings.Contains(ce.Message(), seedName) {
			t.Fatalf("internal error %q, request id %q", ce.Message(), id)
		}
		requestIDs = append(requestIDs, id)
		// The server goes on: the same handler answers the next call.
		if _, err := client.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: "김"})); err != nil {
			t.Fatalf("after a panic: %v", err)
		}
	}
	_, err = client.UpdatePatient(ctx, connect.NewRequest(&molarv1.UpdatePatientRequest{Id: "p1", Details: details, Version: 1}))
	if codeOf(err) != connect.CodeInternal {
		t.Fatalf("a failure answered %v; want internal", err)
	}
	if ce := new(connect.Error); errors.As(err, &ce) {
		requestIDs = append(requestIDs, ce.Meta().Get(services.RequestIDHeader))
	}
	if !ts.reports.Flush(30 * time.Second) {
		t.Fatal("reports not sent")
	}

	// Flush can return while the transport's last batch is still on its
	// way to the receiver: wait for it there.
	events := recv.events(t)
	for limit := time.Now().Add(30 * time.Second); len(events) < 3 && time.Now().Before(limit); events = recv.events(t) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(events) != 3 {
		t.Fatalf("%d events; want 2 panics and 1 internal error", len(events))
	}
	panics := 0
	// The transport may deliver them in any order: each request's event is
	// found by its request id.
	unseen := map[string]bool{}
	for _, id := range requestIDs {
		unseen[id] = true
	}
	for i, ev := range events {
		tags, _ := ev["tags"].(map[string]any)
		id, _ := tags["request_id"].(string)
		if !unseen[id] || tags["trace_id"] != click.trace {
			t.Errorf("event %d tags %v; want one of requests %v, trace %s", i, tags, requestIDs, click.trace)
		}
		delete(unseen, id)
		if ev["release"] != "molar@"+currentBuild().Version || ev["environment"] != "dev" {
			t.Errorf("event %d: release %v, environment %v", i, ev["release"], ev["environment"])
		}
		for _, key := range []string{"request", "user", "breadcrumbs"} {
			if v, ok := ev[key]; ok && v != nil && fmt.Sprint(v) != "map[]" {
				t.Errorf("event %d has %s: %v", i, key, v)
			}
		}
		exc, _ := json.Marshal(ev["exception"])
		if strings.Contains(string(exc), "services.Panic") {
			panics++
			if !strings.Contains(string(exc), "CreatePatient") {
				t.Errorf("the panic's stack does not reach the handler: %s", exc)
			}
		}
	}
	if panics != 2 {
		t.Errorf("%d panics reported; want 2", panics)
	}
	all := recv.text()
	for _, secret := range append(seeded, "chilseong.hwangbo@example.com", tok, "Bearer", "Authorization") {
		if strings.Contains(all, secret) {
			t.Errorf("a report contains %q", secret)
		}
	}
	// The panic is logged as an internal error of its request.
	if !strings.Contains(ts.logs.String(), requestIDs[0]) {
		t.Error("the panic's request id is not in the log")
	}
}
