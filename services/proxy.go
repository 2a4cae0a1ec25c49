package services

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies (nginx) whose X-Forwarded-For is
// believed. The zero value trusts none: the client is the TCP peer.
type Proxies struct {
	nets []netip.Prefix
}

// defaultProxies are what "true" trusts: a proxy on the same host. Not
// the private networks: on a clinic's LAN every front-desk PC is on one,
// and trusting it would let it write its own address.
var defaultProxies = []string{"127.0.0.0/8", "::1/128"}

// ParseProxies reads MOLAR_TRUST_PROXY: false (none), true (a proxy on the
// same host), or a comma-separated list of addresses and CIDR prefixes.
func ParseProxies(s string) (Proxies, error) {
	var list []string
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "", "false", "0", "no":
		return Proxies{}, nil
	case "true", "1", "yes":
		list = defaultProxies
	default:
		list = strings.Split(v, ",")
	}
	var p Proxies
	for _, item := range list {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return Proxies{}, fmt.Errorf("%q is not true, false, an address or a CIDR prefix", item)
			}
			p.nets = append(p.nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		n, err := netip.ParsePrefix(item)
		if err != nil {
			return Proxies{}, fmt.Errorf("%q is not true, false, an address or a CIDR prefix", item)
		}
		p.nets = append(p.nets, n.Masked())
	}
	return p, nil
}

// Any reports whether any proxy is trusted.
func (p Proxies) Any() bool { return len(p.nets) > 0 }

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the address a request came from. Behind trusted proxies it
// is the right-most address of X-Forwarded-For that is not a trusted
// proxy: each proxy appends the address it was called from, so what lies
// to the left of the first untrusted hop is whatever the client wrote and
// is ignored. A request that did not come through a trusted proxy is from
// its TCP peer, whatever its headers say.
func (p Proxies) ClientIP(remoteAddr string, h http.Header) string {
	host := remoteAddr
	if hp, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = hp
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !p.trusted(peer) {
		return host
	}
	client := peer.Unmap()
	hops := strings.Split(strings.Join(h.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// Not an address: nothing to its left can be believed.
			break
		}
		client = a.Unmap()
		if !p.trusted(client) {
			break
		}
	}
	return client.String()
}
