package mongo_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/mongo/storetest"
)

func TestChangesContract(t *testing.T) {
	t.Parallel()
	storetest.TestChanges(t, func(t *testing.T, now func() time.Time) storetest.ChangeLog {
		log := mongo.NewChangeLog(mongotest.DB(t), now, slog.New(slog.DiscardHandler))
		return storetest.ChangeLog{
			Publish: func(ctx context.Context, kind, key string) error { return log.Publish(ctx, kind, key, 1) },
			Prune:   log.Prune, Oldest: log.Oldest,
			Follow: func(ctx context.Context) (func(context.Context) ([]int64, []string, bool, error), error) {
				f, err := log.Follow(ctx)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) ([]int64, []string, bool, error) {
					cs, reload, err := f.Next(ctx)
					var revs []int64
					var keys []string
					for _, c := range cs {
						revs, keys = append(revs, c.Rev), append(keys, c.Key)
					}
					return revs, keys, reload, err
				}, nil
			},
		}
	})
}
