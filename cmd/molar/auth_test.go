package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/auth"
)

const adminPassword = "a-long-admin-secret"

func codeOf(err error) connect.Code { return connect.CodeOf(err) }

func auditActions(t *testing.T, ts *testServer, token string) []molarv1.AuditAction {
	t.Helper()
	res, err := molarv1connect.NewAuditServiceClient(http.DefaultClient, ts.URL, bearer(token)).
		ListAuditEvents(context.Background(), connect.NewRequest(&molarv1.ListAuditEventsRequest{PageSize: 200}))
	if err != nil {
		t.Fatal(err)
	}
	var out []molarv1.AuditAction
	for _, e := range res.Msg.GetEvents() {
		out = append(out, e.GetAction())
	}
	return out
}

func contains(actions []molarv1.AuditAction, a molarv1.AuditAction) bool {
	for _, x := range actions {
		if x == a {
			return true
		}
	}
	return false
}

func refreshCookie(t *testing.T, hc *http.Client, base string) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(base + "/molar.v1.AuthService/Refresh")
	for _, c := range hc.Jar.Cookies(u) {
		if c.Name == auth.RefreshCookie {
			return c
		}
	}
	return nil
}

// TestSignInFlow walks sign-in, authenticated calls, rotation, reuse
// detection and sign-out.
func TestSignInFlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	ts.addStaff(t, "owner@clinic.test", adminPassword, molarv1.Role_ROLE_ADMIN)

	hc, token := ts.login(t, "Owner@Clinic.test ", adminPassword)
	authc := molarv1connect.NewAuthServiceClient(hc, ts.URL)
	me, err := molarv1connect.NewAuthServiceClient(hc, ts.URL, bearer(token)).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if me.Msg.GetMe().GetStaff().GetEmail() != "owner@clinic.test" || len(me.Msg.GetMe().GetPermissions()) != len(molarv1.Permission_name)-1 {
		t.Fatalf("me = %v", me.Msg.GetMe())
	}
	if _, err := authc.GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{})); codeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("GetMe without token: %v", err)
	}

	first := refreshCookie(t, hc, ts.URL)
	if first == nil {
		t.Fatal("no refresh cookie after login")
	}
	r1, err := authc.Refresh(ctx, connect.NewRequest(&molarv1.RefreshRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	second := refreshCookie(t, hc, ts.URL)
	if second == nil || second.Value == first.Value {
		t.Fatal("refresh did not rotate the cookie")
	}
	if r1.Msg.GetMe().GetSessionId() != me.Msg.GetMe().GetSessionId() {
		t.Fatal("refresh changed the session")
	}

	// A thief replays the first cookie: the whole session ends.
	thief := browser(t)
	u, _ := url.Parse(ts.URL + "/molar.v1.AuthService/")
	thief.Jar.SetCookies(u, []*http.Cookie{{Name: auth.RefreshCookie, Value: first.Value, Path: "/molar.v1.AuthService/"}})
	if _, err := molarv1connect.NewAuthServiceClient(thief, ts.URL).Refresh(ctx, connect.NewRequest(&molarv1.RefreshRequest{})); codeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("reused refresh token: %v, want unauthenticated", err)
	}
	if _, err := authc.Refresh(ctx, connect.NewRequest(&molarv1.RefreshRequest{})); codeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("refresh of the revoked family: %v, want unauthenticated", err)
	}
	if _, err := molarv1connect.NewAuthServiceClient(hc, ts.URL, bearer(r1.Msg.GetAccessToken())).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{})); codeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("access token of a revoked session: %v, want unauthenticated", err)
	}

	_, admin := ts.login(t, "owner@clinic.test", adminPassword)
	actions := auditActions(t, ts, admin)
	for _, want := range []molarv1.AuditAction{molarv1.AuditAction_AUDIT_ACTION_LOGIN_SUCCEEDED, molarv1.AuditAction_AUDIT_ACTION_TOKEN_REUSE} {
		if !contains(actions, want) {
			t.Errorf("audit trail lacks %v: %v", want, actions)
		}
	}

	// Sign out ends the session and clears the cookie.
	hc2, tok2 := ts.login(t, "owner@clinic.test", adminPassword)
	c2 := molarv1connect.NewAuthServiceClient(hc2, ts.URL)
	if _, err := c2.Logout(ctx, connect.NewRequest(&molarv1.LogoutRequest{})); err != nil {
		t.Fatal(err)
	}
	if refreshCookie(t, hc2, ts.URL) != nil {
		t.Fatal("logout left the cookie")
	}
	if _, err := molarv1connect.NewAuthServiceClient(hc2, ts.URL, bearer(tok2)).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{})); codeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("access token after logout: %v", err)
	}
}

func TestRefreshCookieAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		profile    string
		wantSecure bool
	}{{"dev", false}, {"stage", true}} {
		t.Run(tc.profile, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(c *Config) {
				c.Profile = tc.profile
				c.AllowedOrigins = []string{"https://clinic.example"}
			})
			ts.addStaff(t, "owner@clinic.test", adminPassword, molarv1.Role_ROLE_ADMIN)
			res, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL).Login(context.Background(),
				connect.NewRequest(&molarv1.LoginRequest{Email: "owner@clinic.test", Password: adminPassword}))
			if err != nil {
				t.Fatal(err)
			}
			cookies := (&http.Response{Header: res.Header()}).Cookies()
			if len(cookies) != 2 {
				t.Fatalf("cookies %v", cookies)
			}
			c, hint := cookies[0], cookies[1]
			if c.Name != auth.RefreshCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode ||
				c.Path != "/molar.v1.AuthService/" || c.Secure != tc.wantSecure || c.Expires.Before(time.Now().Add(time.Hour)) {
				t.Fatalf("cookie %+v", c)
			}
			// The hint the web app reads holds no secret and lives as long.
			if hint.Name != auth.HintCookie || hint.Value != "1" || hint.HttpOnly || hint.Path != "/" || hint.Secure != tc.wantSecure ||
				!hint.Expires.Equal(c.Expires) || hint.SameSite != http.SameSiteStrictMode {
				t.Fatalf("hint cookie %+v", hint)
			}
			if strings.Contains(res.Header().Get("Set-Cookie"), res.Msg.GetAccessToken()) {
				t.Fatal("access token in a cookie")
			}
		})
	}
}

