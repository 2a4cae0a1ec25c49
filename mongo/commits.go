package mongo

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
)

// WatchCommits calls fn after each entry appended to the change log or to
// the schedule's event log, by any process, as a change stream reports it,
// until ctx ends or the stream fails. It returns at once with an error when
// the deployment has no change streams (a standalone server, FerretDB): the
// caller then reads the logs on a timer instead.
func (d *DB) WatchCommits(ctx context.Context, fn func()) error {
	pipeline := driver.Pipeline{{{Key: "$match", Value: bson.D{
		{Key: "operationType", Value: "insert"},
		{Key: "ns.coll", Value: bson.D{{Key: "$in", Value: bson.A{changeCollection, scheduleEventCollection}}}},
	}}}}
	cs, err := d.Database.Watch(ctx, pipeline)
	if err != nil {
		return storeError(err, "change stream")
	}
	defer cs.Close(context.WithoutCancel(ctx))
	for cs.Next(ctx) {
		fn()
	}
	if ctx.Err() != nil {
		return nil
	}
	return storeError(cs.Err(), "change stream")
}
