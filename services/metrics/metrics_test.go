package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/jobs"
)

// TestLabelsComeFromFixedSets calls procedures the schema names and one it
// does not, through real Connect handlers, and checks the labels: the
// schema's service and method, "unknown" for the other; Connect codes,
// with a code outside the protocol as "unknown". Sign-in reasons, job
// kinds and database operations outside their sets are "other".
func TestLabelsComeFromFixedSets(t *testing.T) {
	t.Parallel()
	patients := molarv1.File_molar_v1_patient_proto.Services().ByName("PatientService")
	m := New(Config{Services: []protoreflect.ServiceDescriptor{patients}, JobKinds: []string{"thumbnail"}})

	answers := map[string]error{
		"/molar.v1.PatientService/GetPatient":     connect.NewError(connect.CodeNotFound, errors.New("no such patient")),
		"/molar.v1.PatientService/SearchPatients": nil,
		"/molar.v1.Made/Up":                       connect.NewError(connect.Code(99), errors.New("odd")),
	}
	mux := http.NewServeMux()
	for path, err := range answers {
		mux.Handle(path, connect.NewUnaryHandler(path, func(context.Context, *connect.Request[emptypb.Empty]) (*connect.Response[emptypb.Empty], error) {
			if err != nil {
				return nil, err
			}
			return connect.NewResponse(&emptypb.Empty{}), nil
		}, connect.WithInterceptors(m.Interceptor())))
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path := range answers {
		c := connect.NewClient[emptypb.Empty, emptypb.Empty](srv.Client(), srv.URL+path)
		_, _ = c.CallUnary(context.Background(), connect.NewRequest(&emptypb.Empty{}))
	}

	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"molar.v1.PatientService", "GetPatient", "not_found"}, 1},
		{[]string{"molar.v1.PatientService", "SearchPatients", "ok"}, 1},
		{[]string{"unknown", "unknown", "unknown"}, 1},
	} {
		if got := testutil.ToFloat64(m.rpcRequests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("requests%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.rpcErrors.WithLabelValues("molar.v1.PatientService", "GetPatient", "not_found")); got != 1 {
		t.Errorf("errors of GetPatient = %v", got)
	}
	if n := testutil.CollectAndCount(m.rpcErrors); n != 2 {
		t.Errorf("%d error series, want 2 (not_found, unknown)", n)
	}
	if n := testutil.CollectAndCount(m.rpcDuration); n != 3 {
		t.Errorf("%d latency series, want 3", n)
	}

	m.PasswordCheckFailed(auth.FailedLocked)
	m.PasswordCheckFailed("someone's@email")
	m.JobEnded(jobs.Outcome{Job: jobs.Job{Kind: "thumbnail"}, Result: jobs.Succeeded, Duration: time.Second})
	m.JobEnded(jobs.Outcome{Job: jobs.Job{Kind: "patient-1234"}, Result: jobs.Died, Duration: time.Second})
	observe := m.DBCall("sqlite", []string{"select"})
	observe(context.Background(), "select", time.Millisecond, nil)
	observe(context.Background(), "SELECT name FROM patients", time.Millisecond, errors.New("x"))

	gathered, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, f := range gathered {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				values = append(values, l.GetName()+"="+l.GetValue())
			}
		}
	}
	all := strings.Join(values, " ")
	for _, leaked := range []string{"someone", "patient-1234", "SELECT name", "Made"} {
		if strings.Contains(all, leaked) {
			t.Errorf("a label carries %q: %s", leaked, all)
		}
	}
	for _, want := range []string{"reason=locked", "reason=other", "kind=thumbnail", "kind=other", "operation=other"} {
		if !strings.Contains(all, want) {
			t.Errorf("no label %s", want)
		}
	}
	if got := testutil.ToFloat64(m.dbErrors.WithLabelValues("sqlite", "other")); got != 1 {
		t.Errorf("database errors of other = %v", got)
	}
}

// TestOff: a nil *Metrics (MOLAR_ADMIN_ADDR=off) takes every call and
// wraps no RPC.
func TestOff(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.PasswordCheckFailed(auth.FailedWrongPassword)
	m.AccountLocked()
	m.JobEnded(jobs.Outcome{})
	m.BackupSucceeded(time.Now())
	m.Watch(State{})
	if m.DBCall("sqlite", nil) != nil {
		t.Error("an observer of database calls with metrics off")
	}
	if _, ok := m.Interceptor().(passThrough); !ok {
		t.Errorf("interceptor with metrics off: %T", m.Interceptor())
	}
}
