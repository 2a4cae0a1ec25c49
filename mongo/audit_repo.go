package mongo

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

const auditCollection = "audit_events"

// AuditRepo appends audit events and pages through them newest first. Event
// ids are time-ordered (UUIDv7), and pages continue strictly after the
// (time, id) of the last event shown, so new events never shift a page.
type AuditRepo struct {
	coll *driver.Collection
}

var _ audit.Store = (*AuditRepo)(nil)

// NewAuditRepo returns an AuditRepo on db.
func NewAuditRepo(db *DB) *AuditRepo {
	return &AuditRepo{coll: db.Database.Collection(auditCollection)}
}

// AuditIndexes are the indexes AuditRepo needs.
func AuditIndexes() []Index {
	return []Index{
		{Collection: auditCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("at_id")}},
		{Collection: auditCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "actor_id", Value: 1}, {Key: "at", Value: -1}}, Options: options.Index().SetName("actor_at")}},
		{Collection: auditCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "target_id", Value: 1}, {Key: "at", Value: -1}}, Options: options.Index().SetName("target_at")}},
	}
}

type auditDoc struct {
	ID         string    `bson:"_id"`
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

// Append implements audit.Store.
func (r *AuditRepo) Append(ctx context.Context, e audit.Event) error {
	_, err := r.coll.InsertOne(ctx, auditDoc{ID: e.ID, At: ms(e.Time), Action: int32(e.Action), ActorID: e.ActorID, ActorEmail: e.ActorEmail,
		IP: e.IP, TargetType: e.TargetType, TargetID: e.TargetID, Detail: e.Detail, RequestID: e.RequestID})
	if driver.IsDuplicateKeyError(err) {
		return nil // appended before, by the commit's first projection
	}
	return storeError(err, "audit event")
}

// List implements audit.Store.
func (r *AuditRepo) List(ctx context.Context, f audit.Filter, after string, limit int) ([]audit.Event, string, error) {
	filter := bson.D{}
	if f.ActorID != "" {
		filter = append(filter, bson.E{Key: "actor_id", Value: f.ActorID})
	}
	if f.TargetID != "" {
		filter = append(filter, bson.E{Key: "target_id", Value: f.TargetID})
	}
	if len(f.Actions) > 0 {
		in := bson.A{}
		for _, a := range f.Actions {
			in = append(in, int32(a))
		}
		filter = append(filter, bson.E{Key: "action", Value: bson.D{{Key: "$in", Value: in}}})
	}
	at := bson.D{}
	if !f.Start.IsZero() {
		at = append(at, bson.E{Key: "$gte", Value: ms(f.Start)})
	}
	if !f.End.IsZero() {
		at = append(at, bson.E{Key: "$lt", Value: ms(f.End)})
	}
	if len(at) > 0 {
		filter = append(filter, bson.E{Key: "at", Value: at})
	}
	if after != "" {
		t, id, err := parseAuditCursor(after)
		if err != nil {
			return nil, "", services.InvalidFields(services.Violation{Field: "page_token", Rule: "page_token.valid", Message: "not a page token from this list"})
		}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: t}}}},
			bson.D{{Key: "at", Value: t}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}}},
		}})
	}
	cur, err := r.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit+1)))
	if err != nil {
		return nil, "", storeError(err, "audit events")
	}
	var docs []auditDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, "", storeError(err, "audit events")
	}
	next := ""
	if len(docs) > limit {
		docs = docs[:limit]
		last := docs[limit-1]
		next = auditCursor(last.At, last.ID)
	}
	out := make([]audit.Event, len(docs))
	for i, d := range docs {
		out[i] = audit.Event{ID: d.ID, Time: d.At, Action: molarv1.AuditAction(d.Action), ActorID: d.ActorID, ActorEmail: d.ActorEmail,
			IP: d.IP, TargetType: d.TargetType, TargetID: d.TargetID, Detail: d.Detail, RequestID: d.RequestID}
	}
	return out, next, nil
}

func auditCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMilli(), 10) + "|" + id))
}

func parseAuditCursor(s string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", err
	}
	msStr, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(msStr, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", strconv.ErrSyntax
	}
	return time.UnixMilli(n).UTC(), id, nil
}
