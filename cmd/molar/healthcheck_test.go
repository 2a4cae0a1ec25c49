package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheckCommand: `molar healthcheck` exits 0 when the server on
// MOLAR_ADDR answers /healthz, whether MOLAR_ADDR names loopback or every
// interface, and 1, saying why, when nothing listens or the answer is not
// 200.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	_, port, _ := net.SplitHostPort(ts.Addr())
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	cases := []struct {
		name, addr   string
		code         int
		stdout, says string
	}{
		{"loopback", ts.Addr(), 0, "ok", ""},
		{"every interface", ":" + port, 0, "ok", ""},
		{"every IPv4 interface", "0.0.0.0:" + port, 0, "ok", ""},
		{"nothing listening", closedAddr, 1, "", "connection refused"},
		{"not healthy", strings.TrimPrefix(failing.URL, "http://"), 1, "", "503"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr strings.Builder
			code := run(context.Background(), []string{"healthcheck"}, env(map[string]string{"MOLAR_ADDR": tc.addr}), strings.NewReader(""), &stdout, &stderr)
			if code != tc.code || strings.TrimSpace(stdout.String()) != tc.stdout || !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("healthcheck of %s: exit %d, stdout %q, stderr %q; want exit %d, %q, saying %q",
					tc.addr, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.says)
			}
		})
	}
}
