package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services"
)

// shippedNginxConf is the nginx configuration deploy/ ships.
const shippedNginxConf = "../../deploy/nginx/molar.conf"

// proxyClientIP is the address the tests' browsers connect to nginx from;
// nginx connects to molar from 127.0.0.1, so the two can be told apart.
var proxyClientIP = net.IPv4(127, 0, 0, 2)

// nginxProxy is Debian's nginx running the shipped configuration on
// loopback in front of one test server.
type nginxProxy struct {
	// URL is https://127.0.0.1:port; HTTPURL the plain-HTTP listener.
	URL, HTTPURL string
	// CAFile holds the certificate nginx presents (self-signed).
	CAFile string
	// client speaks TLS and HTTP/2 to nginx from proxyClientIP.
	client *http.Client
}

// nginxBinary finds nginx, or skips the test when MOLAR_NGINX_TESTS=skip.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("MOLAR_NGINX_TESTS") == "skip" {
		t.Skip("MOLAR_NGINX_TESTS=skip: deploy/nginx/molar.conf is not tested")
	}
	for _, p := range []string{os.Getenv("MOLAR_NGINX"), "/usr/sbin/nginx"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	t.Fatal("nginx is not installed: `go tool task nginx` installs Debian's; " +
		"MOLAR_NGINX names another binary, MOLAR_NGINX_TESTS=skip skips these tests")
	return ""
}

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// selfSigned writes a certificate for 127.0.0.1 and localhost, and its key,
// into dir, and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "molar test proxy"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// renderNginxConf is the shipped configuration with the test's ports,
// certificate and upstream; each replaced text must be found as often as
// the shipped file has it, so a change to the file cannot slip past.
func renderNginxConf(t *testing.T, httpPort, httpsPort int, certFile, keyFile, upstream string) string {
	t.Helper()
	b, err := os.ReadFile(shippedNginxConf)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, r := range []struct {
		old, new string
		n        int
	}{
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort), 1},
		{"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", httpsPort), 1},
		{"server molar:8080;", "server " + upstream + ";", 2},
		{"/etc/nginx/certs/fullchain.pem", certFile, 1},
		{"/etc/nginx/certs/privkey.pem", keyFile, 1},
	} {
		if got := strings.Count(conf, r.old); got != r.n {
			t.Fatalf("%s: %q found %d times, want %d", shippedNginxConf, r.old, got, r.n)
		}
		conf = strings.ReplaceAll(conf, r.old, r.new)
	}
	return conf
}

