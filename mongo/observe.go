package mongo

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
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

// commandMonitor tells observe (and trace, with the collection) of each
// command the driver sends as its answer arrives; either may be nil. Only
// the command's name and the collection it names go out: never its
// documents.
func commandMonitor(observe func(ctx context.Context, command string, took time.Duration, err error),
	trace func(ctx context.Context, command, collection string, took time.Duration, err error)) *event.CommandMonitor {
	name := func(n string) string {
		if slices.Contains(Commands, n) {
			return n
		}
		return "other"
	}
	// The collection is in the command, which only the start of a command
	// shows: it is kept by the command's request id until the answer.
	var collections sync.Map
	collectionOf := func(id int64) string {
		c, _ := collections.LoadAndDelete(id)
		s, _ := c.(string)
		return s
	}
	done := func(ctx context.Context, command string, id int64, took time.Duration, err error) {
		command = name(command)
		if observe != nil {
			observe(ctx, command, took, err)
		}
		if trace != nil {
			trace(ctx, command, collectionOf(id), took, err)
		}
	}
	m := &event.CommandMonitor{
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			done(ctx, e.CommandName, e.RequestID, e.Duration, nil)
		},
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			done(ctx, e.CommandName, e.RequestID, e.Duration, e.Failure)
		},
	}
	if trace != nil {
		m.Started = func(_ context.Context, e *event.CommandStartedEvent) {
			if c := commandCollection(e.Command); c != "" && name(e.CommandName) != "other" {
				collections.Store(e.RequestID, c)
			}
		}
	}
	return m
}

// commandCollection returns the collection a command names: the value of
// its first element, the command's name, when that is a string (find,
// insert, update, aggregate, createIndexes...; commands on no collection
// have a number there).
func commandCollection(cmd bson.Raw) string {
	el, err := cmd.IndexErr(0)
	if err != nil {
		return ""
	}
	s, ok := el.Value().StringValueOK()
	if !ok {
		return ""
	}
	return s
}
