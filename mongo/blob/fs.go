// Package blob holds the adapters that keep image bytes: files under the
// data directory, or an S3-compatible object store.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/images"
)

var _ images.Blobs = (*FS)(nil)

// validKey is the shape of the keys the images package makes.
var validKey = regexp.MustCompile(`^[a-z0-9_-][a-z0-9._-]*(/[a-z0-9_-][a-z0-9._-]*)*$`)

// tempPrefix starts the name of a file still being written.
const tempPrefix = ".part-"

// FS keeps blobs as files under a directory readable only by its owner.
type FS struct {
	dir string
}

// NewFS opens (creating it if needed) the blob directory dir.
func NewFS(dir string) (*FS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &FS{dir: dir}, nil
}

// checkKey refuses a key the images package would not make, so that no key
// can leave the directory (or, in a bucket, reach the temporary objects).
func checkKey(key string) error {
	if len(key) > 200 || !validKey.MatchString(key) || strings.Contains(key, "..") {
		return fmt.Errorf("blob: bad key %q", key)
	}
	return nil
}

func (s *FS) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// Put writes to a temporary file beside the target, syncs it, renames it
// over the target and syncs the directory: the rename is the commit point.
func (s *FS) Put(ctx context.Context, key string, r io.Reader) (images.Blob, error) {
	p, err := s.path(key)
	if err != nil {
		return images.Blob{}, err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return images.Blob{}, fmt.Errorf("blob: %w", err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return images.Blob{}, fmt.Errorf("blob: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), contextReader{ctx, r})
	if err != nil {
		return images.Blob{}, fmt.Errorf("blob: write %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return images.Blob{}, fmt.Errorf("blob: sync %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return images.Blob{}, fmt.Errorf("blob: close %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return images.Blob{}, fmt.Errorf("blob: commit %s: %w", key, err)
	}
	committed = true
	if err := syncDir(dir); err != nil {
		return images.Blob{}, err
	}
	return images.Blob{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Open opens the blob's file and reports its size and hash. The file stays
// readable as it was while a Delete removes it (on Windows too, see
// openShared) or, on Unix, a Put replaces it.
func (s *FS) Open(ctx context.Context, key string) (io.ReadSeekCloser, images.Blob, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, images.Blob{}, err
	}
	f, err := openShared(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, images.Blob{}, services.Errorf(services.NotFound, "no blob %s", key)
	}
	if err != nil {
		return nil, images.Blob{}, fmt.Errorf("blob: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, contextReader{ctx, f})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return nil, images.Blob{}, fmt.Errorf("blob: read %s: %w", key, err)
	}
	return f, images.Blob{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Delete removes the blob's file.
func (s *FS) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

// Sweep removes what writes cut short by a crash left behind (their
// temporary files); run it at start, before anything writes.
func (s *FS) Sweep() (int, error) {
	n := 0
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			if err := os.Remove(p); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// syncDir makes a rename in dir durable. Windows cannot flush a directory
// (FlushFileBuffers on one is refused) and needs not: NTFS journals the
// rename itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("blob: sync %s: %w", dir, err)
	}
	return nil
}

// contextReader stops a long copy once its context ends.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