func TestOriginAndProtocolHeaderChecks(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.addStaff(t, "owner@clinic.test", adminPassword, molarv1.Role_ROLE_ADMIN)
	login := func(origin string, connectHeader bool) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/molar.v1.AuthService/Login",
			strings.NewReader(`{"email":"owner@clinic.test","password":"`+adminPassword+`"}`))
		req.Header.Set("Content-Type", "application/json")
		if connectHeader {
			req.Header.Set("Connect-Protocol-Version", "1")
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		name          string
		origin        string
		connectHeader bool
		want          int
	}{
		{"no origin (not a browser page)", "", true, 200},
		{"allowed origin", "http://localhost:5173", true, 200},
		{"same origin", ts.URL, true, 200},
		{"foreign origin", "http://evil.example", true, 403},
		{"no Connect-Protocol-Version", "", false, 400},
	} {
		if got := login(tc.origin, tc.connectHeader); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestLockoutAndRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	ts.addStaff(t, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
	ts.addStaff(t, "owner@clinic.test", adminPassword, molarv1.Role_ROLE_ADMIN)
	c := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL)
	try := func(email, pw string) error {
		_, err := c.Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: email, Password: pw}))
		return err
	}
	for i := range auth.DefaultConfig.LockoutThreshold {
		if err := try("desk@clinic.test", "wrong-password"); codeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	err := try("desk@clinic.test", "front-counter-1")
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get("Retry-After") == "" {
		t.Fatalf("right password while locked: %v, want resource_exhausted with Retry-After", err)
	}
	// Unknown emails get exactly the answer a wrong password gets.
	if err := try("nobody@clinic.test", "whatever-it-is"); codeOf(err) != connect.CodeUnauthenticated || !strings.Contains(err.Error(), "email or password is incorrect") {
		t.Fatalf("unknown email: %v", err)
	}
	_, admin := ts.login(t, "owner@clinic.test", adminPassword)
	if !contains(auditActions(t, ts, admin), molarv1.AuditAction_AUDIT_ACTION_ACCOUNT_LOCKED) {
		t.Error("no ACCOUNT_LOCKED in the audit trail")
	}

	// The per-address limit: bursts beyond it are refused with a hint.
	limited := false
	for range auth.DefaultConfig.LoginBurst + 2 {
		if err := try("owner@clinic.test", "wrong-again!"); codeOf(err) == connect.CodeResourceExhausted {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("no rate limit on sign-in attempts from one address")
	}
}

// TestRoleMatrix calls every RPC of the compiled schema as every role and
// checks the schema's rule is what decides: a role lacking the declared
// permission is refused, one holding it is let through, and without a token
// only public methods answer. Then it does the same with a token issued to
// an admin before the admin was made front desk: that token opens nothing
// but public methods, and a new sign-in has front desk's rights exactly.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	type caller struct {
		token string
		role  molarv1.Role // unspecified: anonymous, or a session that has ended
	}
	callers := map[string]caller{"anonymous": {}}
	for role := range molarv1.Role_name {
		if role == 0 {
			continue
		}
		r := molarv1.Role(role)
		email := auth.RoleName(r) + "@clinic.test"
		ts.addStaff(t, email, "matrix-password-1", r)
		_, tok := ts.login(t, email, "matrix-password-1")
		callers[auth.RoleName(r)] = caller{tok, r}
	}

	ts.addStaff(t, "demoted@clinic.test", "matrix-password-1", molarv1.Role_ROLE_ADMIN)
	_, stale := ts.login(t, "demoted@clinic.test", "matrix-password-1")
	staff := molarv1connect.NewStaffServiceClient(http.DefaultClient, ts.URL, bearer(callers["admin"].token))
	list, err := staff.ListStaff(ctx, connect.NewRequest(&molarv1.ListStaffRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Msg.GetStaff() {
		if m.GetEmail() != "demoted@clinic.test" {
			continue
		}
		if _, err := staff.UpdateStaff(ctx, connect.NewRequest(&molarv1.UpdateStaffRequest{Id: m.GetId(), DisplayName: m.GetDisplayName(),
			Version: m.GetVersion(), Roles: []molarv1.Role{molarv1.Role_ROLE_FRONT_DESK}})); err != nil {
			t.Fatal(err)
		}
	}
	callers["admin made front desk, token from before"] = caller{token: stale}
	_, fresh := ts.login(t, "demoted@clinic.test", "matrix-password-1")
	callers["admin made front desk, signed in again"] = caller{fresh, molarv1.Role_ROLE_FRONT_DESK}

	rules := auth.SchemaRules()
	checked := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("molar.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			for j := 0; j < fd.Services().Get(i).Methods().Len(); j++ {
				md := fd.Services().Get(i).Methods().Get(j)
				proc := auth.Procedure(md)
				rule := rules[proc]
				if md.IsStreamingClient() || md.IsStreamingServer() || proc == molarv1connect.AuthServiceLogoutProcedure {
					continue
				}
				for who, c := range callers {
					var opts []connect.ClientOption
					if c.token != "" {
						opts = append(opts, bearer(c.token))
					}
					client := connect.NewClient[emptypb.Empty, emptypb.Empty](http.DefaultClient, ts.URL+proc, opts...)
					_, err := client.CallUnary(ctx, connect.NewRequest(&emptypb.Empty{}))
					code := codeOf(err)
					var want string
					switch {
					case rule.GetPublic():
						want = "not denied"
					case c.role == molarv1.Role_ROLE_UNSPECIFIED:
						want = "unauthenticated"
					case rule.GetAuthenticated():
						want = "not denied"
					case contains2(auth.PermissionsOf([]molarv1.Role{c.role}), rule.GetPermission()):
						want = "not denied"
					default:
						want = "permission_denied"
					}
					ok := (want == "not denied" && code != connect.CodePermissionDenied && (code != connect.CodeUnauthenticated || rule.GetPublic())) ||
						(want == "unauthenticated" && code == connect.CodeUnauthenticated) ||
						(want == "permission_denied" && code == connect.CodePermissionDenied)
					if !ok {
						t.Errorf("%s as %s: %v, want %s", proc, who, err, want)
					}
					checked++
				}
			}
		}
		return true
	})
	if checked < 60 {
		t.Fatalf("only %d calls checked", checked)
	}
}

