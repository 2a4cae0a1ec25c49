package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/clinic"
	"github.com/molar-dental/molar/ui"
)

// httpClient is a fresh HTTP/1.1 client whose connections close with t.
func httpClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// h2cClient speaks HTTP/2 without TLS (prior knowledge), as gRPC clients do
// against the server's cleartext port.
func h2cClient(t *testing.T) *http.Client {
	t.Helper()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// protocol is one way a client can talk to the server.
type protocol struct {
	name   string
	client func(t *testing.T) *http.Client
	opts   []connect.ClientOption
}

var protocols = []protocol{
	{"connect", httpClient, nil},
	{"grpc", h2cClient, []connect.ClientOption{connect.WithGRPC()}},
}

// violation is one entry of a buf.validate.Violations error detail, with its
// field path written as "clinic.opening_hours[2].open_time".
type violation struct {
	Field, Rule string
}

// violationsOf returns the buf.validate.Violations detail of err, failing t
// if err is not InvalidArgument or carries no such detail.
func violationsOf(t *testing.T, err error) []violation {
	t.Helper()
	if code := connect.CodeOf(err); code != connect.CodeInvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %T, want *connect.Error", err)
	}
	var out []violation
	found := false
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			t.Fatalf("error detail %s: %v", d.Type(), derr)
		}
		vs, ok := v.(*validate.Violations)
		if !ok {
			continue
		}
		found = true
		for _, v := range vs.GetViolations() {
			out = append(out, violation{Field: fieldPathString(v.GetField()), Rule: v.GetRuleId()})
		}
	}
	if !found {
		t.Fatalf("error %v has no buf.validate.Violations detail", err)
	}
	return out
}

func fieldPathString(fp *validate.FieldPath) string {
	var b strings.Builder
	for i, e := range fp.GetElements() {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.GetFieldName())
		if e.Subscript != nil {
			fmt.Fprintf(&b, "[%d]", e.GetIndex())
		}
	}
	return b.String()
}

// validClinic is a profile that passes every rule.
func validClinic() *molarv1.Clinic {
	c := clinic.Default()
	c.Name = "서울미소치과의원"
	c.Address = "서울특별시 강남구 테헤란로 123, 4층"
	c.Phone = "02-555-2875"
	c.BusinessRegistrationNumber = "220-81-62517"
	c.ClosedDays = []*molarv1.ClosedDay{{Date: "2026-12-25", Reason: "성탄절"}}
	return c
}

// adminToken signs an administrator in through the API and returns the
// access token.
func (ts *testServer) adminToken(t *testing.T) string {
	t.Helper()
	ts.addStaff(t, "owner@clinic.test", adminPassword, molarv1.Role_ROLE_ADMIN)
	_, token := ts.login(t, "owner@clinic.test", adminPassword)
	return token
}

