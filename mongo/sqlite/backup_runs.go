package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/backup"
)

// BackupRunStore keeps the record of backups in backup_runs, one row each.
type BackupRunStore struct {
	db *DB
}

var _ backup.Store = (*BackupRunStore)(nil)

// NewBackupRunStore returns the backup record of db.
func NewBackupRunStore(db *DB) *BackupRunStore { return &BackupRunStore{db: db} }

// runDoc is a run as stored.
type runDoc struct {
	Trigger int32  `json:"trigger"`
	Engine  string `json:"engine,omitempty"`
	Start   int64  `json:"start_ms"`
	End     int64  `json:"end_ms"`
	File    string `json:"file,omitempty"`
	Size    int64  `json:"size,omitempty"`
	Images  int    `json:"images,omitempty"`
	Failure int32  `json:"failure,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Add implements backup.Store.
func (s *BackupRunStore) Add(ctx context.Context, r backup.Run) error {
	doc, err := json.Marshal(runDoc{Trigger: int32(r.Trigger), Engine: r.Engine, Start: r.Start.UnixMilli(), End: r.End.UnixMilli(), File: r.File,
		Size: r.Size, Images: r.Images, Failure: int32(r.Failure), Error: r.Error})
	if err != nil {
		return err
	}
	return s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO backup_runs (id, start, ok, doc) VALUES (?, ?, ?, ?)`, r.ID, r.Start.UnixMilli(), r.OK(), string(doc))
		return storeError(err, "backup run")
	})
}

// Recent implements backup.Store.
func (s *BackupRunStore) Recent(ctx context.Context, limit int) ([]backup.Run, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT id, doc FROM backup_runs ORDER BY start DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, storeError(err, "backup runs")
	}
	defer rows.Close()
	var out []backup.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, storeError(err, "backup runs")
		}
		out = append(out, r)
	}
	return out, storeError(rows.Err(), "backup runs")
}

// LastSuccess implements backup.Store.
func (s *BackupRunStore) LastSuccess(ctx context.Context) (backup.Run, error) {
	r, err := scanRun(s.db.sql.QueryRowContext(ctx, `SELECT id, doc FROM backup_runs WHERE ok = 1 ORDER BY start DESC, id DESC LIMIT 1`))
	return r, storeError(err, "successful backup")
}

func scanRun(sc interface{ Scan(...any) error }) (backup.Run, error) {
	var id, doc string
	if err := sc.Scan(&id, &doc); err != nil {
		return backup.Run{}, err
	}
	var d runDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return backup.Run{}, err
	}
	return backup.Run{ID: id, Trigger: molarv1.BackupTrigger(d.Trigger), Engine: d.Engine, Start: time.UnixMilli(d.Start), End: time.UnixMilli(d.End),
		File: d.File, Size: d.Size, Images: d.Images, Failure: molarv1.BackupFailure(d.Failure), Error: d.Error}, nil
}
