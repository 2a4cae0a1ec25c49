package blob

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

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
	dir := t.TempDir()
	s, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("contract", func(t *testing.T) { testBlobs(t, s, 300_000) })
	// Cut uploads leave no partial file behind.
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("partial files left: %v", l)
	}
}

func TestFSFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes on Windows")
	}
	dir := t.TempDir()
	s, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	const key = "patients/p-1/images/i-1/original"
	if _, err := s.Put(context.Background(), key, bytes.NewReader([]byte("x-ray"))); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key)))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v %v, want owner-only", fi.Mode(), err)
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
	missing(t, s, "patients/p-1/123", "a partial write")
	n, err := s.Sweep()
	if err != nil || n != 1 || len(leftovers(t, dir)) != 0 {
		t.Errorf("sweep: %d %v %v", n, err, leftovers(t, dir))
	}
}
