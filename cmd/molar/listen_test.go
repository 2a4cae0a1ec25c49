package main

import (
	"errors"
	"testing"

	"github.com/molar-dental/molar/internal/listeners"
)

// TestServeListensOnlyWhereConfigured runs `molar serve` as a clinic does,
// on the default embedded engine (SQLite, which has no listener of its
// own), and finds it listening on MOLAR_ADDR, on MOLAR_ADMIN_ADDR if it
// has an admin listener, and on nothing else: no TCP or UDP port and no
// Unix socket.
func TestServeListensOnlyWhereConfigured(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real server process")
	}
	t.Parallel()
	admin := freeAddr(t)
	c := &child{dir: t.TempDir(), addr: freeAddr(t), extraEnv: []string{"MOLAR_ADMIN_ADDR=" + admin}}
	t.Cleanup(c.stop)
	c.start(t)
	ls, err := listeners.Of(c.cmd.Process.Pid)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("reads Linux's /proc")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("molar serve listens on %v", ls)
	allowed := map[string]bool{c.addr: true, admin: true}
	public := false
	for _, l := range ls {
		if !l.Network() || !allowed[l.Addr] {
			t.Errorf("molar serve listens on %v; only %s and %s are configured", l, c.addr, admin)
		}
		public = public || l.Addr == c.addr
	}
	if !public {
		t.Errorf("molar serve listens on %v, not on MOLAR_ADDR %s", ls, c.addr)
	}
}
