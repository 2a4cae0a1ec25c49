package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/images"
	"github.com/molar-dental/molar/services/jobs"
)

// withAdmin turns metrics on, on a free loopback port.
func withAdmin(c *Config) { c.AdminAddr = "127.0.0.1:0" }

// scrape is one read of /metrics: the text as served and its families.
type scrape struct {
	text     string
	families map[string]*dto.MetricFamily
}

// scrapeMetrics reads the admin listener's /metrics.
func (ts *testServer) scrapeMetrics(t *testing.T) scrape {
	t.Helper()
	res, err := http.Get("http://" + ts.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v\n%s", res.StatusCode, err, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return scrape{text: string(body), families: fams}
}

// value is the value of the series of name whose labels include labels
// (name=value pairs), summed over the series that match; found says
// whether any did. A histogram's value is its count of observations.
func (s scrape) value(name string, labels ...string) (v float64, found bool) {
	f := s.families[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.GetMetric() {
		matched := 0
		for _, l := range m.GetLabel() {
			if w, ok := want[l.GetName()]; ok {
				if w != l.GetValue() {
					continue next
				}
				matched++
			}
		}
		if matched != len(want) {
			continue
		}
		found = true
		switch {
		case m.GetCounter() != nil:
			v += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			v += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.GetUntyped() != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, found
}

// promtool returns the path of promtool, or skips t when the Prometheus
// checks are turned off (MOLAR_PROMETHEUS_TESTS=skip). Anywhere else a
// missing promtool fails: `go tool task prometheus` installs it.
func promtool(t *testing.T) string {
	t.Helper()
	if os.Getenv("MOLAR_PROMETHEUS_TESTS") == "skip" {
		t.Skip("MOLAR_PROMETHEUS_TESTS=skip")
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (go tool task prometheus installs Debian's prometheus package): %v", err)
	}
	return p
}

// TestMetricsFollowAWorkflow runs a front desk's morning on a server with
// metrics on, on each engine: a wrong password and an unknown email, a
// sign-in, a patient searched and opened, an appointment booked, the day
// listed and watched. The scrape of the admin listener shows each of
// these counted under the procedure's name and code, the database calls
// under their operations, the failed sign-ins under their reasons and the
// watch as an open stream while it is open; no personal value appears in
// it anywhere; and promtool finds nothing to say about it. /metrics is not
// served on the public port.
func TestMetricsFollowAWorkflow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		engine string
		change []func(*Config)
		// ops are operations of the engine the workflow must have made.
		ops []string
	}{
		{"sqlite", []func(*Config){withAdmin}, []string{"select", "insert", "begin", "commit"}},
		{"mongodb", []func(*Config){withAdmin, onMongo(t)}, []string{"find", "insert"}},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			t.Parallel()
			metricsWorkflow(t, tc.engine, tc.ops, tc.change...)
		})
	}
}

func metricsWorkflow(t *testing.T, engine string, ops []string, change ...func(*Config)) {
	ctx := context.Background()
	b := newBookTest(t, change...)
	ts := b.ts
	if ts.AdminAddr() == "" {
		t.Fatal("no admin listener")
	}

	// Metrics are not on the public port, not even as the web app's page.
	res, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the public port: %d, want 404", res.StatusCode)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get("http://" + ts.AdminAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s on the admin listener: %d", path, res.StatusCode)
		}
	}

	// What is personal in this workflow, which no scrape may carry.
	const wrongPassword, strangerEmail = "not-the-counter-password", "stranger@elsewhere.test"
	personal := []string{"desk@clinic.test", "front-counter-1", wrongPassword, strangerEmail}

	authc := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL)
	for _, email := range []string{"desk@clinic.test", strangerEmail} {
		_, err := authc.Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: email, Password: wrongPassword}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("a wrong sign-in of %s: %v", email, err)
		}
	}
	// A second account locked by five wrong passwords, then tried again.
	ts.addStaff(t, "hygienist@clinic.test", "chair-side-pass-1", molarv1.Role_ROLE_HYGIENIST)
	personal = append(personal, "hygienist@clinic.test", "chair-side-pass-1")
	for range auth.DefaultConfig.LockoutThreshold {
		_, err := authc.Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: "hygienist@clinic.test", Password: wrongPassword}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("a wrong sign-in: %v", err)
		}
	}
	_, err = authc.Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: "hygienist@clinic.test", Password: "chair-side-pass-1"}))
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("a sign-in of a locked account: %v", err)
	}
	// A thumbnail job whose image is gone fails its one attempt.
	job := jobs.New("thumbnail:gone", images.JobKind, []byte("gone"), time.Now())
	job.MaxAttempts = 1
	if err := ts.app.jobs.Enqueue(ctx, job); err != nil {
		t.Fatal(err)
	}
	before := ts.scrapeMetrics(t)

	patients := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(b.desk))
	got, err := patients.GetPatient(ctx, connect.NewRequest(&molarv1.GetPatientRequest{Id: b.patients[0]}))
	if err != nil {
		t.Fatal(err)
	}
	p := got.Msg.GetPatient()
	personal = append(personal, p.GetId(), p.GetDetails().GetName(), p.GetDetails().GetMobilePhone())
	if _, err := patients.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: p.GetDetails().GetName()})); err != nil {
		t.Fatal(err)
	}
	if _, err := patients.GetPatient(ctx, connect.NewRequest(&molarv1.GetPatientRequest{Id: "no-such-patient"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("an unknown patient: %v", err)
	}
	schedule := b.client("")
	if _, err := b.book(ctx, schedule, 0, "dr-kim", "chair-1", 10, 0, 30); err != nil {
		t.Fatal(err)
	}
	day := b.day.Format(time.DateOnly)
	if _, err := schedule.ListSchedule(ctx, connect.NewRequest(&molarv1.ListScheduleRequest{StartDate: day, EndDate: day})); err != nil {
		t.Fatal(err)
	}

	// A watch is an open stream from its first message to its end.
	const watch = "WatchSchedule"
	sctx, cancel := context.WithCancel(ctx)
	stream, err := schedule.WatchSchedule(sctx, connect.NewRequest(&molarv1.WatchScheduleRequest{StartDate: day, EndDate: day}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatalf("watch: %v", stream.Err())
	}
	if open, _ := ts.scrapeMetrics(t).value("molar_rpc_streams_open", "method", watch); open != 1 {
		t.Fatalf("streams open while watching: %v, want 1", open)
	}
	cancel()
	_ = stream.Close()
	waitFor(t, "the watch counted as ended", 30*time.Second, func() (bool, string) {
		s := ts.scrapeMetrics(t)
		open, _ := s.value("molar_rpc_streams_open", "method", watch)
		ended, _ := s.value("molar_rpc_requests_total", "method", watch)
		return open == 0 && ended == 1, fmt.Sprintf("open %v, ended %v", open, ended)
	})

	waitFor(t, "the thumbnail job's attempt counted", 30*time.Second, func() (bool, string) {
		v, _ := ts.scrapeMetrics(t).value("molar_job_duration_seconds", "kind", images.JobKind, "result", "died")
		return v == 1, fmt.Sprint(v)
	})
	after := ts.scrapeMetrics(t)
	moved := func(name string, labels ...string) float64 {
		t.Helper()
		v, found := after.value(name, labels...)
		if !found {
			t.Errorf("%s%v: no such series", name, labels)
		}
		was, _ := before.value(name, labels...)
		return v - was
	}
	const authService, patient, sched = "molar.v1.AuthService", "molar.v1.PatientService", "molar.v1.ScheduleService"
	for _, c := range []struct {
		name    string
		labels  []string
		atLeast float64
	}{
		{"molar_rpc_requests_total", []string{"service", patient, "method", "GetPatient", "code", "ok"}, 1},
		{"molar_rpc_requests_total", []string{"service", patient, "method", "GetPatient", "code", "not_found"}, 1},
		{"molar_rpc_errors_total", []string{"service", patient, "method", "GetPatient", "code", "not_found"}, 1},
		{"molar_rpc_requests_total", []string{"service", patient, "method", "SearchPatients", "code", "ok"}, 1},
		{"molar_rpc_requests_total", []string{"service", sched, "method", "BookAppointment", "code", "ok"}, 1},
		{"molar_rpc_requests_total", []string{"service", sched, "method", "ListSchedule", "code", "ok"}, 1},
		{"molar_rpc_duration_seconds", []string{"service", patient, "method", "GetPatient"}, 2},
		{"molar_rpc_duration_seconds", []string{"service", sched, "method", "BookAppointment"}, 1},
	} {
		if d := moved(c.name, c.labels...); d < c.atLeast {
			t.Errorf("%s%v moved by %v, want at least %v", c.name, c.labels, d, c.atLeast)
		}
	}
	// Counted before the first scrape: the desk's sign-in and the two
	// wrong ones.
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"molar_rpc_requests_total", []string{"service", authService, "method", "Login", "code", "ok"}},
		{"molar_rpc_errors_total", []string{"service", authService, "method", "Login", "code", "unauthenticated"}},
		{"molar_signin_failures_total", []string{"reason", "wrong_password"}},
		{"molar_signin_failures_total", []string{"reason", "unknown_email"}},
		{"molar_signin_failures_total", []string{"reason", "locked"}},
		{"molar_account_lockouts_total", nil},
		{"molar_job_queue_depth", []string{"state", "dead"}},
	} {
		if v, _ := after.value(c.name, c.labels...); v < 1 {
			t.Errorf("%s%v = %v, want at least 1", c.name, c.labels, v)
		}
	}
	for _, op := range ops {
		if d := moved("molar_db_operation_duration_seconds", "engine", engine, "operation", op); d < 1 {
			t.Errorf("database %s calls: moved by %v", op, d)
		}
	}
	if v, _ := after.value("molar_ready"); v != 1 {
		t.Errorf("molar_ready = %v", v)
	}
	if _, found := after.value("molar_job_queue_depth", "state", "queued"); !found {
		t.Error("no job queue depth")
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "molar_backup_last_success_timestamp_seconds", "molar_account_lockouts_total"} {
		if _, found := after.value(name); !found && !(name == "process_resident_memory_bytes" && runtime.GOOS != "linux") {
			t.Errorf("%s is not served", name)
		}
	}
	for _, v := range personal {
		if v != "" && strings.Contains(after.text, v) {
			t.Errorf("the scrape carries a personal value %q", v)
		}
	}
	checkNamesServed(t, after)
	ts.app.metrics.BackupSucceeded(time.Unix(1_800_000_000, 0))
	if v, _ := ts.scrapeMetrics(t).value("molar_backup_last_success_timestamp_seconds"); v != 1_800_000_000 {
		t.Errorf("backup time %v after BackupSucceeded", v)
	}

	// promtool reads the live scrape as Prometheus would and finds nothing
	// to say about names, types, units or help texts.
	tool := promtool(t)
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = strings.NewReader(after.text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsReadinessFollowsTheDatabase: with the database gone, the
// scrape still answers and says the server is not ready (the alert rules
// read molar_ready), leaving out the figures it cannot read.
func TestMetricsReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withAdmin)
	if v, _ := ts.scrapeMetrics(t).value("molar_ready"); v != 1 {
		t.Fatalf("molar_ready = %v with the database up", v)
	}
	ts.db.close(context.Background())
	s := ts.scrapeMetrics(t)
	if v, found := s.value("molar_ready"); !found || v != 0 {
		t.Fatalf("molar_ready = %v (served: %v) with the database closed, want 0", v, found)
	}
	if _, found := s.value("molar_job_queue_depth"); found {
		t.Error("a job queue depth read from a closed database")
	}
	if _, found := s.value("go_goroutines"); !found {
		t.Error("the rest of the scrape is missing")
	}
}

