package blob

import (
	"bytes"
	"context"
	"io"
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

// An image being downloaded does not stand in the way of removing its
// file (gone once the reader closes it), nor on Unix of replacing it: the
// reader goes on reading the bytes it opened. Windows refuses to rename
// over an open file; there the replacing Put fails whole, leaving the key
// as it was, and succeeds once the reader is done (a thumbnail job tries
// again).
func TestFSReplacesAndDeletesWhileRead(t *testing.T) {
	t.Parallel()
	s, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const key = "patients/p-1/images/i-1/grid"
	before, after := bytes.Repeat([]byte("before "), 10_000), []byte("after")
	put(t, s, key, before)
	r, _, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := s.Put(ctx, key, bytes.NewReader(after)); err != nil {
		if runtime.GOOS != "windows" {
			t.Fatalf("replace while read: %v", err)
		}
		if got := read(t, s, key); !bytes.Equal(got, before) {
			t.Fatalf("a refused replace changed the blob to %d bytes", len(got))
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, before) {
			t.Fatalf("the reader read %d bytes, %v; want the %d it opened", len(got), err, len(before))
		}
		r.Close()
		put(t, s, key, after)
	} else if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, before) {
		t.Errorf("the first reader read %d bytes, %v; want the %d it opened", len(got), err, len(before))
	}
	if got := read(t, s, key); !bytes.Equal(got, after) {
		t.Fatalf("after replacing: %q", got)
	}

	r2, _, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("delete while read: %v", err)
	}
	if got, err := io.ReadAll(r2); err != nil || !bytes.Equal(got, after) {
		t.Errorf("the reader of a deleted blob read %q, %v; want %q", got, err, after)
	}
	// Windows may keep the name until the last reader closes.
	r2.Close()
	missing(t, s, key, "deleted while read")
}
