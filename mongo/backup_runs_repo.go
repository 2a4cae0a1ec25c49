package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/backup"
)

const backupRunsCollection = "backup_runs"

// BackupRunRepo keeps the record of backups, one document each; its insert
// is the commit point.
type BackupRunRepo struct {
	runs *driver.Collection
}

var _ backup.Store = (*BackupRunRepo)(nil)

// NewBackupRunRepo returns a BackupRunRepo on db.
func NewBackupRunRepo(db *DB) *BackupRunRepo {
	return &BackupRunRepo{runs: db.Database.Collection(backupRunsCollection)}
}

// BackupRunIndexes are the indexes BackupRunRepo needs beyond _id.
func BackupRunIndexes() []Index {
	return []Index{
		{Collection: backupRunsCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "start", Value: -1}}}},
		{Collection: backupRunsCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "ok", Value: 1}, {Key: "start", Value: -1}}}},
	}
}

type backupRunDoc struct {
	ID      string    `bson:"_id"`
	Trigger int32     `bson:"trigger"`
	Engine  string    `bson:"engine,omitempty"`
	Start   time.Time `bson:"start"`
	End     time.Time `bson:"end"`
	OK      bool      `bson:"ok"`
	File    string    `bson:"file,omitempty"`
	Size    int64     `bson:"size,omitempty"`
	Images  int       `bson:"images,omitempty"`
	Failure int32     `bson:"failure,omitempty"`
	Error   string    `bson:"error,omitempty"`
}

// Add implements backup.Store.
func (r *BackupRunRepo) Add(ctx context.Context, run backup.Run) error {
	_, err := r.runs.InsertOne(ctx, backupRunDoc{ID: run.ID, Trigger: int32(run.Trigger), Engine: run.Engine, Start: ms(run.Start), End: ms(run.End),
		OK: run.OK(), File: run.File, Size: run.Size, Images: run.Images, Failure: int32(run.Failure), Error: run.Error})
	return storeError(err, "backup run")
}

// Recent implements backup.Store.
func (r *BackupRunRepo) Recent(ctx context.Context, limit int) ([]backup.Run, error) {
	return findAll(ctx, r.runs, bson.D{}, "backup runs", runOf,
		options.Find().SetSort(bson.D{{Key: "start", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
}

// LastSuccess implements backup.Store.
func (r *BackupRunRepo) LastSuccess(ctx context.Context) (backup.Run, error) {
	var d backupRunDoc
	err := r.runs.FindOne(ctx, bson.D{{Key: "ok", Value: true}}, options.FindOne().SetSort(bson.D{{Key: "start", Value: -1}, {Key: "_id", Value: -1}})).Decode(&d)
	if err != nil {
		return backup.Run{}, storeError(err, "successful backup")
	}
	return runOf(d), nil
}

func runOf(d backupRunDoc) backup.Run {
	return backup.Run{ID: d.ID, Trigger: molarv1.BackupTrigger(d.Trigger), Engine: d.Engine, Start: d.Start, End: d.End, File: d.File,
		Size: d.Size, Images: d.Images, Failure: molarv1.BackupFailure(d.Failure), Error: d.Error}
}
