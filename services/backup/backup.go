package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/images"
)

// Where the kinds of files go in an archive.
const (
	blobPrefix = "blobs/"
	keyPrefix  = "keys/"
)

// Source is one engine's database as a backup reads it.
type Source interface {
	// Snapshot copies the whole database, as of one point in time, into
	// files under dir (which exists and is the caller's to remove).
	Snapshot(ctx context.Context, dir string) (Snapshot, error)
}

// Snapshot is a copy of a database as of one point in time, in files.
type Snapshot interface {
	// Engine names the engine the copy restores into ("sqlite", "mongodb").
	Engine() string
	// Consistency says how the point was taken.
	Consistency() string
	// Files lists the copy's files: each one's name in the archive
	// ("db/...", "mongo/...") and its path on disk.
	Files() []SnapshotFile
	// Images calls fn with every image record of the copy (the newest
	// version of each, with its thumbnail status).
	Images(ctx context.Context, fn func(*molarv1.Image) error) error
}

// SnapshotFile is one file of a database copy.
type SnapshotFile struct {
	Name, Path string
}

// Target is an empty database of one engine that a restore fills.
type Target interface {
	// Engine names the engine, as Snapshot.Engine does.
	Engine() string
	// Begin marks the target as being restored: a server refuses to start
	// on it until Commit (so a restore cut short is never taken for a
	// clinic). FailedPrecondition if it is not empty.
	Begin(ctx context.Context) error
	// Write stores one file of a database copy (by its name in the archive).
	Write(ctx context.Context, name string, r io.Reader) error
	// Images opens what was written and calls fn with every image record,
	// as Snapshot.Images does.
	Images(ctx context.Context, fn func(*molarv1.Image) error) error
	// Commit removes the mark: the commit point of a restore.
	Commit(ctx context.Context) error
	// Abort removes everything written, the mark too.
	Abort(ctx context.Context) error
}

// Blobs is what a backup reads image files from and a restore writes them to.
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader) (images.Blob, error)
	Open(ctx context.Context, key string) (io.ReadSeekCloser, images.Blob, error)
	Delete(ctx context.Context, key string) error
}

// Secret is a key file of a data directory that an archive carries: the
// keys a dev data directory keeps itself (registration numbers cannot be
// read without theirs).
type Secret struct {
	// Name is the file's name in the data directory ("rrn-keys").
	Name string
	// Path is where it is; a missing file is skipped.
	Path string
}

// Options is what Write needs.
type Options struct {
	Source Source
	Blobs  Blobs
	// TempDir holds the database copy while it is written; it should be on
	// the data directory's disk, which holds the same data unencrypted.
	TempDir    string
	Secrets    []Secret
	Recipients []age.Recipient
	Now        func() time.Time
}

