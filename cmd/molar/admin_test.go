package main

import (
	"strings"
	"testing"
)

// TestAdminAddr reads MOLAR_ADMIN_ADDR: loopback by default, off, another
// address, and the refusals (not host:port, a bad port, the public port).
func TestAdminAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, admin, public string
		want, err           string
	}{
		{name: "default", public: ":8080", want: "127.0.0.1:9464"},
		{name: "off", admin: "off", public: ":8080", want: ""},
		{name: "OFF", admin: "OFF", public: ":8080", want: ""},
		{name: "a private address", admin: "10.0.0.5:9464", public: ":8080", want: "10.0.0.5:9464"},
		{name: "any free port", admin: "127.0.0.1:0", public: "127.0.0.1:0", want: "127.0.0.1:0"},
		{name: "no port", admin: "localhost", public: ":8080", err: "not host:port or off"},
		{name: "a port out of range", admin: "127.0.0.1:70000", public: ":8080", err: "from 0 to 65535"},
		{name: "the public port", admin: "127.0.0.1:8080", public: ":8080", err: "never served on the public port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(env(map[string]string{"MOLAR_ADMIN_ADDR": tc.admin, "MOLAR_ADDR": tc.public}))
			switch {
			case tc.err != "":
				if err == nil || !strings.HasPrefix(err.Error(), "MOLAR_ADMIN_ADDR: ") || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want MOLAR_ADMIN_ADDR: ...%s", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case cfg.AdminAddr != tc.want:
				t.Fatalf("AdminAddr %q, want %q", cfg.AdminAddr, tc.want)
			}
		})
	}
}