func contains2(ps []molarv1.Permission, p molarv1.Permission) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// TestStaffAdministration: an admin creates an account with a temporary
// password; its owner can do nothing but change it; disabling ends sessions.
func TestStaffAdministration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	ts.addStaff(t, "owner@clinic.test", adminPassword, molarv1.Role_ROLE_ADMIN)
	_, admin := ts.login(t, "owner@clinic.test", adminPassword)
	staff := molarv1connect.NewStaffServiceClient(http.DefaultClient, ts.URL, bearer(admin))

	created, err := staff.CreateStaff(ctx, connect.NewRequest(&molarv1.CreateStaffRequest{
		Email: "Hyg@Clinic.test", DisplayName: "이지은", Roles: []molarv1.Role{molarv1.Role_ROLE_HYGIENIST}, TemporaryPassword: "temporary-pass-1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !created.Msg.GetStaff().GetMustChangePassword() || created.Msg.GetStaff().GetEmail() != "hyg@clinic.test" {
		t.Fatalf("created %v", created.Msg.GetStaff())
	}
	if _, err := staff.CreateStaff(ctx, connect.NewRequest(&molarv1.CreateStaffRequest{
		Email: "hyg@clinic.test", DisplayName: "또", Roles: []molarv1.Role{molarv1.Role_ROLE_HYGIENIST}, TemporaryPassword: "temporary-pass-1",
	})); codeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("duplicate email: %v", err)
	}

	hc, tmp := ts.login(t, "hyg@clinic.test", "temporary-pass-1")
	self := molarv1connect.NewAuthServiceClient(hc, ts.URL, bearer(tmp))
	if _, err := self.ListSessions(ctx, connect.NewRequest(&molarv1.ListSessionsRequest{})); codeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("before changing the temporary password: %v, want failed_precondition", err)
	}
	if _, err := self.ChangePassword(ctx, connect.NewRequest(&molarv1.ChangePasswordRequest{CurrentPassword: "temporary-pass-1", NewPassword: "short"})); codeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("short password: %v", err)
	}
	if _, err := self.ChangePassword(ctx, connect.NewRequest(&molarv1.ChangePasswordRequest{CurrentPassword: "temporary-pass-1", NewPassword: "my-own-password-9"})); err != nil {
		t.Fatal(err)
	}
	r, err := molarv1connect.NewAuthServiceClient(hc, ts.URL).Refresh(ctx, connect.NewRequest(&molarv1.RefreshRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Msg.GetMe().GetStaff().GetMustChangePassword() {
		t.Fatal("still must change password")
	}
	sessions, err := molarv1connect.NewAuthServiceClient(hc, ts.URL, bearer(r.Msg.GetAccessToken())).ListSessions(ctx, connect.NewRequest(&molarv1.ListSessionsRequest{}))
	if err != nil || len(sessions.Msg.GetSessions()) != 1 || !sessions.Msg.GetSessions()[0].GetCurrent() {
		t.Fatalf("sessions %v, %v", sessions, err)
	}

	id := created.Msg.GetStaff().GetId()
	upd, err := staff.UpdateStaff(ctx, connect.NewRequest(&molarv1.UpdateStaffRequest{Id: id, DisplayName: "이지은", Version: created.Msg.GetStaff().GetVersion() + 1,
		Roles: []molarv1.Role{molarv1.Role_ROLE_HYGIENIST, molarv1.Role_ROLE_FRONT_DESK}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staff.UpdateStaff(ctx, connect.NewRequest(&molarv1.UpdateStaffRequest{Id: id, DisplayName: "x", Version: 1,
		Roles: []molarv1.Role{molarv1.Role_ROLE_HYGIENIST}})); codeOf(err) != connect.CodeAborted {
		t.Fatalf("stale update: %v", err)
	}
	if len(upd.Msg.GetStaff().GetRoles()) != 2 {
		t.Fatalf("roles %v", upd.Msg.GetStaff().GetRoles())
	}

	if _, err := staff.SetStaffDisabled(ctx, connect.NewRequest(&molarv1.SetStaffDisabledRequest{Id: id, Disabled: true})); err != nil {
		t.Fatal(err)
	}
	if _, err := molarv1connect.NewAuthServiceClient(hc, ts.URL).Refresh(ctx, connect.NewRequest(&molarv1.RefreshRequest{})); codeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("refresh of a disabled account: %v", err)
	}
	if _, err := molarv1connect.NewAuthServiceClient(hc, ts.URL, bearer(r.Msg.GetAccessToken())).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{})); codeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("access token of a disabled account: %v", err)
	}
	if _, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL).Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: "hyg@clinic.test", Password: "my-own-password-9"})); codeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("login of a disabled account: %v", err)
	}

	actions := auditActions(t, ts, admin)
	for _, want := range []molarv1.AuditAction{
		molarv1.AuditAction_AUDIT_ACTION_STAFF_CREATED, molarv1.AuditAction_AUDIT_ACTION_STAFF_UPDATED,
		molarv1.AuditAction_AUDIT_ACTION_STAFF_DISABLED, molarv1.AuditAction_AUDIT_ACTION_PASSWORD_CHANGED,
	} {
		if !contains(actions, want) {
			t.Errorf("audit lacks %v", want)
		}
	}
}

func TestAuditPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	ts.addStaff(t, "owner@clinic.test", adminPassword, molarv1.Role_ROLE_ADMIN)
	var token string
	for range 5 {
		_, token = ts.login(t, "owner@clinic.test", adminPassword)
	}
	c := molarv1connect.NewAuditServiceClient(http.DefaultClient, ts.URL, bearer(token))
	seen := map[string]bool{}
	var last time.Time
	pageToken := ""
	for pages := 0; ; pages++ {
		res, err := c.ListAuditEvents(ctx, connect.NewRequest(&molarv1.ListAuditEventsRequest{PageSize: 2, PageToken: pageToken,
			Actions: []molarv1.AuditAction{molarv1.AuditAction_AUDIT_ACTION_LOGIN_SUCCEEDED}}))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Msg.GetEvents() {
			if seen[e.GetId()] {
				t.Fatalf("event %s on two pages", e.GetId())
			}
			seen[e.GetId()] = true
			if !last.IsZero() && e.GetTime().AsTime().After(last) {
				t.Fatal("not newest first")
			}
			last = e.GetTime().AsTime()
		}
		if pageToken = res.Msg.GetNextPageToken(); pageToken == "" {
			break
		}
		if pages > 5 {
			t.Fatal("too many pages")
		}
	}
	if len(seen) != 5 {
		t.Fatalf("saw %d sign-ins, want 5", len(seen))
	}
	if _, err := c.ListAuditEvents(ctx, connect.NewRequest(&molarv1.ListAuditEventsRequest{PageToken: "garbage"})); codeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("bad page token: %v", err)
	}
}

func TestUserCreateCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"MOLAR_DATA_DIR": dir, "MOLAR_JWT_KEYS": testKeySpec, "MOLAR_LOG_LEVEL": "error"}
	getenv := func(k string) string { return env[k] }
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"user", "create", "--email", "boss@clinic.test", "--name", "원장", "--role", "admin"},
		getenv, strings.NewReader("first-admin-password\n"), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "created boss@clinic.test") {
		t.Fatalf("output %q", out.String())
	}
	code = run(context.Background(), []string{"user", "create", "--email", "x@clinic.test", "--name", "x", "--role", "owner"},
		getenv, strings.NewReader("first-admin-password\n"), &out, &errOut)
	if code != 2 {
		t.Fatalf("unknown role: exit %d", code)
	}
}