// TestClinicService drives ClinicService through the generated client over
// each protocol: defaults, saving, optimistic concurrency, and every kind of
// validation failure with the detail the UI places next to its field.
func TestClinicService(t *testing.T) {
	t.Parallel()
	if clinic.ValidBusinessNumber("123-45-67890") {
		t.Fatal("test assumption: 123-45-67890 must have a wrong check digit")
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ts := startServer(t)
			token := ts.adminToken(t)
			hc := p.client(t)
			anon := molarv1connect.NewClinicServiceClient(hc, ts.URL, p.opts...)
			admin := molarv1connect.NewClinicServiceClient(hc, ts.URL, append(p.opts, bearer(token))...)

			get := func(t *testing.T) *molarv1.Clinic {
				t.Helper()
				res, err := anon.GetClinic(ctx, connect.NewRequest(&molarv1.GetClinicRequest{}))
				if err != nil {
					t.Fatalf("GetClinic: %v", err)
				}
				return res.Msg.GetClinic()
			}
			update := func(c *molarv1.Clinic) (*molarv1.Clinic, error) {
				res, err := admin.UpdateClinic(ctx, connect.NewRequest(&molarv1.UpdateClinicRequest{Clinic: c}))
				if err != nil {
					return nil, err
				}
				return res.Msg.GetClinic(), nil
			}

			// An empty database: the default profile, never saved.
			first := get(t)
			if first.GetVersion() != 0 || first.GetTimeZone() != "Asia/Seoul" || first.GetName() != "" {
				t.Fatalf("empty clinic = %v, want version 0 in Asia/Seoul without a name", first)
			}
			if !proto.Equal(first, clinic.Default()) {
				t.Errorf("empty clinic = %v, want the default profile %v", first, clinic.Default())
			}

			// Saving needs a signed-in administrator.
			if _, err := anon.UpdateClinic(ctx, connect.NewRequest(&molarv1.UpdateClinicRequest{Clinic: validClinic()})); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("UpdateClinic without a token: %v, want Unauthenticated", err)
			}

			// Saving from version 0 makes version 1.
			before := time.Now().Add(-time.Second)
			saved, err := update(validClinic())
			if err != nil {
				t.Fatalf("UpdateClinic: %v", err)
			}
			if saved.GetVersion() != 1 || saved.GetName() != "서울미소치과의원" {
				t.Fatalf("saved %v, want version 1 with the new name", saved)
			}
			if ut := saved.GetUpdateTime().AsTime(); ut.Before(before) || ut.After(time.Now().Add(time.Second)) {
				t.Errorf("update_time %v is not now", ut)
			}
			if got := get(t); !proto.Equal(got, saved) {
				t.Fatalf("GetClinic after save = %v, want %v", got, saved)
			}

			// Someone else's edit, also based on version 0, loses and changes nothing.
			stale := validClinic()
			stale.Name = "다른치과"
			if _, err := update(stale); connect.CodeOf(err) != connect.CodeAborted {
				t.Fatalf("update based on version 0 after version 1: %v, want Aborted", err)
			}
			if got := get(t); !proto.Equal(got, saved) {
				t.Fatalf("after the lost update GetClinic = %v, want still %v", got, saved)
			}

			invalid := []struct {
				name   string
				change func(c *molarv1.Clinic)
				want   violation
			}{
				{"bad phone", func(c *molarv1.Clinic) { c.Phone = "02-12-34" },
					violation{"clinic.phone", "string.pattern"}},
				{"bad business number check digit", func(c *molarv1.Clinic) { c.BusinessRegistrationNumber = "123-45-67890" },
					violation{"clinic.business_registration_number", "clinic.business_registration_number.checksum"}},
				{"opens after it closes", func(c *molarv1.Clinic) {
					c.OpeningHours[2].OpenTime, c.OpeningHours[2].CloseTime = "18:00", "09:00"
					c.OpeningHours[2].LunchStart, c.OpeningHours[2].LunchEnd = "", ""
				}, violation{"clinic.opening_hours[2]", "opening_hours.order"}},
				{"duplicate weekday", func(c *molarv1.Clinic) {
					c.OpeningHours = append(c.OpeningHours, &molarv1.OpeningHours{
						Weekday: molarv1.Weekday_WEEKDAY_MONDAY, OpenTime: "14:00", CloseTime: "20:00",
					})
				}, violation{"clinic.opening_hours", "clinic.opening_hours.unique_weekday"}},
				{"unknown time zone", func(c *molarv1.Clinic) { c.TimeZone = "Asia/Gangnam" },
					violation{"clinic.time_zone", "clinic.time_zone.known"}},
				{"February 30th", func(c *molarv1.Clinic) { c.ClosedDays[0].Date = "2026-02-30" },
					violation{"clinic.closed_days[0].date", "clinic.closed_days.date.valid"}},
			}
			for _, tc := range invalid {
				c := proto.CloneOf(saved)
				tc.change(c)
				_, err := update(c)
				got := violationsOf(t, err)
				if !slices.Contains(got, tc.want) {
					t.Errorf("%s: violations %v, want %v among them", tc.name, got, tc.want)
				}
			}

			// Nothing above changed the profile.
			if got := get(t); !proto.Equal(got, saved) {
				t.Fatalf("after refused updates GetClinic = %v, want still %v", got, saved)
			}

			// The next save, from the current version, wins.
			next := proto.CloneOf(saved)
			next.Phone = "1588-2875"
			if again, err := update(next); err != nil || again.GetVersion() != 2 || again.GetPhone() != "1588-2875" {
				t.Fatalf("update from version 1 = %v, %v; want version 2", again, err)
			}

			// Every ClinicService call really went over this protocol.
			calls := 0
			for _, l := range logLines(t, ts.logs.String()) {
				if proc, _ := l["procedure"].(string); l["msg"] == "rpc" && strings.HasPrefix(proc, "/"+molarv1connect.ClinicServiceName+"/") {
					calls++
					if l["protocol"] != p.name {
						t.Errorf("%s answered over %v, want %s", proc, l["protocol"], p.name)
					}
				}
			}
			if calls < 10 {
				t.Errorf("logged %d ClinicService calls, want at least 10", calls)
			}
		})
	}
}

