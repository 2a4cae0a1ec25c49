package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/mongo/mongotest"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

// testServer is a real Server on a loopback port over its own database.
type testServer struct {
	*Server
	URL  string
	logs *syncBuffer
}

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer starts a server for t, configured by the given changes to a
// dev configuration on a fresh embedded (SQLite) database, as `molar serve`
// runs by default; onMongo puts it on the shared MongoDB-protocol engine.
func startServer(t *testing.T, change ...func(*Config)) *testServer {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	cfg := Config{
		Profile: "dev", Addr: "127.0.0.1:0", DataDir: t.TempDir(),
		Database: "srv_" + hex.EncodeToString(b), AllowedOrigins: []string{"http://localhost:5173"},
		LogLevel: slog.LevelInfo, MaxRequestBytes: 1 << 20, JWTKeys: testKeySpec,
	}
	for _, c := range change {
		c(&cfg)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := NewServer(ctx, cfg, newLogger(io.MultiWriter(logs), cfg.LogLevel))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if s.db.mongo != nil {
			if err := s.db.mongo.Database.Drop(ctx); err != nil {
				t.Logf("drop: %v", err)
			}
		}
		_ = s.Shutdown(ctx)
	})
	return &testServer{Server: s, URL: "http://" + s.Addr(), logs: logs}
}

// onMongo runs a test server on a fresh database of the shared
// MongoDB-protocol test engine instead of the embedded one.
func onMongo(t *testing.T) func(*Config) {
	return func(c *Config) { c.MongoURI = mongotest.URI(t) }
}

// same runs a second server on the database of ts, as a second process on
// one data directory (or one MongoDB deployment) would.
func (ts *testServer) same() func(*Config) {
	return func(c *Config) { c.MongoURI, c.Database, c.DataDir = ts.cfg.MongoURI, ts.cfg.Database, ts.cfg.DataDir }
}

// testKeySpec is a fixed signing key so tests need no key file.
const testKeySpec = "t1:nO8mYl2R7Qv0Zq4sWc1Jx6uPd3Hk9AeTbFgLiVrUzXo"

// addStaff creates an account directly, as the admin command would.
func (ts *testServer) addStaff(t *testing.T, email, password string, roles ...molarv1.Role) {
	t.Helper()
	if _, err := ts.app.auth.CreateAccount(context.Background(), email, email, roles, password, false); err != nil {
		t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar, like a browser tab.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// bearer returns a client option that sends token, on unary calls and
// streams alike.
func bearer(token string) connect.ClientOption {
	return connect.WithInterceptors(bearerInterceptor(token))
}

type bearerInterceptor string

func (b bearerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// login signs in through a fresh browser and returns it with the access token.
func (ts *testServer) login(t *testing.T, email, password string) (*http.Client, string) {
	t.Helper()
	hc := browser(t)
	res, err := molarv1connect.NewAuthServiceClient(hc, ts.URL).Login(context.Background(),
		connect.NewRequest(&molarv1.LoginRequest{Email: email, Password: password}))
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return hc, res.Msg.GetAccessToken()
}
