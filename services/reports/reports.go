// Package reports sends error reports, a handler's panics and the errors
// that become internal, to Sentry (or any server that takes its envelopes)
// when a DSN is configured. A report names the request (request id, trace
// id, procedure), the release and the environment, and nothing of the
// person or the patient: no request, no header, no cookie, no user, no
// breadcrumb, and its text is scrubbed (Scrub) of the request's
// debug_redact values and of anything shaped like a registration number, a
// phone number, an e-mail address or Korean text.
package reports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/molar-dental/molar/services"
)

// Options configure a Reporter.
type Options struct {
	// DSN says where reports go; empty turns reports off.
	DSN string
	// Release names the build (its version).
	Release string
	// Environment names the deployment (the profile).
	Environment string
}

// Reporter sends error reports; nil when reports are off, and every method
// works on nil.
type Reporter struct {
	client *sentry.Client
}

// New returns a Reporter for o, or nil when o has no DSN.
func New(o Options) (*Reporter, error) {
	if o.DSN == "" {
		return nil, nil
	}
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:              o.DSN,
		Release:          o.Release,
		Environment:      o.Environment,
		SendDefaultPII:   false,
		AttachStacktrace: false,
		MaxBreadcrumbs:   -1,
		BeforeSend:       beforeSend,
		BeforeBreadcrumb: func(*sentry.Breadcrumb, *sentry.BreadcrumbHint) *sentry.Breadcrumb { return nil },
		// Only what these reports need: the module list and the runtime
		// say which build failed; source lines around each frame are read
		// from the binary's own files where they exist.
		Integrations: func(defaults []sentry.Integration) []sentry.Integration {
			var keep []sentry.Integration
			for _, i := range defaults {
				switch i.Name() {
				case "Modules", "Environment", "ContextifyFrames":
					keep = append(keep, i)
				}
			}
			return keep
		},
	})
	if err != nil {
		return nil, fmt.Errorf("MOLAR_SENTRY_DSN: %w", err)
	}
	return &Reporter{client: client}, nil
}

// Internal reports err, an RPC's failure that its caller sees as internal
// (see services.ReportInternal): request is the call's request message,
// whose debug_redact values are scrubbed from the report; it is never sent.
func (r *Reporter) Internal(ctx context.Context, procedure string, err error, request any) {
	if r == nil {
		return
	}
	var redact []string
	if m, ok := request.(proto.Message); ok {
		redact = services.RedactedValues(m)
	}
	scope := sentry.NewScope()
	scope.SetTag("procedure", procedure)
	if id := services.RequestID(ctx); id != "" {
		scope.SetTag("request_id", id)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		scope.SetTag("trace_id", sc.TraceID().String())
		// The trace context links the report to the trace in Sentry.
		scope.SetPropagationContext(sentry.PropagationContext{TraceID: sentry.TraceID(sc.TraceID()), SpanID: sentry.SpanID(sc.SpanID())})
	}
	level := sentry.LevelError
	var p *services.Panic
	if errors.As(err, &p) {
		level = sentry.LevelFatal
		scope.SetTag("panic", "true")
	}
	scope.SetLevel(level)
	r.client.CaptureException(err, &sentry.EventHint{OriginalException: err, Data: redact}, scope)
}

// Flush waits up to timeout for the reports taken so far to be sent, and
// reports whether they were.
func (r *Reporter) Flush(timeout time.Duration) bool {
	if r == nil {
		return true
	}
	return r.client.Flush(timeout)
}

// Close sends what remains (waiting a few seconds at most) and stops.
func (r *Reporter) Close() {
	if r == nil {
		return
	}
	r.client.Flush(5 * time.Second)
	r.client.Close()
}

// ownTags are the tags Internal sets, from values Molar makes (random ids,
// procedure names): they are not scrubbed, as an id's digits could look
// like a number to scrub.
var ownTags = map[string]bool{"procedure": true, "request_id": true, "trace_id": true, "panic": true}

// beforeSend is the last look at every event: what could name a person is
// dropped, and all remaining text scrubbed.
func beforeSend(e *sentry.Event, hint *sentry.EventHint) *sentry.Event {
	var redact []string
	if hint != nil {
		redact, _ = hint.Data.([]string)
	}
	s := NewScrubber(redact)
	e.Request = nil
	e.User = sentry.User{}
	e.Breadcrumbs = nil
	e.Attachments = nil
	e.Message = s.Scrub(e.Message)
	e.Transaction = s.Scrub(e.Transaction)
	for i := range e.Fingerprint {
		e.Fingerprint[i] = s.Scrub(e.Fingerprint[i])
	}
	for k, v := range e.Tags {
		if !ownTags[k] {
			e.Tags[k] = s.Scrub(v)
		}
	}
	for _, c := range e.Contexts {
		scrubMap(s, c)
	}
	for i := range e.Exception {
		ex := &e.Exception[i]
		ex.Type, ex.Value = s.Scrub(ex.Type), s.Scrub(ex.Value)
		scrubStack(s, ex.Stacktrace)
	}
	for i := range e.Threads {
		scrubStack(s, e.Threads[i].Stacktrace)
	}
	return e
}

func scrubStack(s *Scrubber, st *sentry.Stacktrace) {
	if st == nil {
		return
	}
	for i := range st.Frames {
		f := &st.Frames[i]
		f.Vars = nil
		f.ContextLine = s.Scrub(f.ContextLine)
		for j := range f.PreContext {
			f.PreContext[j] = s.Scrub(f.PreContext[j])
		}
		for j := range f.PostContext {
			f.PostContext[j] = s.Scrub(f.PostContext[j])
		}
	}
}

// scrubMap scrubs every string in m, at any depth.
func scrubMap(s *Scrubber, m map[string]any) {
	for k, v := range m {
		m[k] = scrubValue(s, v)
	}
}

func scrubValue(s *Scrubber, v any) any {
	switch v := v.(type) {
	case string:
		return s.Scrub(v)
	case map[string]any:
		scrubMap(s, v)
		return v
	case []any:
		for i := range v {
			v[i] = scrubValue(s, v[i])
		}
		return v
	case []string:
		for i := range v {
			v[i] = s.Scrub(v[i])
		}
		return v
	}
	return v
}

// CheckDSN checks a DSN from the environment: empty (reports off) or a DSN
// Sentry's client takes; outside the dev profile it must use https, as the
// reports leave the machine.
func CheckDSN(dsn, profile string) error {
	if dsn == "" {
		return nil
	}
	d, err := sentry.NewDsn(dsn)
	if err != nil {
		return errors.New("not a DSN like https://KEY@sentry.example.com/1")
	}
	if profile != "dev" && d.GetScheme() != "https" {
		return fmt.Errorf("must use https outside the dev profile")
	}
	return nil
}
