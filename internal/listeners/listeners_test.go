package listeners

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestOfFindsOwnSockets opens a TCP listener, a connected TCP pair, a UDP
// socket on loopback and a Unix socket listener, and finds the listeners
// and the UDP socket, not the connection.
func TestOfFindsOwnSockets(t *testing.T) {
	before, err := Of(os.Getpid())
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("reads Linux's /proc")
	}
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	sock := filepath.Join(t.TempDir(), "s.sock")
	unix, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()

	after, err := Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var added []Listener
	for _, l := range after {
		if !slices.Contains(before, l) {
			added = append(added, l)
		}
	}
	want := []Listener{{"tcp", ln.Addr().String()}, {"udp", udp.LocalAddr().String()}, {"unix", sock}}
	if !slices.Equal(added, want) {
		t.Fatalf("new sockets %v, want %v", added, want)
	}
}

func TestParseAddr(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000:0050", "0.0.0.0:80"},
		{"00000000000000000000000001000000:24E0", "[::1]:9440"},
		{"0000000000000000FFFF00000100007F:0016", "127.0.0.1:22"},
	} {
		got, err := parseAddr(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseAddr(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
