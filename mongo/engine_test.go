package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/molar-dental/molar/internal/listeners"
	"github.com/molar-dental/molar/mongo"
)

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// ping connects to uri and asks the engine to answer.
func ping(t *testing.T, uri string) {
	t.Helper()
	c, err := driver.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(30 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	if err := c.Database("admin").RunCommand(context.Background(), bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		t.Fatalf("ping %s: %v", uri, err)
	}
}

func startEmbedded(t *testing.T, dir string) *mongo.Embedded {
	t.Helper()
	e, err := mongo.StartEmbedded(dir, 30*time.Second, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEmbeddedOneOwnerPerDataDirectory starts the engine of one data
// directory twice in this process and once in another: the first owns it,
// the others find its address and reach it; once the owner closed, the
// next start owns the directory again, on the socket the first one left.
func TestEmbeddedOneOwnerPerDataDirectory(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the embedded engine does not run on Windows")
	}
	t.Parallel()
	dir := t.TempDir()
	first := startEmbedded(t, dir)
	if !first.Owner {
		t.Fatal("the first start on an empty data directory does not own it")
	}
	second := startEmbedded(t, dir)
	if second.Owner || second.URI != first.URI {
		t.Fatalf("second start: owner %v at %s, want the first's %s", second.Owner, second.URI, first.URI)
	}
	ping(t, second.URI)

	cmd := exec.Command(os.Args[0], "-test.run=^TestEmbeddedChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MOLAR_ENGINE_CHILD_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if want := "owner=false uri=" + first.URI + "\n"; !strings.Contains(string(out), want) {
		t.Fatalf("child said:\n%s\nwant %q", out, want)
	}

	second.Close() // not the owner: stops nothing
	ping(t, first.URI)
	first.Close()
	if _, err := os.Stat(filepath.Join(dir, "engine.uri")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("engine.uri left after the owner closed: %v", err)
	}
	third := startEmbedded(t, dir)
	defer third.Close()
	if !third.Owner {
		t.Fatal("a start after the owner closed does not own the directory")
	}
	ping(t, third.URI)
}

// TestEmbeddedChild is the other process of
// TestEmbeddedOneOwnerPerDataDirectory.
func TestEmbeddedChild(t *testing.T) {
	dir := os.Getenv("MOLAR_ENGINE_CHILD_DIR")
	if dir == "" {
		t.Skip("run by TestEmbeddedOneOwnerPerDataDirectory")
	}
	e := startEmbedded(t, dir)
	defer e.Close()
	ping(t, e.URI)
	fmt.Printf("owner=%v uri=%s\n", e.Owner, e.URI)
}

// TestEmbeddedEngineIsPrivate checks that the engine, which has no
// authentication, is not on the network: its address is a Unix socket, the
// socket and its directory belong to the owner alone, and this process
// listens on that socket and on no TCP or UDP port. A short and a long data directory path are
// tried, since a socket's path has a length limit.
func TestEmbeddedEngineIsPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the embedded engine does not run on Windows")
	}
	for _, c := range []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"short path", func(t *testing.T) string { return t.TempDir() }},
		{"path too long for a socket", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := c.dir(t)
			e := startEmbedded(t, dir)
			defer e.Close()
			ping(t, e.URI)

			// The socket's path is the host, escaped (which url.Parse
			// refuses in a host).
			sock, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(e.URI, "mongodb://"), "/"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sock, "/") || !strings.HasSuffix(sock, ".sock") {
				t.Fatalf("engine address %s is not a Unix socket", e.URI)
			}
			info, err := os.Stat(sock)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Type() != fs.ModeSocket || info.Mode().Perm() != 0o600 {
				t.Errorf("socket %s: mode %v, want an owner-only socket", sock, info.Mode())
			}
			dinfo, err := os.Stat(filepath.Dir(sock))
			if err != nil {
				t.Fatal(err)
			}
			if dinfo.Mode().Perm() != 0o700 {
				t.Errorf("socket directory %s: mode %v, want 0700", filepath.Dir(sock), dinfo.Mode())
			}
			if uinfo, err := os.Stat(filepath.Join(dir, "engine.uri")); err != nil || uinfo.Mode().Perm() != 0o600 {
				t.Errorf("engine.uri: %v, %v; want mode 0600", uinfo.Mode(), err)
			}

			ls, err := listeners.Of(os.Getpid())
			if errors.Is(err, errors.ErrUnsupported) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Other tests' engines may listen too, each on its own socket.
			if !slices.Contains(ls, listeners.Listener{Proto: "unix", Addr: sock}) ||
				slices.ContainsFunc(ls, listeners.Listener.Network) {
				t.Errorf("the process listens on %v, want the socket %s and no network port", ls, sock)
			}

			e.Close()
			if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket left after close: %v", err)
			}
		})
	}
}