// TestClinicUpdatesRace races administrators saving from the same version:
// exactly one wins, the rest are told to reload.
func TestClinicUpdatesRace(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	client := molarv1connect.NewClinicServiceClient(httpClient(t), ts.URL, bearer(ts.adminToken(t)))
	const n = 10
	outcomes := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := validClinic()
			c.Name = fmt.Sprintf("치과 %d", i)
			_, err := client.UpdateClinic(context.Background(), connect.NewRequest(&molarv1.UpdateClinicRequest{Clinic: c}))
			if err != nil {
				outcomes <- connect.CodeOf(err).String()
			} else {
				outcomes <- "ok"
			}
		}()
	}
	wg.Wait()
	close(outcomes)
	counts := map[string]int{}
	for o := range outcomes {
		counts[o]++
	}
	if counts["ok"] != 1 || counts["aborted"] != n-1 {
		t.Fatalf("outcomes %v, want 1 ok and %d aborted", counts, n-1)
	}
	res, err := client.GetClinic(context.Background(), connect.NewRequest(&molarv1.GetClinicRequest{}))
	if err != nil || res.Msg.GetClinic().GetVersion() != 1 {
		t.Fatalf("after the race: %v, %v; want version 1", res, err)
	}
}

func getStatus(t *testing.T, hc *http.Client, url string) (int, string) {
	t.Helper()
	res, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ctx := context.Background()

	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			health := grpchealth.NewClient(p.client(t), ts.URL, p.opts...)
			for _, service := range []string{"", grpchealth.HealthV1ServiceName, molarv1connect.ClinicServiceName} {
				res, err := health.Check(ctx, &grpchealth.CheckRequest{Service: service})
				if err != nil {
					t.Fatalf("Check(%q): %v", service, err)
				}
				if res.Status != grpchealth.StatusServing {
					t.Errorf("Check(%q) = %v, want SERVING", service, res.Status)
				}
			}
			if _, err := health.Check(ctx, &grpchealth.CheckRequest{Service: "molar.v1.NoSuchService"}); connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("Check of an unknown service: %v, want NotFound", err)
			}
		})
	}

	hc := httpClient(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := getStatus(t, hc, ts.URL+path); code != http.StatusOK {
			t.Errorf("GET %s = %d %q, want 200", path, code, body)
		}
	}
}

// tcpProxy forwards TCP connections to a target and can be cut and restored,
// to make the database disappear under a running server.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(func() {
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			network := "tcp"
			if strings.HasPrefix(p.target, "/") {
				network = "unix"
			}
			out, err := net.DialTimeout(network, p.target, 5*time.Second)
			if err != nil {
				in.Close()
				continue
			}
			if !p.track(ln, in, out) {
				continue
			}
			p.wg.Add(2)
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
}

