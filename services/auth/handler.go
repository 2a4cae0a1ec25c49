package auth

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services"
)

// RefreshCookie is the name of the refresh-token cookie.
const RefreshCookie = "molar_refresh"

// HintCookie is set beside the refresh cookie, with the same lifetime but
// readable by the page and holding no secret: it tells the web app that a
// refresh may succeed, so a signed-out browser starts without asking (and
// without a 401 in its console).
const HintCookie = "molar_signed_in"

// cookiePath limits the cookie to the auth service, so it travels with
// nothing else.
const cookiePath = "/" + molarv1connect.AuthServiceName + "/"

// Handler serves molar.v1.AuthService.
type Handler struct {
	svc *Service
	// origins may send cookie-carrying requests besides the server's own.
	origins []string
	// devCookies relaxes Secure for plain-http loopback hosts in dev.
	devCookies bool
}

var _ molarv1connect.AuthServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler. allowedOrigins are the configured CORS
// origins; devCookies is true in the dev profile only.
func NewHandler(svc *Service, allowedOrigins []string, devCookies bool) *Handler {
	return &Handler{svc: svc, origins: allowedOrigins, devCookies: devCookies}
}

// HandlerOptions are the options the auth service must be mounted with: the
// Connect protocol header is required, so that a plain cross-site form or
// image request can never carry the cookie into an RPC.
func HandlerOptions() []connect.HandlerOption {
	return []connect.HandlerOption{connect.WithRequireConnectProtocolHeader()}
}

// checkOrigin refuses cookie-carrying requests from a page of another origin.
func (h *Handler) checkOrigin(header http.Header, host string) error {
	origin := header.Get("Origin")
	if origin == "" {
		return nil // not sent by a browser page, or same-origin GET
	}
	if slices.Contains(h.origins, origin) {
		return nil
	}
	if u, err := url.Parse(origin); err == nil && u.Host == host {
		return nil
	}
	return services.Errorf(services.PermissionDenied, "requests from origin %s are not allowed", origin)
}

// cookies are the Set-Cookie values that store a refresh token (or, with
// value empty, remove it) and its hint.
func (h *Handler) cookies(host, value string, expires time.Time) []string {
	refresh := &http.Cookie{
		Name: RefreshCookie, Value: value, Path: cookiePath, HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode, Expires: expires,
	}
	hint := &http.Cookie{Name: HintCookie, Value: "1", Path: "/", Secure: true, SameSite: http.SameSiteStrictMode, Expires: expires}
	out := make([]string, 0, 2)
	for _, c := range []*http.Cookie{refresh, hint} {
		if value == "" {
			c.Value, c.MaxAge, c.Expires = "", -1, time.Unix(0, 0)
		}
		if h.devCookies && loopback(host) {
			c.Secure = false
		}
		out = append(out, c.String())
	}
	return out
}

func loopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func refreshFrom(header http.Header) string {
	for _, c := range (&http.Request{Header: header}).Cookies() {
		if c.Name == RefreshCookie {
			return c.Value
		}
	}
	return ""
}

// Login implements molarv1connect.AuthServiceHandler.
func (h *Handler) Login(ctx context.Context, req *connect.Request[molarv1.LoginRequest]) (*connect.Response[molarv1.LoginResponse], error) {
	host := hostOf(ctx, req)
	if err := h.checkOrigin(req.Header(), host); err != nil {
		return nil, err
	}
	g, err := h.svc.Login(ctx, req.Msg.GetEmail(), req.Msg.GetPassword())
	if err != nil {
		return nil, err
	}
	res := connect.NewResponse(&molarv1.LoginResponse{
		AccessToken: g.AccessToken, AccessExpireTime: timestamppb.New(g.AccessExpires), Me: me(g.Account, g.SessionID),
	})
	for _, c := range h.cookies(host, g.RefreshToken, g.RefreshExpires) {
		res.Header().Add("Set-Cookie", c)
	}
	res.Header().Set("Cache-Control", "no-store")
	return res, nil
}