// TestDemotedAdminLosesRightsAtOnce demotes an admin while he is signed in:
// the token he holds, issued with the admin role, is refused on its next
// call, his session cannot be refreshed, and signed in again he is front
// desk: he cannot list staff nor put himself back.
func TestDemotedAdminLosesRightsAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	owner := ts.adminToken(t)
	ts.addStaff(t, "second@clinic.test", "Daejeon-admin-2026", molarv1.Role_ROLE_ADMIN)
	hc, old := ts.login(t, "second@clinic.test", "Daejeon-admin-2026")
	asOld := molarv1connect.NewStaffServiceClient(http.DefaultClient, ts.URL, bearer(old))
	list, err := asOld.ListStaff(ctx, connect.NewRequest(&molarv1.ListStaffRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var second *molarv1.StaffMember
	for _, m := range list.Msg.GetStaff() {
		if m.GetEmail() == "second@clinic.test" {
			second = m
		}
	}
	if second == nil {
		t.Fatal("not listed")
	}
	byOwner := molarv1connect.NewStaffServiceClient(http.DefaultClient, ts.URL, bearer(owner))
	if _, err := byOwner.UpdateStaff(ctx, connect.NewRequest(&molarv1.UpdateStaffRequest{Id: second.GetId(), DisplayName: second.GetDisplayName(),
		Roles: []molarv1.Role{molarv1.Role_ROLE_FRONT_DESK}, Version: second.GetVersion()})); err != nil {
		t.Fatal(err)
	}
	// The old token, still within its fifteen minutes, is refused at once.
	if _, err := asOld.ListStaff(ctx, connect.NewRequest(&molarv1.ListStaffRequest{})); codeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("listing staff with the admin's old token: %v", err)
	}
	if _, err := asOld.UpdateStaff(ctx, connect.NewRequest(&molarv1.UpdateStaffRequest{Id: second.GetId(), DisplayName: second.GetDisplayName(),
		Roles: []molarv1.Role{molarv1.Role_ROLE_ADMIN}, Version: second.GetVersion() + 1})); codeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("re-promoting himself with the old token: %v", err)
	}
	if _, err := molarv1connect.NewAuthServiceClient(hc, ts.URL).Refresh(ctx, connect.NewRequest(&molarv1.RefreshRequest{})); codeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("refreshing the old session: %v", err)
	}
	_, fresh := ts.login(t, "second@clinic.test", "Daejeon-admin-2026")
	asNew := molarv1connect.NewStaffServiceClient(http.DefaultClient, ts.URL, bearer(fresh))
	if _, err := asNew.ListStaff(ctx, connect.NewRequest(&molarv1.ListStaffRequest{})); codeOf(err) != connect.CodePermissionDenied {
		t.Errorf("listing staff as front desk: %v", err)
	}
	// A change of name only ends nothing.
	me, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL, bearer(fresh)).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := byOwner.UpdateStaff(ctx, connect.NewRequest(&molarv1.UpdateStaffRequest{Id: second.GetId(), DisplayName: "새 이름",
		Roles: []molarv1.Role{molarv1.Role_ROLE_FRONT_DESK}, Version: me.Msg.GetMe().GetStaff().GetVersion()})); err != nil {
		t.Fatal(err)
	}
	if _, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL, bearer(fresh)).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{})); err != nil {
		t.Errorf("a rename ended the session: %v", err)
	}
}

// TestChangePasswordGuessesAreLimited guesses the current password of a
// signed-in account, as someone who found an open session would: the
// guesses count towards the account's lockout as at sign-in, so after five
// the account is locked, for ChangePassword and for signing in, and a
// flood of guesses at once is checked a few at a time under the lock.
func TestChangePasswordGuessesAreLimited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	ts.addStaff(t, "guessed@clinic.test", "Gwangju-desk-2026", molarv1.Role_ROLE_FRONT_DESK)
	_, token := ts.login(t, "guessed@clinic.test", "Gwangju-desk-2026")
	authc := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL, bearer(token))
	codes := make(chan connect.Code, 40)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			_, err := authc.ChangePassword(ctx, connect.NewRequest(&molarv1.ChangePasswordRequest{
				CurrentPassword: fmt.Sprintf("guess-number-%02d", i), NewPassword: "Another-password-99"}))
			codes <- codeOf(err)
		})
	}
	wg.Wait()
	close(codes)
	checked := 0
	for c := range codes {
		switch c {
		case connect.CodeInvalidArgument:
			checked++
		case connect.CodeResourceExhausted:
		default:
			t.Errorf("a guess answered %v", c)
		}
	}
	// Five lock it; guesses already holding a hashing slot when the lock
	// came may finish (at most the slots there are).
	if slots := max(2, runtime.NumCPU()); checked < 5 || checked > 5+slots {
		t.Errorf("%d guesses were checked, want 5 to %d", checked, 5+slots)
	}
	if _, err := molarv1connect.NewAuthServiceClient(browser(t), ts.URL).Login(ctx, connect.NewRequest(&molarv1.LoginRequest{
		Email: "guessed@clinic.test", Password: "Gwangju-desk-2026"})); codeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("signing in after the guesses: %v", err)
	}
}

// signInFrom tries a sign-in as if through a proxy that appended from to
// X-Forwarded-For, after whatever spoof the client wrote there itself.
func signInFrom(t *testing.T, ts *testServer, from, spoof, email, password string) error {
	t.Helper()
	req := connect.NewRequest(&molarv1.LoginRequest{Email: email, Password: password})
	xff := from
	if spoof != "" {
		xff = spoof + ", " + from
	}
	req.Header().Set("X-Forwarded-For", xff)
	_, err := molarv1connect.NewAuthServiceClient(browser(t), ts.URL).Login(context.Background(), req)
	return err
}

