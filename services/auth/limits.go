package auth

import (
	"context"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/molar-dental/molar/services"
)

// MaxStreamsPerSession is how many server streams (live views of the book
// and the images) one session may hold open: a browser's tabs share its
// session, and each tab holds a few.
const MaxStreamsPerSession = 16

// Limits keeps one member of staff from crowding out the others. Calls of
// a method whose rule declares concurrent_per_user run that many at a
// time per person, as many again wait, and the rest are refused; and one
// session holds at most MaxStreamsPerSession streams. It runs after the
// Interceptor, which says who is calling.
type Limits struct {
	rules      Rules
	maxStreams int

	mu      sync.Mutex
	calls   map[callKey]*callSlots
	streams map[string]int
}

var _ connect.Interceptor = (*Limits)(nil)

type callKey struct{ staff, procedure string }

// callSlots are one person's calls of one method: slots holds a token for
// each running call, and queued counts those running and waiting.
type callSlots struct {
	slots  chan struct{}
	queued int
}

// NewLimits returns the limits the rules declare.
func NewLimits(rules Rules) *Limits {
	return &Limits{rules: rules, maxStreams: MaxStreamsPerSession, calls: map[callKey]*callSlots{}, streams: map[string]int{}}
}

// WrapUnary implements connect.Interceptor.
func (l *Limits) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		release, err := l.enter(ctx, req.Spec().Procedure)
		if err != nil {
			return nil, err
		}
		defer release()
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor.
func (l *Limits) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (l *Limits) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		p := services.PrincipalFrom(ctx)
		if p == nil {
			return next(ctx, conn)
		}
		l.mu.Lock()
		if l.streams[p.SessionID] >= l.maxStreams {
			l.mu.Unlock()
			return &services.Error{Code: services.ResourceExhausted, RetryAfter: 5 * time.Second,
				Message: "too many live views are open in this session; close some windows"}
		}
		l.streams[p.SessionID]++
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			if l.streams[p.SessionID]--; l.streams[p.SessionID] <= 0 {
				delete(l.streams, p.SessionID)
			}
			l.mu.Unlock()
		}()
		return next(ctx, conn)
	}
}

// enter takes a slot of the caller's calls of procedure, waiting for one
// if all are taken and the queue is not full, and returns its release.
func (l *Limits) enter(ctx context.Context, procedure string) (func(), error) {
	n := l.rules[procedure].GetConcurrentPerUser()
	p := services.PrincipalFrom(ctx)
	if n == 0 || p == nil {
		return func() {}, nil
	}
	k := callKey{p.StaffID, procedure}
	l.mu.Lock()
	c := l.calls[k]
	if c == nil {
		c = &callSlots{slots: make(chan struct{}, n)}
		l.calls[k] = c
	}
	if c.queued >= 2*int(n) {
		l.mu.Unlock()
		return nil, &services.Error{Code: services.ResourceExhausted, RetryAfter: time.Second,
			Message: "earlier requests of the same kind are still running; try again in a moment"}
	}
	c.queued++
	l.mu.Unlock()
	leave := func() {
		l.mu.Lock()
		if c.queued--; c.queued == 0 {
			delete(l.calls, k)
		}
		l.mu.Unlock()
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
	return func() {
		<-c.slots
		leave()
	}, nil
}