// TestMetricsOff: MOLAR_ADMIN_ADDR=off opens no admin listener and keeps
// no metrics; the public port still answers 404 for /metrics.
func TestMetricsOff(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	if ts.AdminAddr() != "" || ts.metrics != nil {
		t.Fatalf("metrics on without MOLAR_ADMIN_ADDR: %q", ts.AdminAddr())
	}
	res, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the public port: %d, want 404", res.StatusCode)
	}
}

// deployFile is the path of a file under deploy/.
func deployFile(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "deploy"}, parts...)...)
}

// TestAlertRules checks the shipped Prometheus rules with promtool and runs
// their unit tests (alerts_test.yml: each alert fires on a server in
// trouble, and not on a healthy one).
func TestAlertRules(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	out, err := exec.Command(tool, "check", "rules", deployFile("prometheus", "alerts.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	cmd := exec.Command(tool, "test", "rules", "alerts_test.yml")
	cmd.Dir = deployFile("prometheus")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// dashboardQueries returns the PromQL of every panel of the shipped Grafana
// dashboard, with Grafana's variables put as a query would have them.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	text, err := os.ReadFile(deployFile("grafana", "molar-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(text, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*").Replace(tg.Expr))
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("the dashboard has %d queries", len(exprs))
	}
	return exprs
}

// TestDashboardQueries has promtool parse every query of the dashboard,
// as the expressions of recording rules.
func TestDashboardQueries(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range dashboardQueries(t) {
		q, _ := json.Marshal(e) // a JSON string is a YAML string
		fmt.Fprintf(&rules, "      - record: dashboard:query_%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}

// checkNamesServed fails t for a metric the dashboard or the alert rules
// read that the scrape s lacks.
func checkNamesServed(t *testing.T, s scrape) {
	t.Helper()
	alerts, err := os.ReadFile(deployFile("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(alerts) + strings.Join(dashboardQueries(t), "\n")
	for _, name := range regexp.MustCompile(`\b(molar|go|process)_[a-z_]+\b`).FindAllString(text, -1) {
		family := name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			family = strings.TrimSuffix(family, suffix)
		}
		if s.families[family] == nil && s.families[name] == nil {
			t.Errorf("%s is read by the dashboard or the alerts but not served", name)
		}
	}
}
