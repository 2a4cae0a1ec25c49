package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/molar-dental/molar/services"
)

// failingReader yields n bytes, then fails, as an upload cut short does.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func read(t *testing.T, s *FS, key string) []byte {
	t.Helper()
	r, b, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if b.Size != int64(len(data)) || b.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("open reports %+v for %d bytes", b, len(data))
	}
	return data
}

func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestFSStoresWholeOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	const key = "patients/p-1/images/i-1/original"
	first := bytes.Repeat([]byte("panoramic "), 100_000)
	b, err := s.Put(ctx, key, bytes.NewReader(first))
	sum := sha256.Sum256(first)
	if err != nil || b.Size != int64(len(first)) || b.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("put: %+v %v", b, err)
	}
	if got := read(t, s, key); !bytes.Equal(got, first) {
		t.Fatal("read back differs")
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key)))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("file mode %v %v, want owner-only", fi.Mode(), err)
		}
	}

	// An upload cut part way leaves the key as it was, and no partial file.
	if _, err := s.Put(ctx, key, &failingReader{n: 300_000}); err == nil {
		t.Fatal("a cut upload was stored")
	}
	if got := read(t, s, key); !bytes.Equal(got, first) {
		t.Fatal("a cut upload changed the stored blob")
	}
	if _, err := s.Put(ctx, "patients/p-1/images/i-2/original", &failingReader{n: 10}); err == nil {
		t.Fatal("a cut upload was stored")
	}
	if _, _, err := s.Open(ctx, "patients/p-1/images/i-2/original"); services.ErrorCode(err) != services.NotFound {
		t.Errorf("a cut first upload: %v, want not found", err)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("partial files left: %v", l)
	}

	// A cancelled request stores nothing either.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cancelled, "patients/p-1/images/i-3/original", bytes.NewReader(first)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled put: %v", err)
	}

	// Replacing is whole too.
	second := []byte("after")
	if _, err := s.Put(ctx, key, bytes.NewReader(second)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, key); !bytes.Equal(got, second) {
		t.Fatal("replace not seen")
	}

	// Delete, twice.
	for range 2 {
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Open(ctx, key); services.ErrorCode(err) != services.NotFound {
		t.Errorf("after delete: %v", err)
	}
}

// A process killed while writing leaves only a temporary file: the key is
// absent, and the next start sweeps the file away.
func TestFSSweepsWhatACrashLeft(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(dir, "patients", "p-1", tempPrefix+"123")
	if err := os.MkdirAll(filepath.Dir(part), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, []byte("half an x-ray"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open(context.Background(), "patients/p-1/123"); services.ErrorCode(err) != services.NotFound {
		t.Errorf("a partial write is visible: %v", err)
	}
	n, err := s.Sweep()
	if err != nil || n != 1 || len(leftovers(t, dir)) != 0 {
		t.Errorf("sweep: %d %v %v", n, err, leftovers(t, dir))
	}
}

func TestFSRefusesKeysOutsideItsDirectory(t *testing.T) {
	t.Parallel()
	s, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "../etc/passwd", "/abs", "a/../../b", "A", "a//b", "a/", ".hidden", `a\b`, strings.Repeat("a", 201)} {
		if _, err := s.Put(context.Background(), key, strings.NewReader("x")); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
}
