package services_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
)

const procedure = "/molar.v1.ClinicService/UpdateClinic"

// requestContext returns the context a handler sees behind WithRequestID when
// the caller sent id.
func requestContext(t *testing.T, id string) context.Context {
	t.Helper()
	var ctx context.Context
	h := services.WithRequestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		ctx = r.Context()
	}))
	req := httptest.NewRequest(http.MethodPost, procedure, nil)
	if id != "" {
		req.Header.Set(services.RequestIDHeader, id)
	}
	h.ServeHTTP(httptest.NewRecorder(), req)
	return ctx
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestToConnectCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code services.Code
		want connect.Code
	}{
		{services.Invalid, connect.CodeInvalidArgument},
		{services.NotFound, connect.CodeNotFound},
		{services.AlreadyExists, connect.CodeAlreadyExists},
		{services.Aborted, connect.CodeAborted},
		{services.FailedPrecondition, connect.CodeFailedPrecondition},
		{services.Unauthenticated, connect.CodeUnauthenticated},
		{services.PermissionDenied, connect.CodePermissionDenied},
		{services.ResourceExhausted, connect.CodeResourceExhausted},
		{services.Unavailable, connect.CodeUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.want.String(), func(t *testing.T) {
			t.Parallel()
			// Wrapped, as a store or service would return it.
			err := fmt.Errorf("saving: %w", &services.Error{
				Code: tc.code, Message: "what the caller sees", Err: errors.New("cause only for the log"),
			})
			got := services.ToConnect(context.Background(), discardLogger(), procedure, err)
			var ce *connect.Error
			if !errors.As(got, &ce) {
				t.Fatalf("ToConnect returned %T, want *connect.Error", got)
			}
			if ce.Code() != tc.want {
				t.Errorf("code = %v, want %v", ce.Code(), tc.want)
			}
			if ce.Message() != "what the caller sees" {
				t.Errorf("message = %q, want the domain message only", ce.Message())
			}
			if strings.Contains(ce.Error(), "cause only for the log") {
				t.Errorf("the cause reached the client: %q", ce.Error())
			}
		})
	}
}

func TestToConnectEveryCodeIsMapped(t *testing.T) {
	t.Parallel()
	// A code added to the vocabulary but not to the mapping would silently
	// become Internal; walk the codes until the first unnamed one.
	for c := services.Invalid; c <= services.Unavailable; c++ {
		err := services.ToConnect(context.Background(), discardLogger(), procedure, services.Errorf(c, "x"))
		if code := connect.CodeOf(err); code == connect.CodeInternal || code == connect.CodeUnknown {
			t.Errorf("services.Code %d maps to %v", c, code)
		}
	}
}

func TestToConnectNil(t *testing.T) {
	t.Parallel()
	if err := services.ToConnect(context.Background(), discardLogger(), procedure, nil); err != nil {
		t.Fatalf("ToConnect(nil) = %v, want nil", err)
	}
}

func TestToConnectViolations(t *testing.T) {
	t.Parallel()
	err := services.InvalidFields(
		services.Violation{Field: "clinic.opening_hours[2].open_time", Rule: "opening_hours.order", Message: "opening time must be before closing time"},
		services.Violation{Field: "clinic.business_registration_number", Rule: "clinic.business_registration_number.checksum", Message: "check digit does not match"},
		services.Violation{Field: "a.b[2].c", Rule: "r", Message: "m"},
	)
	got := services.ToConnect(context.Background(), discardLogger(), procedure, err)
	if connect.CodeOf(got) != connect.CodeInvalidArgument {
		t.Fatalf("code = %v, want InvalidArgument", connect.CodeOf(got))
	}
	var ce *connect.Error
	if !errors.As(got, &ce) {
		t.Fatalf("ToConnect returned %T", got)
	}
	var details []*validate.Violations
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			t.Fatalf("detail %s: %v", d.Type(), err)
		}
		if vs, ok := v.(*validate.Violations); ok {
			details = append(details, vs)
		}
	}
	if len(details) != 1 {
		t.Fatalf("got %d buf.validate.Violations details, want 1", len(details))
	}

	el := func(name string) *validate.FieldPathElement {
		return &validate.FieldPathElement{FieldName: proto.String(name)}
	}
	indexed := func(name string, i uint64) *validate.FieldPathElement {
		e := el(name)
		e.Subscript = &validate.FieldPathElement_Index{Index: i}
		return e
	}
	want := &validate.Violations{Violations: []*validate.Violation{
		{
			Field:   &validate.FieldPath{Elements: []*validate.FieldPathElement{el("clinic"), indexed("opening_hours", 2), el("open_time")}},
			RuleId:  proto.String("opening_hours.order"),
			Message: proto.String("opening time must be before closing time"),
		},
		{
			Field:   &validate.FieldPath{Elements: []*validate.FieldPathElement{el("clinic"), el("business_registration_number")}},
			RuleId:  proto.String("clinic.business_registration_number.checksum"),
			Message: proto.String("check digit does not match"),
		},
		{
			Field:   &validate.FieldPath{Elements: []*validate.FieldPathElement{el("a"), indexed("b", 2), el("c")}},
			RuleId:  proto.String("r"),
			Message: proto.String("m"),
		},
	}}
	if diff := cmp.Diff(want, details[0], protocmp.Transform()); diff != "" {
		t.Errorf("violations detail (-want +got):\n%s", diff)
	}
}

func TestToConnectNoViolationsNoDetail(t *testing.T) {
	t.Parallel()
	got := services.ToConnect(context.Background(), discardLogger(), procedure, services.Errorf(services.NotFound, "no such patient"))
	var ce *connect.Error
	if !errors.As(got, &ce) {
		t.Fatalf("ToConnect returned %T", got)
	}
	if n := len(ce.Details()); n != 0 {
		t.Errorf("got %d details, want none", n)
	}
}

