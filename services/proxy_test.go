package services_test

import (
	"net/http"
	"testing"

	"github.com/molar-dental/molar/services"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted, err := services.ParseProxies("true")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := services.ParseProxies("192.0.2.10, 10.1.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		proxies services.Proxies
		remote  string
		xff     []string
		want    string
	}{
		{"no proxy trusted: the peer, whatever the header", services.Proxies{}, "198.51.100.7:5000", []string{"10.0.0.1"}, "198.51.100.7"},
		{"an untrusted peer's header is ignored", trusted, "198.51.100.7:5000", []string{"203.0.113.1"}, "198.51.100.7"},
		{"behind nginx on the host", trusted, "127.0.0.1:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"a forged left-most hop is ignored", trusted, "127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"},
		{"two trusted proxies", listed, "192.0.2.10:443", []string{"198.51.100.7, 10.1.0.2"}, "198.51.100.7"},
		{"a LAN address is not a proxy unless listed", trusted, "192.168.0.20:5000", []string{"198.51.100.7"}, "192.168.0.20"},
		{"header lines are one list", trusted, "127.0.0.1:5000", []string{"1.2.3.4", "198.51.100.7"}, "198.51.100.7"},
		{"garbage stops the walk at the last proxy", listed, "192.0.2.10:443", []string{"198.51.100.7, junk, 10.1.0.2"}, "10.1.0.2"},
		{"no header: the proxy itself", trusted, "127.0.0.1:5000", nil, "127.0.0.1"},
		{"mapped IPv6 peer", trusted, "[::ffff:127.0.0.1]:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"listed proxy", listed, "192.0.2.10:443", []string{"10.1.2.3, 198.51.100.7"}, "198.51.100.7"},
		{"a private address not listed is a client", listed, "192.0.2.10:443", []string{"10.2.0.1"}, "10.2.0.1"},
		{"unlisted loopback peer", listed, "127.0.0.1:5000", []string{"198.51.100.7"}, "127.0.0.1"},
	} {
		h := http.Header{}
		for _, v := range tc.xff {
			h.Add("X-Forwarded-For", v)
		}
		if got := tc.proxies.ClientIP(tc.remote, h); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"maybe", "10.0.0.0/33", "10.0.0.300"} {
		if _, err := services.ParseProxies(bad); err == nil {
			t.Errorf("ParseProxies(%q) accepted", bad)
		}
	}
}
