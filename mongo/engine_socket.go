//go:build !windows

package mongo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// engineSocketDir is the directory of the data directory that holds the
// embedded engine's socket, readable by its owner only.
const engineSocketDir = "engine"

// maxSocketPath is the longest socket path every Unix takes (sun_path is
// 104 bytes on macOS and the BSDs, 108 on Linux, counting the final NUL).
const maxSocketPath = 100

// listener is where the embedded engine listens.
type listener struct {
	// socket is the Unix socket's path.
	socket string
	// cleanup removes what privateListener made, once the engine stopped.
	cleanup func()
}

// privateListener chooses a socket for the embedded engine of dir in a
// directory only this OS user may enter (mode 0700): dir/engine, or, when
// that path is too long for a socket, a new directory under the system's
// temporary directory. The caller holds dir's lock, so a socket left by a
// process that died is stale and removed.
func privateListener(dir string) (listener, error) {
	sockDir := filepath.Join(dir, engineSocketDir)
	cleanup := func() {}
	if len(filepath.Join(sockDir, "engine.sock")) > maxSocketPath {
		d, err := os.MkdirTemp("", "molar-engine-")
		if err != nil {
			return listener{}, fmt.Errorf("embedded engine socket: %w", err)
		}
		sockDir, cleanup = d, func() { _ = os.RemoveAll(d) }
	} else if err := os.MkdirAll(sockDir, 0o700); err != nil {
		return listener{}, fmt.Errorf("embedded engine socket: %w", err)
	}
	// MkdirAll keeps the mode of a directory that exists already.
	if err := os.Chmod(sockDir, 0o700); err != nil {
		cleanup()
		return listener{}, fmt.Errorf("embedded engine socket: %w", err)
	}
	sock := filepath.Join(sockDir, "engine.sock")
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		cleanup()
		return listener{}, fmt.Errorf("embedded engine socket: %w", err)
	}
	return listener{socket: sock, cleanup: cleanup}, nil
}