// Write writes a backup to dst: a copy of the database as of one point,
// then every image file its records refer to, then the key files. Image
// files are written before their record commits and never replaced
// afterwards, so every record of the copy finds its file, whatever was
// written since; files of images recorded after the point are not
// included. A file that is missing or does not match its record is named
// in the manifest (Missing, Mismatched) and the archive is still written:
// the caller reports it as a failure.
func Write(ctx context.Context, dst io.Writer, o Options) (Manifest, error) {
	started := o.Now()
	sweepCopies(o.TempDir, started)
	tmp, err := os.MkdirTemp(o.TempDir, copyPrefix)
	if err != nil {
		return Manifest{}, &Failure{Reason: molarv1.BackupFailure_BACKUP_FAILURE_STORAGE, Err: err}
	}
	defer os.RemoveAll(tmp)
	snap, err := o.Source.Snapshot(ctx, tmp)
	if err != nil {
		return Manifest{}, &Failure{Reason: molarv1.BackupFailure_BACKUP_FAILURE_DATABASE, Err: err}
	}
	w, err := NewWriter(dst, o.Recipients, Header{Engine: snap.Engine(), Started: started, Consistency: snap.Consistency()})
	if err != nil {
		return Manifest{}, err
	}
	for _, f := range snap.Files() {
		if err := addFile(w, f.Name, f.Path); err != nil {
			return Manifest{}, err
		}
	}
	var m Manifest
	err = snap.Images(ctx, func(img *molarv1.Image) error {
		m.Images++
		for _, f := range images.Files(img) {
			if err := addBlob(ctx, w, o.Blobs, f, &m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Manifest{}, err
	}
	for _, s := range o.Secrets {
		if err := addFile(w, keyPrefix+s.Name, s.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Manifest{}, err
		}
	}
	return w.Close(m)
}

// copyPrefix starts the name of the directory a database copy is kept in
// while it is written.
const copyPrefix = ".backup-"

// sweepCopies removes the database copies of backups that a stopped
// process left in dir, once they are a day old (no backup takes that long).
func sweepCopies(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), copyPrefix) && now.Sub(info.ModTime()) > 24*time.Hour {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// addFile adds the file at p as name.
func addFile(w *Writer, name, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = w.Add(name, st.Size(), f)
	return err
}

// addBlob adds one image file, noting in m a missing file, or an original
// whose bytes do not hash to its record's.
func addBlob(ctx context.Context, w *Writer, blobs Blobs, f images.File, m *Manifest) error {
	r, b, err := blobs.Open(ctx, f.Key)
	if services.ErrorCode(err) == services.NotFound {
		if !f.Derived {
			m.Missing = append(m.Missing, f.Key)
		}
		return nil
	}
	if err != nil {
		return &Failure{Reason: molarv1.BackupFailure_BACKUP_FAILURE_IMAGE_STORE, Err: err}
	}
	defer r.Close()
	sum, err := w.Add(blobPrefix+f.Key, b.Size, r)
	if err != nil {
		return err
	}
	if !f.Derived && (sum.SHA256 != f.SHA256 || sum.Size != f.Size) {
		m.Mismatched = append(m.Mismatched, f.Key)
	}
	return nil
}

// Problems says what the manifest found wrong with the image files; nil
// when nothing.
func (m Manifest) Problems() error {
	switch {
	case len(m.Mismatched) > 0:
		return &Failure{Reason: molarv1.BackupFailure_BACKUP_FAILURE_IMAGE_MISMATCH,
			Err: fmt.Errorf("%d image files do not match their records (the archive holds them as found): %s", len(m.Mismatched), listSome(m.Mismatched))}
	case len(m.Missing) > 0:
		return &Failure{Reason: molarv1.BackupFailure_BACKUP_FAILURE_IMAGE_MISSING,
			Err: fmt.Errorf("%d image files are missing (the archive holds everything else): %s", len(m.Missing), listSome(m.Missing))}
	}
	return nil
}

func listSome(keys []string) string {
	if len(keys) > 5 {
		return strings.Join(keys[:5], ", ") + ", ..."
	}
	return strings.Join(keys, ", ")
}

// Check compares the image records of a database copy with the archive's
// files: every original is there with the hash its record holds (unless
// the manifest says it was missing or mismatched when the backup was
// taken), every rendition of a finished thumbnail is there.
func (m Manifest) Check(ctx context.Context, list func(context.Context, func(*molarv1.Image) error) error) error {
	sums := make(map[string]FileSum, len(m.Files))
	for _, f := range m.Files {
		sums[f.Name] = f
	}
	known := func(key string) bool { return slices.Contains(m.Missing, key) || slices.Contains(m.Mismatched, key) }
	n := 0
	err := list(ctx, func(img *molarv1.Image) error {
		n++
		for _, f := range images.Files(img) {
			s, ok := sums[blobPrefix+f.Key]
			switch {
			case known(f.Key):
			case !ok && f.Derived:
				// A rendition can be made again; the backup found none.
			case !ok:
				return fmt.Errorf("%w: image %s has no file %s in the archive", ErrDamaged, img.GetId(), f.Key)
			case !f.Derived && (s.SHA256 != f.SHA256 || s.Size != f.Size):
				return fmt.Errorf("%w: image %s's file does not match its record (sha256 %s, record %s)", ErrDamaged, img.GetId(), s.SHA256, f.SHA256)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n != m.Images {
		return fmt.Errorf("%w: the database holds %d images; the manifest says %d", ErrDamaged, n, m.Images)
	}
	return nil
}

// Verify reads a whole archive without restoring it: every file against
// its hash and the manifest, then the database copy (written under
// tempDir, removed after) against the image files. open opens a database
// copy of an engine from the files in a directory.
func Verify(ctx context.Context, src io.Reader, identities []age.Identity, tempDir string, open func(engine, dir string) (Snapshot, error)) (Manifest, error) {
	dir, err := os.MkdirTemp(tempDir, ".verify-")
	if err != nil {
		return Manifest{}, err
	}
	defer os.RemoveAll(dir)
	var engine string
	m, err := Read(src, identities, Visitor{
		Header: func(h Header) error { engine = h.Engine; return nil },
		File: func(name string, _ int64, r io.Reader) error {
			if strings.HasPrefix(name, blobPrefix) || strings.HasPrefix(name, keyPrefix) {
				return nil
			}
			return writeFile(filepath.Join(dir, filepath.FromSlash(name)), r)
		},
	})
	if err != nil {
		return m, err
	}
	snap, err := open(engine, dir)
	if err != nil {
		return m, fmt.Errorf("%w: the database copy does not open: %v", ErrDamaged, err)
	}
	return m, m.Check(ctx, snap.Images)
}

// RestoreOptions is what Restore needs.
type RestoreOptions struct {
	Target Target
	// OpenBlobs opens the store image files go to, once the target is
	// begun (a store inside the data directory is made there).
	OpenBlobs  func(context.Context) (Blobs, error)
	Identities []age.Identity
	// KeyDir receives the archive's key files (the data directory).
	KeyDir string
}

// Restore restores an archive into an empty target and the blob store:
// the database files, every image file, the key files; each is checked
// against its hash as it is written, then the manifest, then the restored
// database's records against the image files. Only then is the target's
// mark removed. On any failure, what was written is removed again.
func Restore(ctx context.Context, src io.Reader, o RestoreOptions) (m Manifest, err error) {
	var put []string
	stored := map[string]string{} // the hash each blob store Put reports
	var keys []string
	var blobs Blobs
	begun := false
	defer func() {
		if err == nil {
			return
		}
		ctx := context.WithoutCancel(ctx)
		for _, k := range put {
			_ = blobs.Delete(ctx, k)
		}
		for _, k := range keys {
			_ = os.Remove(k)
		}
		if begun {
			if aerr := o.Target.Abort(ctx); aerr != nil {
				err = errors.Join(err, fmt.Errorf("removing what was restored: %w", aerr))
			}
		}
	}()
	m, err = Read(src, o.Identities, Visitor{
		Header: func(h Header) error {
			if h.Engine != o.Target.Engine() {
				return fmt.Errorf("this backup is of the %s engine; it restores into %s only", h.Engine, engineHint(h.Engine))
			}
			if err := o.Target.Begin(ctx); err != nil {
				return err
			}
			begun = true
			var err error
			blobs, err = o.OpenBlobs(ctx)
			return err
		},
		File: func(name string, _ int64, r io.Reader) error {
			switch {
			case strings.HasPrefix(name, blobPrefix):
				key := strings.TrimPrefix(name, blobPrefix)
				put = append(put, key)
				b, err := blobs.Put(ctx, key, r)
				stored[name] = b.SHA256
				return err
			case strings.HasPrefix(name, keyPrefix):
				base := path.Base(name)
				if base == "." || base == "/" || base != strings.TrimPrefix(name, keyPrefix) {
					return fmt.Errorf("%w: bad key file name %q", ErrDamaged, name)
				}
				p := filepath.Join(o.KeyDir, base)
				keys = append(keys, p)
				return writeFile(p, r)
			default:
				return o.Target.Write(ctx, name, r)
			}
		},
	})
	if err != nil {
		return m, err
	}
	for _, f := range m.Files {
		if h, ok := stored[f.Name]; ok && h != f.SHA256 {
			return m, fmt.Errorf("the image store holds %s with sha256 %s, not %s as written", f.Name, h, f.SHA256)
		}
	}
	if err := m.Check(ctx, o.Target.Images); err != nil {
		return m, err
	}
	return m, o.Target.Commit(ctx)
}

// engineHint says where an engine's backups restore.
func engineHint(engine string) string {
	if engine == "sqlite" {
		return "an empty MOLAR_DATA_DIR with MONGODB_URI unset"
	}
	return "an empty MongoDB database (MONGODB_URI and MOLAR_DATABASE)"
}

// writeFile writes r to a new file at p (owner-only) and syncs it.
func writeFile(p string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteFile is how a Target writes a database file: new, owner-only,
// synced.
func WriteFile(p string, r io.Reader) error { return writeFile(p, r) }
