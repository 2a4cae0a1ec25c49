package services

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"

	"connectrpc.com/connect"
)

// Panic is what a panic in a handler becomes: an error like any other that
// the RPC interceptor turns into internal (logged with the request id, the
// caller told only that id), with where the panic happened for error
// reports.
type Panic struct {
	// Value is what the handler panicked with.
	Value any
	pcs   []uintptr
}

func (p *Panic) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// StackFrames returns the program counters of the panicking goroutine from
// the panic outwards; error reporters read them by this name.
func (p *Panic) StackFrames() []uintptr { return p.pcs }

// Recover is the function for connect.WithRecover: the handler's panic
// becomes a *Panic, returned as the call's error. The process goes on
// answering; the caller is told internal.
func Recover(_ context.Context, _ connect.Spec, _ http.Header, v any) error {
	pcs := make([]uintptr, 64)
	// Skip runtime.Callers and Recover: the first frame is the deferred
	// recovery, then the runtime's panic, then the code that panicked.
	n := runtime.Callers(2, pcs)
	return &Panic{Value: v, pcs: pcs[:n]}
}

// RecoverHTTP recovers a panic of next, a handler served outside Connect
// (uploads, image links), as connect.WithRecover does for RPCs: the caller
// gets a 500 naming the request id, the panic is logged and handed to
// report (which may be nil) under route, a fixed name (never the path,
// which may hold a link's signature), and the process goes on. A handler
// that aborts its answer on purpose (http.ErrAbortHandler) is let through.
func RecoverHTTP(next http.Handler, route string, logger *slog.Logger, report func(ctx context.Context, procedure string, err error, request any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			pcs := make([]uintptr, 64)
			p := &Panic{Value: v, pcs: pcs[:runtime.Callers(2, pcs)]}
			id := RequestID(r.Context())
			logger.ErrorContext(r.Context(), "internal error", "route", route, "request_id", id, "error", p.Error())
			if report != nil {
				report(r.Context(), route, p, nil)
			}
			http.Error(w, "internal error (request "+id+")", http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}