// Refresh implements molarv1connect.AuthServiceHandler.
func (h *Handler) Refresh(ctx context.Context, req *connect.Request[molarv1.RefreshRequest]) (*connect.Response[molarv1.RefreshResponse], error) {
	host := hostOf(ctx, req)
	if err := h.checkOrigin(req.Header(), host); err != nil {
		return nil, err
	}
	g, err := h.svc.Refresh(ctx, refreshFrom(req.Header()))
	if err != nil {
		if services.ErrorCode(err) == services.Unauthenticated {
			ce := connect.NewError(connect.CodeUnauthenticated, err)
			for _, c := range h.cookies(host, "", time.Time{}) {
				ce.Meta().Add("Set-Cookie", c)
			}
			return nil, ce
		}
		return nil, err
	}
	res := connect.NewResponse(&molarv1.RefreshResponse{
		AccessToken: g.AccessToken, AccessExpireTime: timestamppb.New(g.AccessExpires), Me: me(g.Account, g.SessionID),
	})
	for _, c := range h.cookies(host, g.RefreshToken, g.RefreshExpires) {
		res.Header().Add("Set-Cookie", c)
	}
	res.Header().Set("Cache-Control", "no-store")
	return res, nil
}

// Logout implements molarv1connect.AuthServiceHandler.
func (h *Handler) Logout(ctx context.Context, req *connect.Request[molarv1.LogoutRequest]) (*connect.Response[molarv1.LogoutResponse], error) {
	host := hostOf(ctx, req)
	if err := h.checkOrigin(req.Header(), host); err != nil {
		return nil, err
	}
	if err := h.svc.Logout(ctx, refreshFrom(req.Header())); err != nil {
		return nil, err
	}
	res := connect.NewResponse(&molarv1.LogoutResponse{})
	for _, c := range h.cookies(host, "", time.Time{}) {
		res.Header().Add("Set-Cookie", c)
	}
	return res, nil
}

// GetMe implements molarv1connect.AuthServiceHandler.
func (h *Handler) GetMe(ctx context.Context, _ *connect.Request[molarv1.GetMeRequest]) (*connect.Response[molarv1.GetMeResponse], error) {
	acct, err := h.svc.Me(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.GetMeResponse{Me: me(acct, services.PrincipalFrom(ctx).SessionID)}), nil
}

// ChangePassword implements molarv1connect.AuthServiceHandler.
func (h *Handler) ChangePassword(ctx context.Context, req *connect.Request[molarv1.ChangePasswordRequest]) (*connect.Response[molarv1.ChangePasswordResponse], error) {
	if err := h.svc.ChangePassword(ctx, req.Msg.GetCurrentPassword(), req.Msg.GetNewPassword()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.ChangePasswordResponse{}), nil
}

// ListSessions implements molarv1connect.AuthServiceHandler.
func (h *Handler) ListSessions(ctx context.Context, req *connect.Request[molarv1.ListSessionsRequest]) (*connect.Response[molarv1.ListSessionsResponse], error) {
	list, err := h.svc.Sessions(ctx, req.Msg.GetStaffId())
	if err != nil {
		return nil, err
	}
	current := services.PrincipalFrom(ctx).SessionID
	out := &molarv1.ListSessionsResponse{}
	for _, s := range list {
		out.Sessions = append(out.Sessions, &molarv1.Session{
			Id: s.ID, StaffId: s.StaffID, CreateTime: timestamppb.New(s.Created), LastUseTime: timestamppb.New(s.LastUsed),
			ExpireTime: timestamppb.New(s.Expires), Ip: s.IP, UserAgent: s.UserAgent, Current: s.ID == current,
		})
	}
	return connect.NewResponse(out), nil
}

// RevokeSession implements molarv1connect.AuthServiceHandler.
func (h *Handler) RevokeSession(ctx context.Context, req *connect.Request[molarv1.RevokeSessionRequest]) (*connect.Response[molarv1.RevokeSessionResponse], error) {
	if err := h.svc.RevokeSession(ctx, req.Msg.GetSessionId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&molarv1.RevokeSessionResponse{}), nil
}

// hostOf is the host the client addressed.
func hostOf[T any](ctx context.Context, req *connect.Request[T]) string {
	if h := services.RequestHost(ctx); h != "" {
		return h
	}
	return req.Peer().Addr
}

// me converts an account to the API's Me.
func me(a Account, sessionID string) *molarv1.Me {
	return &molarv1.Me{Staff: StaffProto(a), Permissions: PermissionsOf(a.Roles), SessionId: sessionID}
}

// StaffProto converts an account to the API's StaffMember (no credentials).
func StaffProto(a Account) *molarv1.StaffMember {
	return &molarv1.StaffMember{
		Id: a.ID, Email: a.Email, DisplayName: a.DisplayName, Roles: a.Roles, Disabled: a.Disabled,
		MustChangePassword: a.MustChangePassword, CreateTime: timestamppb.New(a.Created),
		UpdateTime: timestamppb.New(a.Updated), Version: a.Version,
	}
}
