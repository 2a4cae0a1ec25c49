package services

import (
	"context"
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
}

// NewRPCInterceptor returns an RPCInterceptor that logs to logger.
func NewRPCInterceptor(logger *slog.Logger) *RPCInterceptor {
	return &RPCInterceptor{logger: logger}
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
		err = ToConnect(ctx, i.logger, req.Spec().Procedure, err)
		i.log(ctx, req.Spec().Procedure, req.Peer().Protocol, start, err)
		return res, err
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
		err := ToConnect(ctx, i.logger, conn.Spec().Procedure, next(ctx, conn))
		i.log(ctx, conn.Spec().Procedure, conn.Peer().Protocol, start, err)
		return err
	}
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
