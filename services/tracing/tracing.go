// Package tracing sends OpenTelemetry traces of the RPCs Molar answers, with
// a child span for each database call an RPC makes, to an OTLP collector
// when the standard OpenTelemetry environment names one. Off, an RPC pays
// for reading its traceparent header, so that its log lines still name the
// caller's trace, and a database call for one branch.
//
// No span carries a value from a request: RPC spans are named by procedure
// and carry the protocol and the code; database spans are named by the kind
// of operation and carry the engine and, on MongoDB, the collection. Never
// a statement, a command document, an argument or an error message.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ServiceName is the service.name of Molar's spans unless OTEL_SERVICE_NAME
// says otherwise.
const ServiceName = "molar"

// Tracing is the process's tracer: nil, or one whose provider is nil, when
// traces are off. Every method works on either.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// Build says which build and deployment the spans come from.
type Build struct {
	// Version becomes service.version.
	Version string
	// Environment (the profile) becomes deployment.environment.name.
	Environment string
}

// Enabled reports whether the environment getenv reads asks for traces: an
// OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and neither OTEL_SDK_DISABLED=true
// nor OTEL_TRACES_EXPORTER=none turns them off.
func Enabled(getenv func(string) string) bool {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(env("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// New starts tracing when getenv asks for it (see Enabled) and returns a
// Tracing that is off otherwise. The exporter, the sampler and the batching
// read the rest of the standard variables (OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_TRACES_SAMPLER, OTEL_BSP_SCHEDULE_DELAY...) from the process's
// environment themselves, as the OpenTelemetry SDK does; getenv must be that
// environment's reader.
func New(ctx context.Context, getenv func(string) string, b Build) (*Tracing, error) {
	if !Enabled(getenv) {
		return &Tracing{}, nil
	}
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch strings.TrimSpace(protocol) {
	case "", "http/protobuf", "http/json":
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported: molar sends OTLP over HTTP (http/protobuf or http/json)", protocol)
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	// Molar's name and build first, so that OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES, read after them, can override them.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceName), semconv.ServiceVersion(b.Version),
			semconv.DeploymentEnvironmentNameKey.String(b.Environment)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) && !errors.Is(err, resource.ErrSchemaURLConflict) {
		_ = exporter.Shutdown(ctx)
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	return &Tracing{provider: provider, tracer: provider.Tracer("github.com/molar-dental/molar")}, nil
}

// On reports whether spans are recorded and exported.
func (t *Tracing) On() bool { return t != nil && t.provider != nil }

// Interceptor traces every RPC a handler answers: a server span named by
// the procedure, the child of the caller's span when the request carries a
// W3C traceparent (the web app sends one), so that a click and the work it
// causes share one trace. It must be the outermost interceptor, so that the
// span covers the whole call and everything inside it sees the span. With
// traces off, it only reads the caller's traceparent into the context, for
// the log lines of the call.
func (t *Tracing) Interceptor() (connect.Interceptor, error) {
	if !t.On() {
		return incoming{}, nil
	}
	return otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(t.provider),
		otelconnect.WithPropagator(propagation.TraceContext{}),
		// The web app is Molar's own: its trace is the parent, not a link.
		otelconnect.WithTrustRemote(),
		// Metrics are Prometheus's (services/metrics).
		otelconnect.WithoutMetrics(),
	)
}

// DBCall returns what an engine calls after each database call it makes, or
// nil with traces off: a span of kind client, a child of the context's span
// when that span is recorded (calls outside an RPC make none), named by the
// operation (op), covering the time the call took up to now. collection is
// the collection or table the call names, "" when it names none or is not
// known. The error's message is not recorded: a database's message may quote
// the values it refused.
func (t *Tracing) DBCall(system string) func(ctx context.Context, op, collection string, took time.Duration, err error) {
	if !t.On() {
		return nil
	}
	engine := semconv.DBSystemNameKey.String(system)
	return func(ctx context.Context, op, collection string, took time.Duration, err error) {
		if !trace.SpanFromContext(ctx).IsRecording() {
			return
		}
		end := time.Now()
		attrs := make([]attribute.KeyValue, 0, 3)
		attrs = append(attrs, engine, semconv.DBOperationName(op))
		if collection != "" {
			attrs = append(attrs, semconv.DBCollectionName(collection))
		}
		_, span := t.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(end.Add(-took)), trace.WithAttributes(attrs...))
		if err != nil {
			span.SetStatus(codes.Error, "")
		}
		span.End(trace.WithTimestamp(end))
	}
}

// ForceFlush exports the spans that have ended and not yet been sent.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if !t.On() {
		return nil
	}
	return t.provider.ForceFlush(ctx)
}

// Shutdown exports what remains and stops; spans that end later are
// dropped.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.On() {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// incoming puts the trace context a request carries (its traceparent) into
// the context of the call and does nothing else: with traces off, the log
// lines of the call still name the caller's trace.
type incoming struct{}

// WrapUnary implements connect.Interceptor.
func (incoming) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient && req.Header().Get("Traceparent") != "" {
			ctx = propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(req.Header()))
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor; clients pass through.
func (incoming) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (incoming) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if conn.RequestHeader().Get("Traceparent") != "" {
			ctx = propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(conn.RequestHeader()))
		}
		return next(ctx, conn)
	}
}
