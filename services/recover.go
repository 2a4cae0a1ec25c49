package services

import (
	"context"
	"fmt"
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
