// Package listeners lists the network sockets a process listens on, so that
// tests can prove what the product exposes to the network. It reads Linux's
// /proc; elsewhere Of returns errors.ErrUnsupported.
package listeners

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Listener is one socket that other processes can reach: a listening TCP
// socket or a bound UDP socket (over the network), or a listening Unix
// socket (on this machine).
type Listener struct {
	// Proto is tcp, tcp6, udp, udp6 or unix.
	Proto string
	// Addr is the local address, host:port, or the Unix socket's path
	// (empty for an unnamed one, "@name" for an abstract one).
	Addr string
}

// Network reports whether l is reachable over the network.
func (l Listener) Network() bool { return l.Proto != "unix" }

func (l Listener) String() string { return l.Proto + " " + l.Addr }

// tcpListen is the state /proc/net/tcp gives a listening socket.
const tcpListen = "0A"

// Of returns the TCP and Unix sockets listening and the UDP sockets bound
// in the process pid.
func Of(pid int) ([]Listener, error) {
	if runtime.GOOS != "linux" {
		return nil, errors.ErrUnsupported
	}
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	inodes, err := socketInodes(filepath.Join(proc, "fd"))
	if err != nil {
		return nil, err
	}
	var out []Listener
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		ls, err := readTable(filepath.Join(proc, "net", proto), proto, inodes)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	ls, err := readUnix(filepath.Join(proc, "net", "unix"), inodes)
	return append(out, ls...), err
}

// socketInodes returns the inodes of the sockets among the process's open
// files.
func socketInodes(fdDir string) (map[string]bool, error) {
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue // closed since the directory was read
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return inodes, nil
}

// readTable reads one of /proc/<pid>/net/{tcp,tcp6,udp,udp6}: the sockets
// of the process's network namespace, of which it keeps the process's own.
func readTable(path, proto string, inodes map[string]bool) ([]Listener, error) {
	var out []Listener
	err := eachRow(path, func(fields []string) error {
		if len(fields) < 10 || !inodes[fields[9]] {
			return nil
		}
		if strings.HasPrefix(proto, "tcp") && fields[3] != tcpListen {
			return nil
		}
		addr, err := parseAddr(fields[1])
		if err != nil {
			return err
		}
		out = append(out, Listener{Proto: proto, Addr: addr})
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no IPv6 in this kernel
	}
	return out, err
}

// soAcceptCon is the flag /proc/net/unix gives a listening socket.
const soAcceptCon = 0x10000

// readUnix reads /proc/<pid>/net/unix, keeping the process's listening
// sockets.
func readUnix(path string, inodes map[string]bool) ([]Listener, error) {
	var out []Listener
	err := eachRow(path, func(fields []string) error {
		// Num RefCount Protocol Flags Type St Inode [Path]
		if len(fields) < 7 || !inodes[fields[6]] {
			return nil
		}
		flags, err := strconv.ParseUint(fields[3], 16, 32)
		if err != nil {
			return fmt.Errorf("bad flags %q", fields[3])
		}
		if flags&soAcceptCon == 0 {
			return nil
		}
		l := Listener{Proto: "unix"}
		if len(fields) > 7 {
			l.Addr = fields[7]
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// eachRow calls row with the fields of each line of a /proc table after
// its header.
func eachRow(path string, row func(fields []string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		if err := row(strings.Fields(sc.Text())); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return sc.Err()
}

// parseAddr decodes the kernel's address:port, where the address is in
// 32-bit words of host byte order (little-endian on every machine Molar is
// tested on) and the port is big-endian hex.
func parseAddr(s string) (string, error) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(host)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return "", fmt.Errorf("bad port in %q", s)
	}
	ip, _ := netip.AddrFromSlice(raw)
	return net.JoinHostPort(ip.Unmap().String(), strconv.FormatUint(p, 10)), nil
}
