package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
)

// A change to data carries its audit event inside the one insert that
// commits it, marked pending (audit_pending: true). The service projects the
// event into the trail after the commit and the repository then clears the
// mark; if the process stops in between, ReprojectAudit finds the mark at the
// next start and projects the event again (appending is idempotent by id).

// pendingField marks a committed document whose audit event may not be in the
// trail yet.
const pendingField = "audit_pending"

// carriedAuditDoc is an audit event stored inside the change it records.
type carriedAuditDoc struct {
	ID         string    `bson:"id"`
	At         time.Time `bson:"at"`
	Action     int32     `bson:"action"`
	ActorID    string    `bson:"actor_id,omitempty"`
	ActorEmail string    `bson:"actor_email,omitempty"`
	IP         string    `bson:"ip,omitempty"`
	TargetType string    `bson:"target_type,omitempty"`
	TargetID   string    `bson:"target_id,omitempty"`
	Detail     string    `bson:"detail,omitempty"`
	RequestID  string    `bson:"request_id,omitempty"`
}

// carriedAudit returns the document of e and whether it is pending: nil and
// false for a change made without an event (e.ID empty).
func carriedAudit(e audit.Event) (*carriedAuditDoc, bool) {
	if e.ID == "" {
		return nil, false
	}
	return &carriedAuditDoc{ID: e.ID, At: ms(e.Time), Action: int32(e.Action), ActorID: e.ActorID, ActorEmail: e.ActorEmail, IP: e.IP,
		TargetType: e.TargetType, TargetID: e.TargetID, Detail: e.Detail, RequestID: e.RequestID}, true
}

func (d *carriedAuditDoc) event() audit.Event {
	if d == nil {
		return audit.Event{}
	}
	return audit.Event{ID: d.ID, Time: d.At, Action: molarv1.AuditAction(d.Action), ActorID: d.ActorID, ActorEmail: d.ActorEmail, IP: d.IP,
		TargetType: d.TargetType, TargetID: d.TargetID, Detail: d.Detail, RequestID: d.RequestID}
}

// pendingIndex is the index that finds pending documents of a collection at
// start-up.
func pendingIndex(collection string) Index {
	return Index{Collection: collection, Model: driver.IndexModel{Keys: bson.D{{Key: pendingField, Value: 1}}, Options: options.Index().SetName(pendingField)}}
}

// clearPending removes the mark from the document with _id id. It is a plain
// update: idempotent, and a lost clear only means the event is projected once
// more (which changes nothing).
func clearPending(ctx context.Context, coll *driver.Collection, id any) error {
	_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$unset", Value: bson.D{{Key: pendingField, Value: ""}}}})
	return storeError(err, "audit mark")
}

// pendingDoc is what recovery reads of a pending document: its key, its
// event, and the whole document for the repository to finish the change.
type pendingDoc struct {
	ID    any              `bson:"_id"`
	Audit *carriedAuditDoc `bson:"audit"`
	Raw   bson.Raw         `bson:"-"`
}

// reprojectPending finds every pending document of coll, oldest event
// first, lets finish complete what derives from the change (nil: nothing
// does), projects its event and clears the mark. A document that fails keeps
// its mark for the next start; the failures are returned together after
// every document was tried.
func reprojectPending(ctx context.Context, coll *driver.Collection, project func(audit.Event) error, finish func(pendingDoc) error) error {
	cur, err := coll.Find(ctx, bson.D{{Key: pendingField, Value: true}}, options.Find().SetSort(bson.D{{Key: "audit.id", Value: 1}}))
	if err != nil {
		return storeError(err, coll.Name())
	}
	var docs []pendingDoc
	for cur.Next(ctx) {
		var d pendingDoc
		if err := cur.Decode(&d); err != nil {
			_ = cur.Close(ctx)
			return storeError(err, coll.Name())
		}
		d.Raw = append(bson.Raw(nil), cur.Current...)
		docs = append(docs, d)
	}
	if err := cur.Err(); err != nil {
		return storeError(err, coll.Name())
	}
	_ = cur.Close(ctx)
	var errs []error
	for _, d := range docs {
		if finish != nil {
			if err := finish(d); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if e := d.Audit.event(); e.ID != "" {
			if err := project(e); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := clearPending(ctx, coll, d.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