func TestToConnectRetryAfter(t *testing.T) {
	t.Parallel()
	err := &services.Error{Code: services.ResourceExhausted, Message: "slow down", RetryAfter: 1500 * time.Millisecond}
	got := services.ToConnect(context.Background(), discardLogger(), procedure, err)
	var ce *connect.Error
	if !errors.As(got, &ce) {
		t.Fatalf("ToConnect returned %T", got)
	}
	// Rounded up: a client that waits the whole seconds it is told never
	// comes back too early.
	if ra := ce.Meta().Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After = %q, want 2", ra)
	}
}

func TestToConnectPassesConnectErrorsThrough(t *testing.T) {
	t.Parallel()
	in := connect.NewError(connect.CodeOutOfRange, errors.New("page too far"))
	got := services.ToConnect(context.Background(), discardLogger(), procedure, fmt.Errorf("wrapped: %w", in))
	if got != in {
		t.Errorf("ToConnect = %v, want the connect error itself", got)
	}
}

func TestToConnectContextErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want connect.Code
	}{
		{fmt.Errorf("query: %w", context.Canceled), connect.CodeCanceled},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), connect.CodeDeadlineExceeded},
	}
	for _, tc := range cases {
		if got := connect.CodeOf(services.ToConnect(context.Background(), discardLogger(), procedure, tc.err)); got != tc.want {
			t.Errorf("ToConnect(%v) code = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestToConnectInternalHidesTheCause(t *testing.T) {
	t.Parallel()
	const id = "req-abc.123_XYZ"
	ctx := requestContext(t, id)
	if got := services.RequestID(ctx); got != id {
		t.Fatalf("RequestID = %q, want the caller's %q", got, id)
	}
	buf := newSyncBuffer()
	logger := slog.New(slog.NewJSONHandler(buf, nil))
	cause := errors.New("connection refused to mongodb://10.0.0.7:27017 user=molar")

	for _, err := range []error{
		cause,
		fmt.Errorf("clinic: %w", cause),
		// A domain error with a code the mapping does not know is internal too.
		&services.Error{Code: 0, Message: "half-built error", Err: cause},
	} {
		got := services.ToConnect(ctx, logger, procedure, err)
		if connect.CodeOf(got) != connect.CodeInternal {
			t.Errorf("ToConnect(%v) code = %v, want Internal", err, connect.CodeOf(got))
		}
		var ce *connect.Error
		if !errors.As(got, &ce) {
			t.Fatalf("ToConnect returned %T", got)
		}
		if !strings.Contains(ce.Message(), id) {
			t.Errorf("message %q does not name the request id %q", ce.Message(), id)
		}
		for _, leak := range []string{"connection refused", "10.0.0.7", "mongodb", "half-built"} {
			if strings.Contains(ce.Error(), leak) {
				t.Errorf("message %q leaks %q", ce.Error(), leak)
			}
		}
	}
	// The cause is logged, with the id that the client was given.
	out := buf.String()
	if strings.Count(out, "\n") != 3 || !strings.Contains(out, cause.Error()) || !strings.Contains(out, `"request_id":"`+id+`"`) ||
		!strings.Contains(out, `"procedure":"`+procedure+`"`) {
		t.Errorf("log does not hold three lines with the cause, the request id and the procedure:\n%s", out)
	}
}

func TestRequestIDMiddleware(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		echoed   bool
	}{
		{"sane id is kept", "nginx-7f3a.01_b", true},
		{"none", "", false},
		{"bad characters", "abc def<script>", false},
		{"header injection", "abc\r\nSet-Cookie: x=1", false},
		{"too long", strings.Repeat("a", 65), false},
		{"longest allowed", strings.Repeat("a", 64), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen string
			h := services.WithRequestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				seen = services.RequestID(r.Context())
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.in != "" {
				req.Header[services.RequestIDHeader] = []string{tc.in}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(services.RequestIDHeader)
			if got == "" || got != seen {
				t.Fatalf("response id %q, context id %q: want the same, non-empty", got, seen)
			}
			if tc.echoed && got != tc.in {
				t.Errorf("id = %q, want the caller's %q", got, tc.in)
			}
			if !tc.echoed && got == tc.in {
				t.Errorf("unsafe id %q was echoed", tc.in)
			}
		})
	}
	if id := services.RequestID(context.Background()); id != "" {
		t.Errorf("RequestID outside a request = %q, want empty", id)
	}
}

func TestToConnectProblemDetail(t *testing.T) {
	t.Parallel()
	p := &molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_PAYMENT_EXCEEDS_BALANCE, Amount: 50000, Limit: 30000}
	err := fmt.Errorf("paying: %w", services.Refuse(services.FailedPrecondition, p, "the payment (%d) is more than the balance (%d)", 50000, 30000))
	if got := services.ProblemOf(err); !proto.Equal(got, p) {
		t.Fatalf("ProblemOf = %v, want %v", got, p)
	}
	var ce *connect.Error
	if !errors.As(services.ToConnect(context.Background(), discardLogger(), procedure, err), &ce) {
		t.Fatal("not a connect error")
	}
	if ce.Code() != connect.CodeFailedPrecondition {
		t.Errorf("code = %v", ce.Code())
	}
	var found []*molarv1.Problem
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			t.Fatal(derr)
		}
		if got, ok := v.(*molarv1.Problem); ok {
			found = append(found, got)
		}
	}
	if len(found) != 1 || !proto.Equal(found[0], p) {
		t.Errorf("problem details = %v, want exactly %v", found, p)
	}
}
