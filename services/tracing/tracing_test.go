package tracing

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestEnabled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"an endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{"a traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{"blank", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, false},
		{"the SDK disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{"no traces exporter", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Enabled(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("Enabled = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewRefusesGRPC(t *testing.T) {
	t.Parallel()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
	if _, err := New(context.Background(), func(k string) string { return env[k] }, Build{}); err == nil {
		t.Fatal("grpc accepted")
	}
}

func TestOff(t *testing.T) {
	t.Parallel()
	tr, err := New(context.Background(), func(string) string { return "" }, Build{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.On() || tr.DBCall("sqlite") != nil {
		t.Fatal("traces on with nothing set")
	}
	if _, err := tr.Interceptor(); err != nil {
		t.Fatal(err)
	}
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var none *Tracing
	if none.On() || none.DBCall("sqlite") != nil || none.Shutdown(context.Background()) != nil {
		t.Fatal("nil Tracing")
	}
}

// TestDBCallSpans: a database call inside a recorded span becomes its
// child, covering the call, named by the operation, with no error text;
// a call outside one makes no span.
func TestDBCallSpans(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := &Tracing{provider: provider, tracer: provider.Tracer("test")}
	call := tr.DBCall("mongodb")

	call(context.Background(), "find", "patients", time.Millisecond, nil)
	ctx, rpc := tr.tracer.Start(context.Background(), "rpc", trace.WithSpanKind(trace.SpanKindServer))
	call(ctx, "insert", "patients", 3*time.Millisecond, errors.New(`E11000 duplicate key: { phone: "01073914826" }`))
	rpc.End()

	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans; want the RPC's and one database call", len(ended))
	}
	db := ended[0]
	if db.Name() != "insert" || db.Parent().SpanID() != rpc.SpanContext().SpanID() || db.SpanKind() != trace.SpanKindClient {
		t.Errorf("span %s under %s, kind %v", db.Name(), db.Parent().SpanID(), db.SpanKind())
	}
	if got := db.EndTime().Sub(db.StartTime()); got != 3*time.Millisecond {
		t.Errorf("span lasts %v, want the call's 3ms", got)
	}
	if db.Status().Code != codes.Error || db.Status().Description != "" || len(db.Events()) != 0 {
		t.Errorf("status %+v, events %v: the failure is marked, its text left out", db.Status(), db.Events())
	}
	attrs := map[string]string{}
	for _, a := range db.Attributes() {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	want := map[string]string{"db.system.name": "mongodb", "db.operation.name": "insert", "db.collection.name": "patients"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, attrs[k], v)
		}
	}
	if len(attrs) != len(want) {
		t.Errorf("attributes %v; want only %v", attrs, want)
	}
}
