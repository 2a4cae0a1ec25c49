package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/molar-dental/molar/services/auth"
)

const (
	sessionCollection      = "sessions"
	refreshTokenCollection = "refresh_tokens"
	// refreshUseCollection has one document per used refresh token, keyed by
	// its hash: inserting it is the atomic "use once" step on every engine.
	refreshUseCollection = "refresh_token_uses"
	failureCollection    = "login_failures"
)

// SessionRepo stores sessions, refresh-token hashes and failed sign-ins.
type SessionRepo struct {
	sessions, tokens, uses, failures *driver.Collection
}

var (
	_ auth.SessionStore = (*SessionRepo)(nil)
	_ auth.FailureStore = (*SessionRepo)(nil)
)

// NewSessionRepo returns a SessionRepo on db.
func NewSessionRepo(db *DB) *SessionRepo {
	return &SessionRepo{
		sessions: db.Database.Collection(sessionCollection), tokens: db.Database.Collection(refreshTokenCollection),
		uses: db.Database.Collection(refreshUseCollection), failures: db.Database.Collection(failureCollection),
	}
}

// SessionIndexes are the indexes SessionRepo needs. Expired documents are
// removed by TTL indexes on MongoDB; the embedded engine has none, so there
// they stay (they are small and every read filters on expiry).
func SessionIndexes() []Index {
	return []Index{
		{Collection: sessionCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "staff_id", Value: 1}, {Key: "created", Value: -1}}, Options: options.Index().SetName("staff_created")}},
		{Collection: sessionCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "revoked_at", Value: 1}}, Options: options.Index().SetName("revoked_at")}},
		{Collection: failureCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "staff_id", Value: 1}, {Key: "at", Value: -1}}, Options: options.Index().SetName("staff_at")}},
		{Collection: refreshTokenCollection, MongoDBOnly: true, Model: driver.IndexModel{Keys: bson.D{{Key: "expires", Value: 1}}, Options: options.Index().SetName("expires_ttl").SetExpireAfterSeconds(0)}},
		{Collection: failureCollection, MongoDBOnly: true, Model: driver.IndexModel{Keys: bson.D{{Key: "at", Value: 1}}, Options: options.Index().SetName("at_ttl").SetExpireAfterSeconds(7 * 24 * 3600)}},
	}
}

type sessionDoc struct {
	ID        string    `bson:"_id"`
	StaffID   string    `bson:"staff_id"`
	Created   time.Time `bson:"created"`
	LastUsed  time.Time `bson:"last_used"`
	Expires   time.Time `bson:"expires"`
	IP        string    `bson:"ip"`
	UserAgent string    `bson:"user_agent"`
	RevokedAt time.Time `bson:"revoked_at"`
	Reason    string    `bson:"reason,omitempty"`
}

func (d sessionDoc) session() auth.Session {
	return auth.Session{ID: d.ID, StaffID: d.StaffID, Created: d.Created, LastUsed: d.LastUsed, Expires: d.Expires,
		IP: d.IP, UserAgent: d.UserAgent, RevokedAt: d.RevokedAt, Reason: d.Reason}
}

// Create implements auth.SessionStore.
func (r *SessionRepo) Create(ctx context.Context, s auth.Session) error {
	_, err := r.sessions.InsertOne(ctx, sessionDoc{ID: s.ID, StaffID: s.StaffID, Created: ms(s.Created), LastUsed: ms(s.LastUsed),
		Expires: ms(s.Expires), IP: s.IP, UserAgent: s.UserAgent})
	return storeError(err, "session")
}

// Get implements auth.SessionStore.
func (r *SessionRepo) Get(ctx context.Context, id string) (auth.Session, error) {
	var d sessionDoc
	if err := r.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return auth.Session{}, storeError(err, "session")
	}
	return d.session(), nil
}

// Touch implements auth.SessionStore.
func (r *SessionRepo) Touch(ctx context.Context, id string, lastUsed, expires time.Time) error {
	_, err := r.sessions.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_used", Value: ms(lastUsed)}, {Key: "expires", Value: ms(expires)}}}})
	return storeError(err, "session")
}

// Revoke implements auth.SessionStore.
func (r *SessionRepo) Revoke(ctx context.Context, id string, at time.Time, reason string) error {
	_, err := r.sessions.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revoked_at", Value: time.Time{}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: ms(at)}, {Key: "reason", Value: reason}}}})
	return storeError(err, "session")
}

// ListActive implements auth.SessionStore.
func (r *SessionRepo) ListActive(ctx context.Context, staffID string, now time.Time) ([]auth.Session, error) {
	return findAll(ctx, r.sessions, bson.D{
		{Key: "staff_id", Value: staffID}, {Key: "revoked_at", Value: time.Time{}}, {Key: "expires", Value: bson.D{{Key: "$gt", Value: ms(now)}}},
	}, "sessions", sessionDoc.session, options.Find().SetSort(bson.D{{Key: "created", Value: -1}}))
}

// RevokedSince implements auth.SessionStore.
func (r *SessionRepo) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	cur, err := r.sessions.Find(ctx, bson.D{{Key: "revoked_at", Value: bson.D{{Key: "$gte", Value: ms(since)}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, storeError(err, "sessions")
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeError(err, "sessions")
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

type refreshTokenDoc struct {
	Hash      string    `bson:"_id"`
	SessionID string    `bson:"session_id"`
	Expires   time.Time `bson:"expires"`
}

// AddToken implements auth.SessionStore.
func (r *SessionRepo) AddToken(ctx context.Context, t auth.RefreshToken) error {
	_, err := r.tokens.InsertOne(ctx, refreshTokenDoc{Hash: t.Hash, SessionID: t.SessionID, Expires: ms(t.Expires)})
	return storeError(err, "refresh token")
}

// GetToken implements auth.SessionStore.
func (r *SessionRepo) GetToken(ctx context.Context, hash string) (auth.RefreshToken, error) {
	var d refreshTokenDoc
	if err := r.tokens.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&d); err != nil {
		return auth.RefreshToken{}, storeError(err, "refresh token")
	}
	return auth.RefreshToken{Hash: d.Hash, SessionID: d.SessionID, Expires: d.Expires}, nil
}

// UseToken implements auth.SessionStore: the insert of the token's hash as
// _id succeeds once.
func (r *SessionRepo) UseToken(ctx context.Context, hash string, at time.Time) error {
	_, err := r.uses.InsertOne(ctx, bson.D{{Key: "_id", Value: hash}, {Key: "at", Value: ms(at)}})
	return storeError(err, "refresh token use")
}

// AddFailure implements auth.FailureStore.
func (r *SessionRepo) AddFailure(ctx context.Context, staffID string, at time.Time) error {
	_, err := r.failures.InsertOne(ctx, bson.D{{Key: "staff_id", Value: staffID}, {Key: "at", Value: ms(at)}})
	return storeError(err, "login failure")
}

// Failures implements auth.FailureStore.
func (r *SessionRepo) Failures(ctx context.Context, staffID string, since time.Time) ([]time.Time, error) {
	cur, err := r.failures.Find(ctx, bson.D{{Key: "staff_id", Value: staffID}, {Key: "at", Value: bson.D{{Key: "$gt", Value: ms(since)}}}},
		options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(100))
	if err != nil {
		return nil, storeError(err, "login failures")
	}
	var docs []struct {
		At time.Time `bson:"at"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeError(err, "login failures")
	}
	out := make([]time.Time, len(docs))
	for i, d := range docs {
		out[i] = d.At
	}
	return out, nil
}
