package services

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
)

// RPCInterceptor logs one structured line per RPC (procedure, code, duration,
// request id) and turns every error a handler returns into a Connect error
// through ToConnect. It must be the outermost interceptor so that it sees the
// final outcome, including validation failures.
type RPCInterceptor struct {
	logger *slog.Logger
	report func(ctx context.Context, procedure string, err error, request any)
}

// RPCOption changes what an RPCInterceptor does.
type RPCOption func(*RPCInterceptor)

// ReportInternal has report told of every call whose error becomes internal
// here (a handler's failure, or its panic as a *Panic), besides the log
// line: the error before it became internal, and the request message of a
// unary call (nil for a stream), whose debug_redact fields a report must
// leave out.
func ReportInternal(report func(ctx context.Context, procedure string, err error, request any)) RPCOption {
	return func(i *RPCInterceptor) { i.report = report }
}

// NewRPCInterceptor returns an RPCInterceptor that logs to logger.
func NewRPCInterceptor(logger *slog.Logger, opts ...RPCOption) *RPCInterceptor {
	i := &RPCInterceptor{logger: logger}
	for _, o := range opts {
		o(i)
	}
	return i
}

var _ connect.Interceptor = (*RPCInterceptor)(nil)

// WrapUnary implements connect.Interceptor.
func (i *RPCInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		start := time.Now()
		res, err := next(ctx, req)
		out := ToConnect(ctx, i.logger, req.Spec().Procedure, err)
		i.reportInternal(ctx, req.Spec().Procedure, err, out, req.Any())
		i.log(ctx, req.Spec().Procedure, req.Peer().Protocol, start, out)
		return res, out
	}
}

// WrapStreamingClient implements connect.Interceptor; clients pass through.
func (i *RPCInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (i *RPCInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		out := ToConnect(ctx, i.logger, conn.Spec().Procedure, err)
		i.reportInternal(ctx, conn.Spec().Procedure, err, out, nil)
		i.log(ctx, conn.Spec().Procedure, conn.Peer().Protocol, start, out)
		return out
	}
}

// reportInternal tells the reporter of err when ToConnect made it internal
// (out): errors that were Connect errors already were meant for the caller.
func (i *RPCInterceptor) reportInternal(ctx context.Context, procedure string, err, out error, request any) {
	if i.report == nil || err == nil || connect.CodeOf(out) != connect.CodeInternal {
		return
	}
	if ce := new(connect.Error); errors.As(err, &ce) {
		return
	}
	i.report(ctx, procedure, err, request)
}

func (i *RPCInterceptor) log(ctx context.Context, procedure, protocol string, start time.Time, err error) {
	code := "ok"
	level := slog.LevelInfo
	if err != nil {
		c := connect.CodeOf(err)
		code = c.String()
		if c == connect.CodeInternal || c == connect.CodeUnknown || c == connect.CodeDataLoss {
			level = slog.LevelError
		}
	}
	i.logger.LogAttrs(ctx, level, "rpc",
		slog.String("procedure", procedure),
		slog.String("protocol", protocol),
		slog.String("code", code),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("request_id", RequestID(ctx)),
	)
}