func behindProxy(c *Config) {
	var err error
	if c.Proxies, err = services.ParseProxies("true"); err != nil {
		panic(err)
	}
	c.TrustProxy = true
}

// TestSignInLimitsHoldAcrossProcessesAndSpoofing guesses passwords from
// one address through two server processes on one database, each guess
// with a different forged X-Forwarded-For in front of what the proxy
// appended: the address's failures are counted once, in the database, so
// the two processes together check AddressFailures guesses and no more.
func TestSignInLimitsHoldAcrossProcessesAndSpoofing(t *testing.T) {
	t.Parallel()
	a := startServer(t, behindProxy)
	b := startServer(t, behindProxy, a.same())
	a.addStaff(t, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
	checked, paused := 0, 0
	for i := range 30 {
		ts := []*testServer{a, b}[i%2]
		// Different accounts, so that no account's lockout comes first.
		email := fmt.Sprintf("guess%02d@clinic.test", i)
		switch err := signInFrom(t, ts, "198.51.100.7", fmt.Sprintf("10.9.%d.%d", i, i), email, "wrong-password"); codeOf(err) {
		case connect.CodeUnauthenticated:
			checked++
		case connect.CodeResourceExhausted:
			paused++
		default:
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if checked != auth.DefaultConfig.AddressFailures {
		t.Errorf("%d guesses checked across two processes, want %d (then %d paused)", checked, auth.DefaultConfig.AddressFailures, paused)
	}
	// Another address is not paused by the first.
	if err := signInFrom(t, b, "198.51.100.8", "", "desk@clinic.test", "front-counter-1"); err != nil {
		t.Errorf("sign-in from another address: %v", err)
	}
}

// TestLockoutNeitherRevealsNorLocksOutStaff: a stranger guessing a real
// account's password and one guessing an email that belongs to no one
// meet the same answers, step by step, including the lock; and the
// stranger's lock does not keep the account's owner out at the address
// they sign in from.
func TestLockoutNeitherRevealsNorLocksOutStaff(t *testing.T) {
	t.Parallel()
	ts := startServer(t, behindProxy)
	ts.addStaff(t, "owner@clinic.test", adminPassword, molarv1.Role_ROLE_ADMIN)
	const clinic, stranger, other = "203.0.113.5", "198.51.100.7", "198.51.100.9"
	if err := signInFrom(t, ts, clinic, "", "owner@clinic.test", adminPassword); err != nil {
		t.Fatal(err)
	}
	answer := func(err error) string {
		var ce *connect.Error
		if !errors.As(err, &ce) {
			return fmt.Sprint(err)
		}
		return fmt.Sprintf("%v: %s (retry hint %t)", ce.Code(), ce.Message(), ce.Meta().Get("Retry-After") != "")
	}
	var took [2][2]time.Duration // [locked][unknown email]
	timed := func(locked bool, unknown int, f func() error) error {
		start := time.Now()
		err := f()
		took[map[bool]int{false: 0, true: 1}[locked]][unknown] += time.Since(start)
		return err
	}
	for i := range auth.DefaultConfig.LockoutThreshold + 1 {
		locked := i == auth.DefaultConfig.LockoutThreshold
		real := answer(timed(locked, 0, func() error { return signInFrom(t, ts, stranger, "", "owner@clinic.test", "guess-one-more") }))
		none := answer(timed(locked, 1, func() error { return signInFrom(t, ts, other, "", "nobody@clinic.test", "guess-one-more") }))
		if real != none {
			t.Errorf("guess %d: a real account answers %q, an unknown email %q", i+1, real, none)
		}
		if i == auth.DefaultConfig.LockoutThreshold && !strings.Contains(real, "resource_exhausted") {
			t.Errorf("guess %d: %s, want the lock", i+1, real)
		}
	}
	n := time.Duration(auth.DefaultConfig.LockoutThreshold)
	t.Logf("mean answer before the lock: account %v, unknown email %v; once locked: account %v, unknown email %v",
		took[0][0]/n, took[0][1]/n, took[1][0], took[1][1])
	if err := signInFrom(t, ts, stranger, "", "owner@clinic.test", adminPassword); codeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("the right password from the stranger's address while locked: %v", err)
	}
	if err := signInFrom(t, ts, clinic, "", "owner@clinic.test", adminPassword); err != nil {
		t.Errorf("the owner at the clinic while strangers are locked out: %v", err)
	}
}