// track registers a forwarded pair, unless the listener that accepted it has
// been cut meanwhile: then it closes them.
func (p *tcpProxy) track(ln net.Listener, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut stops listening and drops every forwarded connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// restore listens again on the same address.
func (p *tcpProxy) restore() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ln, err = net.Listen("tcp", p.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		p.t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// waitFor polls check until it reports true or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		ok, state := check()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last: %s)", what, within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReadinessFollowsTheDatabase cuts the database away from a running
// server and restores it: /readyz and the gRPC health check follow, while
// /healthz (liveness) stays 200 throughout.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	engine := strings.TrimSuffix(strings.TrimPrefix(mongotest.URI(t), "mongodb://"), "/")
	if sock, err := url.PathUnescape(engine); err == nil && strings.HasPrefix(sock, "/") && strings.HasSuffix(sock, ".sock") {
		engine = sock // the embedded engine's Unix socket
	} else if strings.ContainsAny(engine, "/@,?") {
		t.Skipf("the engine address %q is not a single host:port to proxy", engine)
	}
	proxy := newTCPProxy(t, engine)
	ts := startServer(t, func(c *Config) {
		// The MongoDB engine through a proxy that can be cut; probe a lost
		// server often, so that recovery is seen quickly.
		c.MongoURI = "mongodb://" + proxy.addr + "/?heartbeatFrequencyMS=500"
	})
	hc := httpClient(t)
	health := grpchealth.NewClient(h2cClient(t), ts.URL, connect.WithGRPC())
	ready := func() (int, string) { return getStatus(t, hc, ts.URL+"/readyz") }
	serving := func() grpchealth.Status {
		res, err := health.Check(context.Background(), &grpchealth.CheckRequest{})
		if err != nil {
			t.Fatalf("health check: %v", err)
		}
		return res.Status
	}

	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("readyz before the cut = %d %q, want 200", code, body)
	}

	proxy.cut()
	waitFor(t, "readyz turns 503 once the database is gone", 15*time.Second, func() (bool, string) {
		code, body := ready()
		return code == http.StatusServiceUnavailable, fmt.Sprintf("%d %q", code, body)
	})
	if st := serving(); st != grpchealth.StatusNotServing {
		t.Errorf("health while the database is gone = %v, want NOT_SERVING", st)
	}
	if code, _ := getStatus(t, hc, ts.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz while the database is gone = %d, want 200: the process itself is alive", code)
	}
	// An RPC that needs the database fails as unavailable (the server says
	// so, after the driver's server selection gives up), not as a hang.
	clinics := molarv1connect.NewClinicServiceClient(hc, ts.URL)
	req := connect.NewRequest(&molarv1.GetClinicRequest{})
	req.Header().Set(services.RequestIDHeader, "during-outage")
	if _, err := clinics.GetClinic(context.Background(), req); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("GetClinic while the database is gone: %v, want Unavailable", err)
	}
	if !slices.ContainsFunc(logLines(t, ts.logs.String()), func(l map[string]any) bool {
		return l["msg"] == "rpc" && l["request_id"] == "during-outage" && l["code"] == "unavailable"
	}) {
		t.Errorf("the server did not log the outage call as unavailable:\n%s", ts.logs.String())
	}

	proxy.restore()
	waitFor(t, "readyz returns to 200 once the database is back", 20*time.Second, func() (bool, string) {
		code, body := ready()
		return code == http.StatusOK, fmt.Sprintf("%d %q", code, body)
	})
	if st := serving(); st != grpchealth.StatusServing {
		t.Errorf("health after recovery = %v, want SERVING", st)
	}
	if _, err := clinics.GetClinic(context.Background(), connect.NewRequest(&molarv1.GetClinicRequest{})); err != nil {
		t.Errorf("GetClinic after recovery: %v", err)
	}
}