// startNginx runs nginx in front of upstream (host:port) until the test
// ends: as the current user, with its pid, logs and temporary files in a
// directory of the test.
func startNginx(t *testing.T, upstream string) *nginxProxy {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	httpPort, httpsPort := freePort(t), freePort(t)
	if err := os.WriteFile(filepath.Join(dir, "molar.conf"), []byte(renderNginxConf(t, httpPort, httpsPort, certFile, keyFile, upstream)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The main file stands for the distribution's nginx.conf. Run by root,
	// nginx would hand its workers to nobody, who cannot enter the test's
	// directories: the workers stay root then.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	mainConf := user + `worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 256; }
http {
    access_log access.log;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    include molar.conf;
}
`
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(mainConf), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd := exec.Command(bin, "-p", dir+"/", "-c", "nginx.conf", "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	logs := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return stderr.String() + string(b)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("nginx's log:\n%s", logs())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for _, port := range []int{httpPort, httpsPort} {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("nginx stopped: %v\n%s", err, logs())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("nginx does not listen on %d: %v\n%s", port, err, logs())
			}
		}
	}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: proxyClientIP}, Timeout: 10 * time.Second}
	return &nginxProxy{
		URL:     fmt.Sprintf("https://127.0.0.1:%d", httpsPort),
		HTTPURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		CAFile:  certFile,
		client: &http.Client{Transport: &http.Transport{
			DialContext:       dialer.DialContext,
			TLSClientConfig:   &tls.Config{RootCAs: pool},
			ForceAttemptHTTP2: true,
		}},
	}
}

// getThrough fetches url with hc and returns the answer with its body read.
func getThrough(t *testing.T, hc *http.Client, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// nearestRank is the p-th percentile (nearest rank) of sorted durations.
func nearestRank(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i, 1)-1]
}

// TestNginxProxy runs the shipped deploy/nginx/molar.conf with Debian's
// nginx in front of a real server trusting it, and checks what a clinic's
// browsers and programs rely on: TLS with HTTP/2, the redirect from plain
// HTTP, HSTS, the app's own security headers passed on once, Connect
// calls, the catalog's revalidation, the schedule's stream delivering each
// change while it is open (its delivery times measured, through nginx and
// without it), gRPC (buf curl, and a stream), and an upload as large as
// molar accepts.
func TestNginxProxy(t *testing.T) {
	t.Parallel()
	nginxBinary(t)
	ctx := context.Background()
	b := newBookTest(t, trustProxy(t, "127.0.0.1"), func(c *Config) { c.MaxUploadBytes = 100 << 20 })
	px := startNginx(t, b.ts.Addr())

	t.Run("TLS, HTTP/2 and HSTS", func(t *testing.T) {
		res, body := getThrough(t, px.client, px.URL+"/healthz", nil)
		if res.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
			t.Fatalf("/healthz through nginx: %d %q", res.StatusCode, body)
		}
		if res.Proto != "HTTP/2.0" || res.TLS == nil || res.TLS.NegotiatedProtocol != "h2" {
			t.Errorf("protocol %s, ALPN %v; want HTTP/2 over TLS", res.Proto, res.TLS)
		}
		if got := res.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != "max-age=63072000" {
			t.Errorf("Strict-Transport-Security %q", got)
		}
		if got := res.Header.Get("Server"); got != "nginx" {
			t.Errorf("Server %q: nginx tells its version", got)
		}
	})

	t.Run("plain HTTP is sent to HTTPS", func(t *testing.T) {
		hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, _ := getThrough(t, hc, px.HTTPURL+"/patients/p1?tab=chart", nil)
		loc, err := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusMovedPermanently || err != nil || loc.Scheme != "https" || loc.RequestURI() != "/patients/p1?tab=chart" {
			t.Errorf("plain HTTP: %d to %q, want 301 to the same path over https", res.StatusCode, res.Header.Get("Location"))
		}
	})

	t.Run("security headers passed on once", func(t *testing.T) {
		direct, _ := getThrough(t, http.DefaultClient, b.ts.URL+"/", nil)
		proxied, _ := getThrough(t, px.client, px.URL+"/", nil)
		for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
			"Permissions-Policy", "Cross-Origin-Opener-Policy", "Cache-Control"} {
			want, got := direct.Header.Values(k), proxied.Header.Values(k)
			if len(want) != 1 || !slices.Equal(got, want) {
				t.Errorf("%s: %q through nginx, %q from molar; want one, the same", k, got, want)
			}
		}
		if csp := proxied.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("Content-Security-Policy %q lacks frame-ancestors", csp)
		}
		api, _ := getThrough(t, px.client, px.URL+"/molar.v1.CatalogService/ListProcedures?encoding=json&message=%7B%7D&connect=v1", nil)
		if got := api.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("API answer through nginx: X-Content-Type-Options %q", got)
		}
	})

	t.Run("Connect unary calls", func(t *testing.T) {
		me, err := molarv1connect.NewAuthServiceClient(px.client, px.URL, bearer(b.desk)).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if got := me.Msg.GetMe().GetStaff().GetEmail(); got != "desk@clinic.test" {
			t.Errorf("GetMe through nginx: %q", got)
		}
		_, err = molarv1connect.NewAuthServiceClient(px.client, px.URL).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("GetMe without a token through nginx: %v", err)
		}
	})

	t.Run("catalog revalidated with its ETag", func(t *testing.T) {
		seedCatalog(t, b.ts)
		catalog := molarv1connect.NewCatalogServiceClient(px.client, px.URL, bearer(b.desk), connect.WithHTTPGet())
		if _, err := catalog.ListProcedures(ctx, connect.NewRequest(&molarv1.ListProceduresRequest{})); err != nil {
			t.Fatal(err)
		}
		path := px.URL + "/molar.v1.CatalogService/ListProcedures?encoding=json&message=%7B%7D&connect=v1"
		auth := map[string]string{"Authorization": "Bearer " + b.desk}
		first, body := getThrough(t, px.client, path, auth)
		etag := first.Header.Get("ETag")
		if first.StatusCode != http.StatusOK || etag == "" || len(body) == 0 {
			t.Fatalf("GET through nginx: %d, ETag %q, %d bytes", first.StatusCode, etag, len(body))
		}
		auth["If-None-Match"] = etag
		again, body := getThrough(t, px.client, path, auth)
		if again.StatusCode != http.StatusNotModified || len(body) != 0 || again.Header.Get("ETag") != etag {
			t.Errorf("revalidation through nginx: %d, ETag %q, %d bytes; want 304 with %q", again.StatusCode, again.Header.Get("ETag"), len(body), etag)
		}
	})

	t.Run("schedule stream delivers each change", func(t *testing.T) {
		through, throughLag := watchDelivery(t, b, molarv1connect.NewScheduleServiceClient(px.client, px.URL, bearer(b.desk)), 0, 50)
		direct, directLag := watchDelivery(t, b, b.client(""), 7, 50)
		t.Logf("WatchSchedule over %d changes, from the booking sent to the change received: through nginx p50 %v p99 %v, straight to molar p50 %v p99 %v; "+
			"received after the booking's answer (negative: before it): through nginx p50 %v p99 %v, straight p50 %v p99 %v",
			len(through), nearestRank(through, 50), nearestRank(through, 99), nearestRank(direct, 50), nearestRank(direct, 99),
			nearestRank(throughLag, 50), nearestRank(throughLag, 99), nearestRank(directLag, 50), nearestRank(directLag, 99))
	})

	t.Run("gRPC with buf curl", func(t *testing.T) {
		buf, err := filepath.Abs("../../.bin/buf")
		if err == nil {
			_, err = os.Stat(buf)
		}
		if err != nil {
			t.Fatalf("buf is not built (go tool task tools): %v", err)
		}
		curl := func(path string, args ...string) string {
			t.Helper()
			cmd := exec.Command(buf, append(append([]string{"curl", "--protocol", "grpc", "--cacert", px.CAFile}, args...), px.URL+path)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("buf curl %s: %v\n%s", path, err, out)
			}
			return string(out)
		}
		if out := curl("/grpc.health.v1.Health/Check", "-d", "{}"); !strings.Contains(out, `"SERVING"`) {
			t.Errorf("health over gRPC through nginx: %s", out)
		}
		if out := curl("/molar.v1.AuthService/GetMe", "-d", "{}", "-H", "Authorization: Bearer "+b.desk); !strings.Contains(out, "desk@clinic.test") {
			t.Errorf("GetMe over gRPC through nginx: %s", out)
		}
		// A server stream over gRPC, too: its first message is the snapshot.
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		day := b.day.Format(time.DateOnly)
		stream, err := molarv1connect.NewScheduleServiceClient(px.client, px.URL, bearer(b.desk), connect.WithGRPC()).
			WatchSchedule(sctx, connect.NewRequest(&molarv1.WatchScheduleRequest{StartDate: day, EndDate: day}))
		if err != nil {
			t.Fatal(err)
		}
		if !stream.Receive() || stream.Msg().GetSnapshot() == nil {
			t.Errorf("gRPC stream through nginx: no snapshot: %v", stream.Err())
		}
		stream.Close()
	})

	t.Run("upload as large as molar accepts", func(t *testing.T) {
		uploadAtLimit(t, b.ts, px)
	})
}

// watchDelivery books n appointments through c, one after another, from
// days after the test's Monday, while a WatchSchedule stream on c is open,
// and returns, sorted, how long each took from sending the booking to its
// arrival on the stream, and from the booking's answer to that arrival.
// Each change must arrive on the open stream before the next is made.
func watchDelivery(t *testing.T, b *bookTest, c molarv1connect.ScheduleServiceClient, fromDay, n int) (took, lag []time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const perDay = 24 // four dentists' mornings, 9:00 to 12:00, in half hours
	first := b.day.AddDate(0, 0, fromDay)
	last := first.AddDate(0, 0, (n-1)/perDay)
	stream, err := c.WatchSchedule(ctx, connect.NewRequest(&molarv1.WatchScheduleRequest{
		StartDate: first.Format(time.DateOnly), EndDate: last.Format(time.DateOnly)}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if !stream.Receive() || stream.Msg().GetSnapshot() == nil {
		t.Fatalf("no snapshot first: %v", stream.Err())
	}
	type arrival struct {
		id string
		at time.Time
	}
	arrivals := make(chan arrival, n)
	ended := make(chan error, 1)
	go func() {
		for stream.Receive() {
			if a := stream.Msg().GetAppointment(); a != nil {
				arrivals <- arrival{a.GetId(), time.Now()}
			}
		}
		ended <- stream.Err()
	}()
	providers := []string{"dr-kim", "dr-park", "dr-lee", "hyg-lee"}
	for i := range n {
		slot := i % perDay
		day := first.AddDate(0, 0, i/perDay)
		start := day.Add(9*time.Hour + time.Duration(slot/4)*30*time.Minute)
		sent := time.Now()
		res, err := c.BookAppointment(ctx, connect.NewRequest(&molarv1.BookAppointmentRequest{
			PatientId: b.patients[i%len(b.patients)], ProviderId: providers[slot%4], ChairId: fmt.Sprintf("chair-%d", slot%4+1),
			StartTime: timestamppb.New(start), Minutes: 30, TypeId: "checkup"}))
		if err != nil {
			t.Fatalf("booking %d: %v", i, err)
		}
		answered := time.Now()
		id := res.Msg.GetAppointment().GetId()
		for got := ""; got != id; {
			select {
			case a := <-arrivals:
				got = a.id
				if got == id {
					took = append(took, a.at.Sub(sent))
					lag = append(lag, a.at.Sub(answered))
				}
			case err := <-ended:
				t.Fatalf("the stream ended before booking %d arrived: %v", i, err)
			case <-ctx.Done():
				t.Fatalf("booking %d never arrived on the stream", i)
			}
		}
	}
	slices.Sort(took)
	slices.Sort(lag)
	return took, lag
}

// uploadAtLimit sends, through px, an image exactly as large as the
// server's MaxUploadBytes (and the conf's client_max_body_size for
// /uploads/) in one tus PATCH, and checks molar saved it.
func uploadAtLimit(t *testing.T, ts *testServer, px *nginxProxy) {
	ctx := context.Background()
	staff := clinicStaff(t, ts)
	desk := molarv1connect.NewPatientServiceClient(px.client, px.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	created, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: "도하람", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1979-11-23", MobilePhone: "01093726150"}}))
	if err != nil {
		t.Fatal(err)
	}
	// A radiograph followed by zeros up to the limit: a JPEG ends at its
	// end-of-image marker, and readers ignore what follows.
	data := make([]byte, ts.cfg.MaxUploadBytes)
	copy(data, panoramic(t))
	meta := map[string]string{"patient_id": created.Msg.GetPatient().GetId(), "kind": "IMAGE_KIND_PANORAMIC",
		"taken_on": time.Now().In(ts.app.schedule.Location()).Format(time.DateOnly), "filename": "pano.jpg"}
	up := tusClient{base: px.URL, token: staff[molarv1.Role_ROLE_DENTIST], hc: px.client}
	loc, res := up.create(t, len(data), meta)
	if loc == "" {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("create through nginx: %d %s", res.StatusCode, body)
	}
	start := time.Now()
	res = up.patch(t, loc, 0, data)
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Molar-Image-Id") == "" {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("%d MiB in one piece through nginx: %d %s", len(data)>>20, res.StatusCode, body)
	}
	t.Logf("%d MiB uploaded through nginx in one piece in %v", len(data)>>20, time.Since(start).Round(time.Millisecond))
	img, err := ts.db.images.Get(ctx, res.Header.Get("Molar-Image-Id"))
	if err != nil || img.GetSizeBytes() != int64(len(data)) {
		t.Errorf("the image saved: %v (%d bytes), %v", img.GetId(), img.GetSizeBytes(), err)
	}
}

// trustProxy configures a test server as MOLAR_TRUST_PROXY=spec would.
func trustProxy(t *testing.T, spec string) func(*Config) {
	p, err := services.ParseProxies(spec)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.Proxies, c.TrustProxy = p, p.Any() }
}

// TestNginxClientAddress: behind the shipped nginx, a sign-in is recorded
// (its session and its audit event) with the browser's address when molar
// trusts the proxy, whatever X-Forwarded-For or X-Real-IP the browser sends
// itself, and with nginx's address when it does not.
func TestNginxClientAddress(t *testing.T) {
	t.Parallel()
	nginxBinary(t)
	for _, tc := range []struct {
		name, trust, want string
	}{
		{"nginx's address trusted", "127.0.0.1", proxyClientIP.String()},
		{"not trusted", "false", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ts := startServer(t, trustProxy(t, tc.trust))
			px := startNginx(t, ts.Addr())
			ts.addStaff(t, "admin@clinic.test", "audit-reader-77", molarv1.Role_ROLE_ADMIN)
			ts.addStaff(t, "desk@clinic.test", "front-counter-1", molarv1.Role_ROLE_FRONT_DESK)
			req := connect.NewRequest(&molarv1.LoginRequest{Email: "desk@clinic.test", Password: "front-counter-1"})
			req.Header().Set("X-Forwarded-For", "203.0.113.9")
			req.Header().Set("X-Real-IP", "198.51.100.7")
			login, err := molarv1connect.NewAuthServiceClient(px.client, px.URL).Login(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			tok, who := login.Msg.GetAccessToken(), login.Msg.GetMe().GetStaff().GetId()
			sessions, err := molarv1connect.NewAuthServiceClient(px.client, px.URL, bearer(tok)).ListSessions(ctx, connect.NewRequest(&molarv1.ListSessionsRequest{}))
			if err != nil {
				t.Fatal(err)
			}
			if s := sessions.Msg.GetSessions(); len(s) != 1 || s[0].GetIp() != tc.want {
				t.Errorf("session signed in through nginx: %v, want address %s", s, tc.want)
			}
			_, admin := ts.login(t, "admin@clinic.test", "audit-reader-77")
			trail := molarv1connect.NewAuditServiceClient(http.DefaultClient, ts.URL, bearer(admin))
			var events []*molarv1.AuditEvent
			for deadline := time.Now().Add(30 * time.Second); len(events) == 0; {
				res, err := trail.ListAuditEvents(ctx, connect.NewRequest(&molarv1.ListAuditEventsRequest{ActorId: who,
					Actions: []molarv1.AuditAction{molarv1.AuditAction_AUDIT_ACTION_LOGIN_SUCCEEDED}}))
				if err != nil {
					t.Fatal(err)
				}
				events = res.Msg.GetEvents()
				if len(events) == 0 {
					if time.Now().After(deadline) {
						t.Fatal("no audit event of the sign-in")
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			if len(events) != 1 || events[0].GetIp() != tc.want {
				t.Errorf("sign-in's audit events: %v, want one from %s", events, tc.want)
			}
		})
	}
}
