package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// Interceptor authenticates and authorizes every RPC, unary and streaming,
// from the access rule its method declares in the schema. A method without a
// rule is refused to everyone. A stream ends when its session is revoked.
type Interceptor struct {
	rules       Rules
	tokens      *Tokens
	revocations *Revocations
	audit       *audit.Recorder
	proxies     services.Proxies
}

var _ connect.Interceptor = (*Interceptor)(nil)

// NewInterceptor returns an Interceptor. Behind the trusted proxies the
// client address is taken from X-Forwarded-For (see services.Proxies).
func NewInterceptor(rules Rules, tokens *Tokens, revocations *Revocations, rec *audit.Recorder, proxies services.Proxies) *Interceptor {
	return &Interceptor{rules: rules, tokens: tokens, revocations: revocations, audit: rec, proxies: proxies}
}

// allowedWhilePasswordMustChange are what a user with a temporary password
// may do before choosing their own.
var allowedWhilePasswordMustChange = map[string]bool{
	molarv1connect.AuthServiceGetMeProcedure:          true,
	molarv1connect.AuthServiceChangePasswordProcedure: true,
}

// WrapUnary implements connect.Interceptor.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.authorize(ctx, req.Spec().Procedure, req.Peer().Addr, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.authorize(ctx, conn.Spec().Procedure, conn.Peer().Addr, conn.RequestHeader())
		if err != nil {
			return err
		}
		if p := services.PrincipalFrom(ctx); p != nil {
			ended, stop := i.revocations.Watch(p.SessionID)
			defer stop()
			var cancel context.CancelCauseFunc
			ctx, cancel = context.WithCancelCause(ctx)
			defer cancel(nil)
			go func() {
				select {
				case <-ended:
					cancel(errSessionEnded)
				case <-ctx.Done():
				}
			}()
			err := next(ctx, conn)
			if errors.Is(context.Cause(ctx), errSessionEnded) {
				return services.Errorf(services.Unauthenticated, "the session has ended")
			}
			return err
		}
		return next(ctx, conn)
	}
}

var errSessionEnded = errors.New("session ended")

// Authenticate checks a request outside Connect (an HTTP shortcut such as a
// 304 answer) against the rule of procedure, without recording anything.
func (i *Interceptor) Authenticate(ctx context.Context, procedure, addr string, h http.Header) error {
	j := *i
	j.audit = nil
	_, err := j.authorize(ctx, procedure, addr, h)
	return err
}

// AuthorizeHTTP checks a request served outside Connect (the resumable
// uploads) against the rule of procedure, recording a refusal as for an
// RPC, and returns the context carrying who made it.
func (i *Interceptor) AuthorizeHTTP(r *http.Request, procedure string) (context.Context, error) {
	return i.authorize(r.Context(), procedure, r.RemoteAddr, r.Header)
}

// authorize checks the caller against the method's rule and returns the
// context carrying who they are and where they came from.
func (i *Interceptor) authorize(ctx context.Context, procedure, addr string, h http.Header) (context.Context, error) {
	ctx = services.WithPeer(ctx, services.Peer{IP: i.proxies.ClientIP(addr, h), UserAgent: h.Get("User-Agent")})
	rule, ok := i.rules[procedure]
	if !ok {
		return nil, services.Errorf(services.PermissionDenied, "this method declares no access rule")
	}
	if rule.GetPublic() {
		return ctx, nil
	}
	token, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return nil, services.Errorf(services.Unauthenticated, "sign in first")
	}
	claims, err := i.tokens.Verify(strings.TrimSpace(token))
	if err != nil {
		return nil, services.Errorf(services.Unauthenticated, "%s", err.Error())
	}
	if i.revocations.Revoked(claims.SessionID) {
		return nil, services.Errorf(services.Unauthenticated, "the session has ended")
	}
	roles := claims.roles()
	p := &services.Principal{
		StaffID: claims.Subject, Email: claims.Email, Name: claims.Name, SessionID: claims.SessionID, Roles: roles,
		Permissions: map[molarv1.Permission]bool{}, MustChangePassword: claims.MustChangePassword,
	}
	for _, perm := range PermissionsOf(roles) {
		p.Permissions[perm] = true
	}
	ctx = services.WithPrincipal(ctx, p)
	if p.MustChangePassword && !allowedWhilePasswordMustChange[procedure] {
		return nil, services.Errorf(services.FailedPrecondition, "change your temporary password first")
	}
	if perm := rule.GetPermission(); perm != molarv1.Permission_PERMISSION_UNSPECIFIED && !p.Can(perm) {
		if i.audit != nil {
			_ = i.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_PERMISSION_DENIED, TargetType: "method", TargetID: procedure,
				Detail: "needs " + PermissionName(perm)})
		}
		return nil, services.Errorf(services.PermissionDenied, "this needs the %s permission", PermissionName(perm))
	}
	return ctx, nil
}