func TestReflection(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	stream := grpcreflect.NewClient(h2cClient(t), ts.URL).NewStream(context.Background())
	t.Cleanup(func() { _, _ = stream.Close() })

	names, err := stream.ListServices()
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	for _, want := range []string{molarv1connect.ClinicServiceName, grpchealth.HealthV1ServiceName} {
		if !slices.ContainsFunc(names, func(n protoreflect.FullName) bool { return string(n) == want }) {
			t.Errorf("reflection lists %v, want %s among them", names, want)
		}
	}

	// A tool such as grpcurl can then fetch the schema of the service.
	files, err := stream.FileContainingSymbol(molarv1connect.ClinicServiceName)
	if err != nil {
		t.Fatalf("FileContainingSymbol: %v", err)
	}
	var fileNames []string
	for _, f := range files {
		fileNames = append(fileNames, f.GetName())
	}
	if !slices.Contains(fileNames, "molar/v1/clinic.proto") {
		t.Errorf("files for %s = %v, want molar/v1/clinic.proto among them", molarv1connect.ClinicServiceName, fileNames)
	}
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.AllowedOrigins = []string{"http://localhost:5173"} })
	hc := httpClient(t)
	// Browsers send the requested headers lower-case, sorted and
	// comma-separated (Fetch standard), and rs/cors relies on that order.
	const appHeaders = "connect-protocol-version,content-type"
	preflight := func(t *testing.T, origin, headers string) http.Header {
		t.Helper()
		req, err := http.NewRequest(http.MethodOptions, ts.URL+molarv1connect.ClinicServiceUpdateClinicProcedure, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", headers)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode >= 300 {
			t.Errorf("preflight from %s: status %d", origin, res.StatusCode)
		}
		return res.Header
	}

	t.Run("allowed origin", func(t *testing.T) {
		h := preflight(t, "http://localhost:5173", appHeaders)
		if got := h.Get("Access-Control-Allow-Origin"); got != "http://localhost:5173" {
			t.Errorf("Access-Control-Allow-Origin = %q, want the origin itself", got)
		}
		if got := h.Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Errorf("Access-Control-Allow-Credentials = %q, want true", got)
		}
		allowed := strings.ToLower(strings.Join(h.Values("Access-Control-Allow-Headers"), ","))
		for _, want := range []string{"connect-protocol-version", "content-type"} {
			if !strings.Contains(allowed, want) {
				t.Errorf("Access-Control-Allow-Headers = %q, want %s", allowed, want)
			}
		}
		if methods := h.Get("Access-Control-Allow-Methods"); !strings.Contains(methods, "POST") {
			t.Errorf("Access-Control-Allow-Methods = %q, want POST", methods)
		}
		if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("Vary = %q, want Origin so caches keep answers per origin", h.Values("Vary"))
		}
	})
	t.Run("signed-in call with request id", func(t *testing.T) {
		h := preflight(t, "http://localhost:5173", "authorization,connect-protocol-version,content-type,x-request-id")
		if got := h.Get("Access-Control-Allow-Origin"); got != "http://localhost:5173" {
			t.Errorf("Access-Control-Allow-Origin = %q, want the origin: the app sends Authorization and X-Request-Id", got)
		}
	})
	t.Run("header the API does not take", func(t *testing.T) {
		h := preflight(t, "http://localhost:5173", "connect-protocol-version,content-type,x-evil")
		if got := h.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin = %q for an unlisted header, want none", got)
		}
	})
	for _, origin := range []string{"http://evil.example", "http://localhost:5174", "https://localhost:5173", "null"} {
		t.Run("refused "+origin, func(t *testing.T) {
			h := preflight(t, origin, appHeaders)
			if got := h.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin = %q for %s, want none", got, origin)
			}
			if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q for %s, want none", got, origin)
			}
		})
	}

	// A real cross-origin call from the app can read the request id.
	req := connect.NewRequest(&molarv1.GetClinicRequest{})
	req.Header().Set("Origin", "http://localhost:5173")
	res, err := molarv1connect.NewClinicServiceClient(hc, ts.URL).GetClinic(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Header().Get("Access-Control-Allow-Origin"); got != "http://localhost:5173" {
		t.Errorf("Access-Control-Allow-Origin on the call = %q", got)
	}
	if exposed := strings.ToLower(strings.Join(res.Header().Values("Access-Control-Expose-Headers"), ",")); !strings.Contains(exposed, "x-request-id") {
		t.Errorf("Access-Control-Expose-Headers = %q, want X-Request-Id", exposed)
	}
}

