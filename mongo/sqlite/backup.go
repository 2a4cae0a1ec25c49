package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/backup"
)

// The database file in an archive.
const archiveDB = "db/molar.db"

// BackupSource takes backups of a database.
type BackupSource struct {
	db *DB
}

var _ backup.Source = (*BackupSource)(nil)

// NewBackupSource returns the backup source of db.
func NewBackupSource(db *DB) *BackupSource { return &BackupSource{db: db} }

// Snapshot implements backup.Source with VACUUM INTO: the copy is written
// inside one read transaction, so it is the database as of the moment
// that transaction began, with every change committed before it and none
// after. Writers go on meanwhile (the write-ahead log never blocks them on
// a reader), and so do the other processes on the file.
func (s *BackupSource) Snapshot(ctx context.Context, dir string) (backup.Snapshot, error) {
	p := filepath.Join(dir, filepath.FromSlash(archiveDB))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	if _, err := s.db.sql.ExecContext(ctx, `VACUUM INTO ?`, p); err != nil {
		return nil, storeError(err, "database copy")
	}
	return &snapshot{path: p}, nil
}

// OpenCopy opens the database copy among the files of an archive written
// out in dir, to read its image records.
func OpenCopy(dir string) (backup.Snapshot, error) {
	p := filepath.Join(dir, filepath.FromSlash(archiveDB))
	if _, err := os.Stat(p); err != nil {
		return nil, err
	}
	return &snapshot{path: p}, nil
}

// snapshot is a copy of the database in one file.
type snapshot struct {
	path string
}

func (s *snapshot) Engine() string { return "sqlite" }

func (s *snapshot) Consistency() string {
	return "one SQLite read transaction (VACUUM INTO): every change committed before it began, none after"
}

func (s *snapshot) Files() []backup.SnapshotFile {
	return []backup.SnapshotFile{{Name: archiveDB, Path: s.path}}
}

// Images implements backup.Snapshot, reading the copy without changing it.
func (s *snapshot) Images(ctx context.Context, fn func(*molarv1.Image) error) error {
	db, err := sql.Open("sqlite", "file:"+s.path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	return eachImage(ctx, db, fn)
}

// eachImage calls fn with every image of db: its newest version and its
// thumbnail status. A database older than the images (schema 10) has none.
func eachImage(ctx context.Context, db *sql.DB, fn func(*molarv1.Image) error) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'images'`).Scan(&n); err != nil {
		return storeError(err, "images")
	}
	if n == 0 {
		return nil
	}
	rows, err := db.QueryContext(ctx, imageSelect+` ORDER BY i.id`)
	if err != nil {
		return storeError(err, "images")
	}
	defer rows.Close()
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return storeError(err, "images")
		}
		if err := fn(img); err != nil {
			return err
		}
	}
	return storeError(rows.Err(), "images")
}

// RestoreMarker is the file a restore puts in the data directory first and
// removes last; a server refuses to start on a directory that has it.
const RestoreMarker = ".restore-unfinished"

// RestoreUnfinished reports whether a restore into dataDir began and did
// not finish.
func RestoreUnfinished(dataDir string) bool {
	_, err := os.Lstat(filepath.Join(dataDir, RestoreMarker))
	return err == nil
}

// RestoreTarget restores an archive into an empty data directory.
type RestoreTarget struct {
	dir  string
	file string
}

var _ backup.Target = (*RestoreTarget)(nil)

// NewRestoreTarget returns the target of a restore into dataDir, whose
// database file is named file.
func NewRestoreTarget(dataDir, file string) *RestoreTarget {
	return &RestoreTarget{dir: dataDir, file: file}
}

// Engine implements backup.Target.
func (t *RestoreTarget) Engine() string { return "sqlite" }

// Empty returns nil if the data directory is missing or empty, and
// FailedPrecondition naming what it holds otherwise.
func (t *RestoreTarget) Empty() error {
	entries, err := os.ReadDir(t.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if RestoreUnfinished(t.dir) {
		return services.Errorf(services.FailedPrecondition,
			"%s holds a restore that did not finish: delete what is in it, then restore again", t.dir)
	}
	names := ""
	for i, e := range entries {
		if i == 4 {
			names += ", ..."
			break
		}
		if i > 0 {
			names += ", "
		}
		names += e.Name()
	}
	return services.Errorf(services.FailedPrecondition,
		"%s is not empty (it holds %s): a restore goes into an empty data directory only; move these away or set MOLAR_DATA_DIR to a new directory", t.dir, names)
}

// Begin implements backup.Target: the directory must be empty (or
// missing); the marker is written and synced before anything else.
func (t *RestoreTarget) Begin(context.Context) error {
	if err := t.Empty(); err != nil {
		return err
	}
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return err
	}
	if err := backup.WriteFile(filepath.Join(t.dir, RestoreMarker), strings.NewReader(time.Now().UTC().Format(time.RFC3339)+"\n")); err != nil {
		return err
	}
	return backup.SyncDir(t.dir)
}

// Write implements backup.Target: the one file, the database.
func (t *RestoreTarget) Write(_ context.Context, name string, r io.Reader) error {
	if name != archiveDB {
		return fmt.Errorf("%w: unexpected file %q in a backup of the sqlite engine", backup.ErrDamaged, name)
	}
	return backup.WriteFile(filepath.Join(t.dir, t.file), r)
}

// Images implements backup.Target. It opens the restored file as a server
// would (bringing its schema up to date) and checks it whole first.
func (t *RestoreTarget) Images(ctx context.Context, fn func(*molarv1.Image) error) error {
	db, err := Open(ctx, filepath.Join(t.dir, t.file))
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.sql.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("%w: the restored database fails its integrity check: %s", backup.ErrDamaged, res)
	}
	return eachImage(ctx, db.sql, fn)
}

// Commit implements backup.Target: removing the marker.
func (t *RestoreTarget) Commit(context.Context) error {
	if err := os.Remove(filepath.Join(t.dir, RestoreMarker)); err != nil {
		return err
	}
	return backup.SyncDir(t.dir)
}

// Abort implements backup.Target: the directory was empty, so everything
// in it now came from the restore.
func (t *RestoreTarget) Abort(context.Context) error {
	entries, err := os.ReadDir(t.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.Name() == RestoreMarker {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(t.dir, e.Name())))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.Remove(filepath.Join(t.dir, RestoreMarker))
}
