package mongo

import (
	"context"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
)

// Commands are the names of the commands Molar's repositories send; an
// observer is told "other" for any other.
var Commands = []string{
	"find", "getMore", "killCursors", "aggregate", "count", "distinct",
	"insert", "update", "delete", "findAndModify", "bulkWrite",
	"commitTransaction", "abortTransaction",
	"createIndexes", "listIndexes", "dropIndexes", "listCollections", "create", "drop", "dropDatabase",
	"buildInfo", "ping", "endSessions",
}

// commandMonitor tells observe of each command the driver sends as its
// answer arrives. Only the command's name goes out: never its documents.
func commandMonitor(observe func(ctx context.Context, command string, took time.Duration, err error)) *event.CommandMonitor {
	name := func(n string) string {
		if slices.Contains(Commands, n) {
			return n
		}
		return "other"
	}
	return &event.CommandMonitor{
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			observe(ctx, name(e.CommandName), e.Duration, nil)
		},
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			observe(ctx, name(e.CommandName), e.Duration, e.Failure)
		},
	}
}