func TestRequestIDOnEveryResponse(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	hc := httpClient(t)
	cases := []struct {
		name, method, path, body string
	}{
		{"liveness", http.MethodGet, "/healthz", ""},
		{"readiness", http.MethodGet, "/readyz", ""},
		{"web app", http.MethodGet, "/settings/clinic", ""},
		{"missing file", http.MethodGet, "/nonexistent.js", ""},
		{"rpc", http.MethodPost, molarv1connect.ClinicServiceGetClinicProcedure, "{}"},
		{"rpc error", http.MethodPost, molarv1connect.ClinicServiceUpdateClinicProcedure, "{}"},
		{"unknown rpc", http.MethodPost, "/molar.v1.ClinicService/Nope", "{}"},
		{"preflight", http.MethodOptions, molarv1connect.ClinicServiceGetClinicProcedure, ""},
	}
	hexID := regexp.MustCompile(`^[0-9a-f]{24}$`)
	for _, tc := range cases {
		do := func(id string) string {
			t.Helper()
			req, err := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if id != "" {
				req.Header.Set(services.RequestIDHeader, id)
			}
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.Header.Get(services.RequestIDHeader)
		}
		t.Run(tc.name, func(t *testing.T) {
			a, b := do(""), do("")
			if !hexID.MatchString(a) || !hexID.MatchString(b) || a == b {
				t.Errorf("generated ids %q and %q: want two different random ids", a, b)
			}
			if got := do("nginx-2f9c.01_a"); got != "nginx-2f9c.01_a" {
				t.Errorf("sane incoming id not echoed: got %q", got)
			}
			if got := do("bad id with spaces"); got == "bad id with spaces" || !hexID.MatchString(got) {
				t.Errorf("unsafe incoming id: got %q, want a fresh one", got)
			}
		})
	}
}

func TestWebApp(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	hc := httpClient(t)

	// The same index the ui package serves, built app or "not built" page.
	rec := httptest.NewRecorder()
	ui.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	index := rec.Body.String()
	if !strings.Contains(strings.ToLower(index), "<!doctype html") {
		t.Fatalf("ui index is not HTML: %.200q", index)
	}

	for _, path := range []string{"/", "/settings/clinic", "/patients/123/chart"} {
		res, err := hc.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != index {
			t.Errorf("GET %s = %d, body %.80q; want 200 with the index", path, res.StatusCode, body)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s Content-Type = %q, want text/html", path, ct)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s Cache-Control = %q, want no-cache so a new release is seen", path, cc)
		}
	}

	if code, _ := getStatus(t, hc, ts.URL+"/nonexistent.js"); code != http.StatusNotFound {
		t.Errorf("GET /nonexistent.js = %d, want 404 (a missing asset is not the index)", code)
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, ts.URL+"/", strings.NewReader("x"))
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s / = %d, want 404", method, res.StatusCode)
		}
	}

	// When the app is built, its hashed assets are served and cached for good.
	if m := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindStringSubmatch(index); m != nil {
		res, err := hc.Get(ts.URL + m[1])
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s = %d, Cache-Control %q; want 200, immutable", m[1], res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
}

