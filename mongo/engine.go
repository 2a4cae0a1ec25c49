// Package mongo stores Molar's data in MongoDB, or in the embedded
// MongoDB-compatible engine (FerretDB with SQLite) when no MongoDB is
// configured. It implements the Store interfaces that the services declare.
package mongo

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/gofrs/flock"
)

// Embedded is the embedded engine of one data directory. Exactly one process
// owns a data directory's SQLite files: the first to take the directory's
// lock starts the engine on a Unix socket that only its OS user can reach
// (see privateListener) and writes its address next to the lock. Any other
// process on the same directory (a second server, or an admin command while
// the server runs) connects to that owner instead of opening the files
// itself, so the engine's caches never disagree. The engine has no
// authentication, so it never listens on TCP.
type Embedded struct {
	// URI is the mongodb:// address to connect to.
	URI string
	// Owner reports whether this process runs the engine.
	Owner bool

	dir     string
	lock    *flock.Flock
	cleanup func()
	cancel  context.CancelFunc
	done    chan struct{}
}

// startMu keeps engines of different data directories in one process (in
// tests) from starting at once: ferretdb.New sets a variable of FerretDB's
// own package.
var startMu sync.Mutex

const (
	lockName = "engine.lock"
	uriName  = "engine.uri"
)

// StartEmbedded starts, or finds, the embedded engine for dir. It waits up to
// wait for another process that holds the lock to publish its address.
func StartEmbedded(dir string, wait time.Duration, logger *slog.Logger) (*Embedded, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lock := flock.New(filepath.Join(dir, lockName), flock.SetPermissions(0o600))
	owner, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if !owner {
		return findOwner(dir, wait)
	}

	l, err := privateListener(dir)
	if err != nil {
		_ = lock.Unlock()
		return nil, err
	}
	startMu.Lock()
	fdb, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: l.socket},
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.Join(dir, "db") + "/",
		Logger:    slog.New(minLevel{logger.Handler(), slog.LevelError}).With("component", "engine"),
	})
	startMu.Unlock()
	if err == nil {
		// The directory already keeps everyone else out; the socket's own
		// mode says the same to anyone who looks.
		err = os.Chmod(l.socket, 0o600)
	}
	if err != nil {
		l.cleanup()
		_ = lock.Unlock()
		return nil, fmt.Errorf("start embedded engine: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{URI: socketURI(l.socket), Owner: true, dir: dir, lock: lock, cleanup: l.cleanup, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		_ = fdb.Run(ctx)
	}()
	if err := writeFileAtomic(filepath.Join(dir, uriName), []byte(e.URI+"\n")); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// findOwner reads the address that the owning process published.
func findOwner(dir string, wait time.Duration) (*Embedded, error) {
	deadline := time.Now().Add(wait)
	for {
		b, err := os.ReadFile(filepath.Join(dir, uriName))
		if uri := strings.TrimSpace(string(b)); err == nil && strings.HasPrefix(uri, "mongodb://") {
			return &Embedded{URI: uri}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("data directory %s is locked by another process that has not published its engine address", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops the engine if this process owns it and releases the directory.
func (e *Embedded) Close() {
	if !e.Owner {
		return
	}
	e.cancel()
	<-e.done
	_ = os.Remove(filepath.Join(e.dir, uriName))
	e.cleanup()
	_ = e.lock.Unlock()
}

// socketURI is the driver's address of a Unix socket: its path, escaped, as
// the host.
func socketURI(path string) string {
	return "mongodb://" + url.PathEscape(path) + "/"
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// minLevel drops records below a level; the engine is chatty at Info.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.level}
}

func (h minLevel) WithGroup(n string) slog.Handler {
	return minLevel{h.Handler.WithGroup(n), h.level}
}
