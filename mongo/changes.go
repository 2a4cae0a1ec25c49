package mongo

import (
	"context"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// changeCollection numbers changes by a gapless revision. ("changes", the
// time-keyed log of earlier versions, is dropped at start-up.)
const (
	changeCollection       = "change_log"
	legacyChangeCollection = "changes"
)

// ChangeLog tells every server process on one database what changed, in
// order, without change streams (the MongoDB-protocol test engine has
// none). Each change takes the next revision by inserting it: of writers
// racing for a revision one wins and the others take the next, and a
// revision is only ever taken after the one before it exists, so a follower
// that has seen revision r and reads everything after r misses nothing.
type ChangeLog struct {
	coll   *driver.Collection
	legacy *driver.Collection
	now    func() time.Time
	logger *slog.Logger
}

// Change is one entry: something of Kind with Key is now at KeyRev.
type Change struct {
	Rev    int64     `bson:"_id"`
	Kind   string    `bson:"kind"`
	Key    string    `bson:"key"`
	KeyRev int64     `bson:"key_rev"`
	At     time.Time `bson:"at"`
}

// NewChangeLog returns the change log of db.
func NewChangeLog(db *DB, now func() time.Time, logger *slog.Logger) *ChangeLog {
	return &ChangeLog{coll: db.Database.Collection(changeCollection), legacy: db.Database.Collection(legacyChangeCollection), now: now, logger: logger}
}

// ChangeIndexes are the indexes the change log needs.
func ChangeIndexes() []Index {
	return []Index{{Collection: changeCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "at", Value: 1}}, Options: options.Index().SetName("at")}}}
}

// DropLegacy drops the time-keyed change log of earlier versions; it holds
// only minutes of changes, which every process has read or reloads.
func (l *ChangeLog) DropLegacy(ctx context.Context) error {
	return storeError(l.legacy.Drop(ctx), "old change log")
}

// Publish records a change under the next revision.
func (l *ChangeLog) Publish(ctx context.Context, kind, key string, rev int64) error {
	for {
		last, err := l.Last(ctx)
		if err != nil {
			return err
		}
		_, err = l.coll.InsertOne(ctx, Change{Rev: last + 1, Kind: kind, Key: key, KeyRev: rev, At: ms(l.now())})
		if !driver.IsDuplicateKeyError(err) {
			return storeError(err, "change")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func (l *ChangeLog) edge(ctx context.Context, order int) (int64, error) {
	var c Change
	err := l.coll.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: order}}).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&c)
	if err == driver.ErrNoDocuments {
		return 0, nil
	}
	return c.Rev, storeError(err, "changes")
}

// Last returns the highest revision published, 0 if none.
func (l *ChangeLog) Last(ctx context.Context) (int64, error) { return l.edge(ctx, -1) }

// Oldest returns the lowest revision still kept, 0 if none.
func (l *ChangeLog) Oldest(ctx context.Context) (int64, error) { return l.edge(ctx, 1) }

// Since returns up to limit changes after revision rev, oldest first.
func (l *ChangeLog) Since(ctx context.Context, rev int64, limit int) ([]Change, error) {
	return findAll(ctx, l.coll, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: rev}}}}, "changes", func(c Change) Change { return c },
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
}

// Prune drops changes older than keep, always leaving the newest, so that
// the next revision is still counted from it.
func (l *ChangeLog) Prune(ctx context.Context, keep time.Duration) error {
	last, err := l.Last(ctx)
	if err != nil || last == 0 {
		return err
	}
	_, err = l.coll.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: ms(l.now().Add(-keep))}}}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: last}}}})
	return storeError(err, "changes")
}

// Follower reads the log in order from a revision on.
type Follower struct {
	log *ChangeLog
	rev int64
}

// Follow returns a follower that has seen everything up to now.
func (l *ChangeLog) Follow(ctx context.Context) (*Follower, error) {
	rev, err := l.Last(ctx)
	if err != nil {
		return nil, err
	}
	return &Follower{log: l, rev: rev}, nil
}

// Next returns the changes published since the last call, oldest first. If
// some were pruned before the follower read them, it returns reload = true
// and no changes: the caller must reload what it keeps, and the follower
// goes on from the newest revision.
func (f *Follower) Next(ctx context.Context) (changes []Change, reload bool, err error) {
	for {
		batch, err := f.log.Since(ctx, f.rev, 500)
		if err != nil {
			return nil, false, err
		}
		if len(batch) > 0 && batch[0].Rev != f.rev+1 {
			last, err := f.log.Last(ctx)
			if err != nil {
				return nil, false, err
			}
			f.rev = last
			return nil, true, nil
		}
		changes = append(changes, batch...)
		if len(batch) > 0 {
			f.rev = batch[len(batch)-1].Rev
		}
		if len(batch) < 500 {
			return changes, false, nil
		}
	}
}