// logLines parses the JSON lines written so far.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestRPCLogLine(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	client := molarv1connect.NewClinicServiceClient(httpClient(t), ts.URL)
	req := connect.NewRequest(&molarv1.GetClinicRequest{})
	req.Header().Set(services.RequestIDHeader, "log-test-get-1")
	if _, err := client.GetClinic(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	upd := connect.NewRequest(&molarv1.UpdateClinicRequest{Clinic: validClinic()})
	upd.Header().Set(services.RequestIDHeader, "log-test-update-1")
	if _, err := client.UpdateClinic(context.Background(), upd); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("UpdateClinic without a token: %v", err)
	}

	// The interceptor logs before the response is written, so the lines
	// are there by now.
	find := func(id string) map[string]any {
		t.Helper()
		for _, l := range logLines(t, ts.logs.String()) {
			if l["msg"] == "rpc" && l["request_id"] == id {
				return l
			}
		}
		t.Fatalf("no rpc log line with request_id %q in:\n%s", id, ts.logs.String())
		return nil
	}

	get := find("log-test-get-1")
	want := map[string]any{
		"level":     "INFO",
		"procedure": molarv1connect.ClinicServiceGetClinicProcedure,
		"protocol":  "connect",
		"code":      "ok",
	}
	for k, v := range want {
		if get[k] != v {
			t.Errorf("rpc line %s = %v, want %v", k, get[k], v)
		}
	}
	if d, ok := get["duration_ms"].(float64); !ok || d < 0 || d > 30_000 {
		t.Errorf("duration_ms = %v, want a number of milliseconds", get["duration_ms"])
	}

	upd1 := find("log-test-update-1")
	if upd1["code"] != "unauthenticated" || upd1["procedure"] != molarv1connect.ClinicServiceUpdateClinicProcedure {
		t.Errorf("refused update logged as %v", upd1)
	}

	// A generated id is logged the same way as the one sent back.
	res, err := client.GetClinic(context.Background(), connect.NewRequest(&molarv1.GetClinicRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	find(res.Header().Get(services.RequestIDHeader))
}

func TestSeedDemoIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mdb := mongotest.DB(t)
	// As openDatabase does: the unique email index is what makes a second
	// account with the same email fail.
	if err := mdb.EnsureIndexes(ctx, mongo.AllIndexes()); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	db := mongoDatabase(mdb, newLogger(logs, 0))
	a, err := newApp(Config{Profile: "dev", DataDir: t.TempDir(), JWTKeys: testKeySpec}, db, newLogger(logs, 0), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if !clinic.ValidBusinessNumber("220-81-62517") {
		t.Error("the demo business registration number has a wrong check digit")
	}

	report, err := seedDemo(ctx, db, a, time.Now)
	if err != nil {
		t.Fatalf("first seed: %v", err)
	}
	if !strings.Contains(report, "clinic profile loaded") {
		t.Errorf("first seed report %q does not say it loaded the clinic", report)
	}
	svc := clinic.NewService(db.clinic, time.Now)
	first, err := svc.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.GetVersion() != 1 || first.GetName() == "" {
		t.Fatalf("after the first seed: %v, want a named clinic at version 1", first)
	}
	accounts, err := a.auth.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != len(demoAccounts) {
		t.Fatalf("after the first seed: %d accounts, want %d", len(accounts), len(demoAccounts))
	}

	report, err = seedDemo(ctx, db, a, time.Now)
	if err != nil {
		t.Fatalf("second seed: %v", err)
	}
	if !strings.Contains(report, "left unchanged") || strings.Contains(report, "account") {
		t.Errorf("second seed report %q: want only that the clinic is left unchanged", report)
	}
	second, err := svc.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(first, second) {
		t.Errorf("second seed changed the clinic:\nbefore %v\nafter  %v", first, second)
	}
	again, err := a.auth.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(accounts) {
		t.Errorf("second seed: %d accounts, want still %d", len(again), len(accounts))
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stdout   string
		stderr   string
		noStderr bool
	}{
		{"no command", nil, nil, 2, "", "usage: molar", false},
		{"unknown command", []string{"frobnicate"}, nil, 2, "", `unknown command "frobnicate"`, false},
		{"demo data in prod", []string{"seed", "--demo"},
			withSecrets(t, map[string]string{"MOLAR_PROFILE": "prod", "MOLAR_ALLOWED_ORIGINS": "https://clinic.example.com", "MOLAR_TRUST_PROXY": "127.0.0.1"}), 1, "", "demo data is refused", false},
		{"bad configuration", []string{"serve"}, map[string]string{"MOLAR_ADDR": "nowhere"}, 1, "", "MOLAR_ADDR", false},
		{"help", []string{"help"}, nil, 0, "usage: molar", "", true},
		{"config lists the variables", []string{"config"}, nil, 0, "MOLAR_MAX_REQUEST_BYTES", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// None of these may open the database: a data directory that
			// stays empty proves it.
			dataDir := t.TempDir()
			vars := map[string]string{"MOLAR_DATA_DIR": dataDir}
			maps.Copy(vars, tc.env)
			var stdout, stderr strings.Builder
			code := run(context.Background(), tc.args, env(vars), strings.NewReader(""), &stdout, &stderr)
			if entries, _ := os.ReadDir(dataDir); len(entries) > 0 {
				t.Errorf("%v touched the data directory: %v", tc.args, entries)
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.stderr)
			}
			if tc.noStderr && stderr.Len() > 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
		})
	}
}
