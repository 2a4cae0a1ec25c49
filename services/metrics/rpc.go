package metrics

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// procedure is one RPC of the schema, as its labels name it.
type procedure struct {
	service, method string
	streams         bool
}

// unknownProcedure labels a procedure the schema does not name.
var unknownProcedure = procedure{service: "unknown", method: "unknown"}

// rpcSeries are one procedure's series, kept so that a call does not look
// its labels up again.
type rpcSeries struct {
	proc     procedure
	ok       prometheus.Counter
	duration prometheus.Observer
	open     prometheus.Gauge
}

// seriesOf returns the series of a procedure path.
func (m *Metrics) seriesOf(path string) *rpcSeries {
	if s, ok := m.series.Load(path); ok {
		return s.(*rpcSeries)
	}
	p, known := m.procedures[path]
	if !known {
		path, p = "", unknownProcedure
	}
	s := &rpcSeries{proc: p,
		ok:       m.rpcRequests.WithLabelValues(p.service, p.method, "ok"),
		duration: m.rpcDuration.WithLabelValues(p.service, p.method),
	}
	if p.streams {
		s.open = m.streamsOpen.WithLabelValues(p.service, p.method)
	}
	got, _ := m.series.LoadOrStore(path, s)
	return got.(*rpcSeries)
}

// done counts a call that ended with err.
func (m *Metrics) done(s *rpcSeries, err error) {
	if err == nil {
		s.ok.Inc()
		return
	}
	code := codeLabel(connect.CodeOf(err))
	m.rpcRequests.WithLabelValues(s.proc.service, s.proc.method, code).Inc()
	m.rpcErrors.WithLabelValues(s.proc.service, s.proc.method, code).Inc()
}

// codeLabel names a Connect code; a number outside the protocol's codes is
// "unknown", as the protocol reads it.
func codeLabel(c connect.Code) string {
	if c < connect.CodeCanceled || c > connect.CodeUnauthenticated {
		return connect.CodeUnknown.String()
	}
	return c.String()
}

// Interceptor counts and times every RPC a handler answers. It must come
// before the interceptor that turns the services' errors into Connect
// errors, so that it sees the code the caller gets.
// With metrics off (a nil *Metrics) it wraps nothing.
func (m *Metrics) Interceptor() connect.Interceptor {
	if m == nil {
		return passThrough{}
	}
	return rpcInterceptor{m}
}

// passThrough is an interceptor that leaves every call as it is.
type passThrough struct{}

func (passThrough) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }
func (passThrough) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}
func (passThrough) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

type rpcInterceptor struct{ m *Metrics }

// WrapUnary implements connect.Interceptor.
func (i rpcInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		s := i.m.seriesOf(req.Spec().Procedure)
		start := time.Now()
		res, err := next(ctx, req)
		s.duration.Observe(time.Since(start).Seconds())
		i.m.done(s, err)
		return res, err
	}
}

// WrapStreamingClient implements connect.Interceptor; clients pass through.
func (rpcInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor. A stream is open
// from its start to its end and counted when it ends; its length is not a
// latency, so it is not timed.
func (i rpcInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		s := i.m.seriesOf(conn.Spec().Procedure)
		if s.open != nil {
			s.open.Inc()
			defer s.open.Dec()
		}
		err := next(ctx, conn)
		i.m.done(s, err)
		return err
	}
}
