package mongo

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const changeCollection = "changes"

// ChangeLog tells every server process on one database what changed, without
// change streams (the embedded engine has none). Each write appends a small
// record; followers poll for records newer than what they have seen. Records
// are kept only for a few minutes, so the collection stays small and a poll
// is cheap on every engine.
type ChangeLog struct {
	coll      *driver.Collection
	retention time.Duration
	now       func() time.Time
	logger    *slog.Logger
}

// Change is one record: something of Kind with Key is now at Rev.
type Change struct {
	ID   string    `bson:"_id"`
	Kind string    `bson:"kind"`
	Key  string    `bson:"key"`
	Rev  int64     `bson:"rev"`
	At   time.Time `bson:"at"`
}

// NewChangeLog returns the change log of db.
func NewChangeLog(db *DB, now func() time.Time, logger *slog.Logger) *ChangeLog {
	return &ChangeLog{coll: db.Database.Collection(changeCollection), retention: 5 * time.Minute, now: now, logger: logger}
}

// ChangeIndexes are the indexes the change log needs.
func ChangeIndexes() []Index {
	return []Index{{Collection: changeCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "at", Value: 1}}, Options: options.Index().SetName("at")}}}
}

// Publish records a change.
func (l *ChangeLog) Publish(ctx context.Context, kind, key string, rev int64) error {
	_, err := l.coll.InsertOne(ctx, Change{ID: uuid.Must(uuid.NewV7()).String(), Kind: kind, Key: key, Rev: rev, At: ms(l.now())})
	return storeError(err, "change")
}

// since returns the changes recorded at or after t, oldest first.
func (l *ChangeLog) since(ctx context.Context, t time.Time) ([]Change, error) {
	cur, err := l.coll.Find(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$gte", Value: ms(t)}}}}, options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, storeError(err, "changes")
	}
	var out []Change
	err = cur.All(ctx, &out)
	return out, storeError(err, "changes")
}

// Follow calls fn with each batch of changes recorded after it starts, from
// this process or any other, until ctx ends. Polls overlap by a few seconds
// (clocks of processes differ and writes land late) and a change already
// delivered is never delivered again.
func (l *ChangeLog) Follow(ctx context.Context, every time.Duration, fn func([]Change)) {
	const overlap = 5 * time.Second
	from := l.now().Add(-overlap)
	seen := map[string]time.Time{}
	var mu sync.Mutex
	t := time.NewTicker(every)
	defer t.Stop()
	lastPrune := l.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changes, err := l.since(ctx, from)
		if err != nil {
			if ctx.Err() == nil {
				l.logger.Warn("change log poll failed", "error", err.Error())
			}
			continue
		}
		mu.Lock()
		var fresh []Change
		for _, c := range changes {
			if _, ok := seen[c.ID]; !ok {
				seen[c.ID] = c.At
				fresh = append(fresh, c)
			}
		}
		now := l.now()
		from = now.Add(-overlap)
		for id, at := range seen {
			if at.Before(from.Add(-time.Second)) {
				delete(seen, id)
			}
		}
		mu.Unlock()
		if len(fresh) > 0 {
			fn(fresh)
		}
		if now.Sub(lastPrune) > time.Minute {
			lastPrune = now
			if _, err := l.coll.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: ms(now.Add(-l.retention))}}}}); err != nil && ctx.Err() == nil {
				l.logger.Warn("change log prune failed", "error", err.Error())
			}
		}
	}
}
