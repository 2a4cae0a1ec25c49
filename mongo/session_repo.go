package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
)

const (
	sessionCollection      = "sessions"
	refreshTokenCollection = "refresh_tokens"
	// refreshUseCollection has one document per used refresh token, keyed by
	// its hash: inserting it is the atomic "use once" step on every engine.
	refreshUseCollection = "refresh_token_uses"
	failureCollection    = "login_failures"
	// revocationCollection has one document per ended session, keyed by the
	// session id: inserting it is the commit of the end (once, on every
	// engine), and the session's revoked_at follows it.
	revocationCollection = "session_revocations"
)

// SessionRepo stores sessions, refresh-token hashes and failed sign-ins.
type SessionRepo struct {
	sessions, tokens, uses, failures, revocations, staff *driver.Collection
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
		revocations: db.Database.Collection(revocationCollection), staff: db.Database.Collection(staffCollection),
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
		{Collection: failureCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "ip", Value: 1}, {Key: "at", Value: -1}}, Options: options.Index().SetName("ip_at")}},
		{Collection: refreshTokenCollection, MongoDBOnly: true, Model: driver.IndexModel{Keys: bson.D{{Key: "expires", Value: 1}}, Options: options.Index().SetName("expires_ttl").SetExpireAfterSeconds(0)}},
		{Collection: failureCollection, MongoDBOnly: true, Model: driver.IndexModel{Keys: bson.D{{Key: "at", Value: 1}}, Options: options.Index().SetName("at_ttl").SetExpireAfterSeconds(7 * 24 * 3600)}},
		pendingIndex(revocationCollection), pendingIndex(sessionCollection), pendingIndex(failureCollection),
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
	// Audit is the sign-in's event, pending until projected.
	Audit        *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending bool             `bson:"audit_pending,omitempty"`
}

func (d sessionDoc) session() auth.Session {
	return auth.Session{ID: d.ID, StaffID: d.StaffID, Created: d.Created, LastUsed: d.LastUsed, Expires: d.Expires,
		IP: d.IP, UserAgent: d.UserAgent, RevokedAt: d.RevokedAt, Reason: d.Reason}
}

// Create implements auth.SessionStore. The first token is inserted
// before the session and is inert until it exists (a refresh finds no
// session for it); the insert of the session, carrying ev, is the commit;
// the account's last sign-in follows it and is redone by ReprojectAudit if
// the process stops in between.
func (r *SessionRepo) Create(ctx context.Context, s auth.Session, first auth.RefreshToken, ev audit.Event) error {
	if err := r.AddToken(ctx, first); err != nil {
		return err
	}
	d := sessionDoc{ID: s.ID, StaffID: s.StaffID, Created: ms(s.Created), LastUsed: ms(s.LastUsed),
		Expires: ms(s.Expires), IP: s.IP, UserAgent: s.UserAgent}
	d.Audit, d.AuditPending = carriedAudit(ev)
	if _, err := r.sessions.InsertOne(ctx, d); err != nil {
		return storeError(err, "session")
	}
	return r.recordLogin(ctx, d)
}

// recordLogin sets the account's last sign-in to the session's start unless
// a later one is there.
func (r *SessionRepo) recordLogin(ctx context.Context, d sessionDoc) error {
	_, err := r.staff.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.StaffID}}, bson.D{{Key: "$max", Value: bson.D{{Key: "last_login", Value: d.Created}}}})
	return storeError(err, "staff account")
}

// StartProjected implements auth.SessionStore.
func (r *SessionRepo) StartProjected(ctx context.Context, id string) error {
	return clearPending(ctx, r.sessions, id)
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

// revocationDoc is the committed end of a session.
type revocationDoc struct {
	ID           string           `bson:"_id"`
	At           time.Time        `bson:"at"`
	Reason       string           `bson:"reason"`
	Audit        *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending bool             `bson:"audit_pending,omitempty"`
}

// Revoke implements auth.SessionStore.
func (r *SessionRepo) Revoke(ctx context.Context, id string, at time.Time, reason string, ev audit.Event) (bool, error) {
	d := revocationDoc{ID: id, At: ms(at), Reason: reason}
	d.Audit, d.AuditPending = carriedAudit(ev)
	if _, err := r.revocations.InsertOne(ctx, d); err != nil {
		if !driver.IsDuplicateKeyError(err) {
			return false, storeError(err, "session")
		}
		// Ended before: make sure the session shows it (the first call may
		// have stopped after its commit).
		var first revocationDoc
		if err := r.revocations.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&first); err != nil {
			return false, storeError(err, "session")
		}
		return false, r.markRevoked(ctx, first)
	}
	return true, r.markRevoked(ctx, d)
}

// markRevoked records a committed end on the session document; it changes
// nothing if the session shows an end already.
func (r *SessionRepo) markRevoked(ctx context.Context, d revocationDoc) error {
	_, err := r.sessions.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "revoked_at", Value: time.Time{}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: d.At}, {Key: "reason", Value: d.Reason}}}})
	return storeError(err, "session")
}

// AuditProjected implements auth.SessionStore.
func (r *SessionRepo) AuditProjected(ctx context.Context, id string) error {
	return clearPending(ctx, r.revocations, id)
}

// ReprojectAudit projects the audit events of every sign-in, failed
// sign-in and session end still marked pending (the process stopped between
// commit and projection), after recording the sign-in on the account and
// the end on the session.
func (r *SessionRepo) ReprojectAudit(ctx context.Context, project func(audit.Event) error) error {
	started := reprojectPending(ctx, r.sessions, project, func(p pendingDoc) error {
		var d sessionDoc
		if err := bson.Unmarshal(p.Raw, &d); err != nil {
			return storeError(err, "session")
		}
		return r.recordLogin(ctx, d)
	})
	failed := reprojectPending(ctx, r.failures, project, nil)
	ended := reprojectPending(ctx, r.revocations, project, func(p pendingDoc) error {
		var d revocationDoc
		if err := bson.Unmarshal(p.Raw, &d); err != nil {
			return storeError(err, "session revocation")
		}
		return r.markRevoked(ctx, d)
	})
	return errors.Join(started, failed, ended)
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

// failureDoc is a failed password check, keyed by its event's id. StaffID
// holds the failure's key (auth.Failure.Key).
type failureDoc struct {
	ID           string           `bson:"_id"`
	StaffID      string           `bson:"staff_id"`
	At           time.Time        `bson:"at"`
	IP           string           `bson:"ip"`
	Audit        *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending bool             `bson:"audit_pending,omitempty"`
}

// AddFailure implements auth.FailureStore: one insert carrying ev.
func (r *SessionRepo) AddFailure(ctx context.Context, f auth.Failure, ev audit.Event) error {
	d := failureDoc{ID: ev.ID, StaffID: f.Key, At: ms(f.At), IP: f.IP}
	if d.ID == "" {
		d.ID = bson.NewObjectID().Hex()
	}
	d.Audit, d.AuditPending = carriedAudit(ev)
	_, err := r.failures.InsertOne(ctx, d)
	return storeError(err, "login failure")
}

// FailureProjected implements auth.FailureStore.
func (r *SessionRepo) FailureProjected(ctx context.Context, eventID string) error {
	return clearPending(ctx, r.failures, eventID)
}

// Failures implements auth.FailureStore.
func (r *SessionRepo) Failures(ctx context.Context, key string, since time.Time) ([]auth.Failure, error) {
	cur, err := r.failures.Find(ctx, bson.D{{Key: "staff_id", Value: key}, {Key: "at", Value: bson.D{{Key: "$gt", Value: ms(since)}}}},
		options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(100).SetProjection(bson.D{{Key: "at", Value: 1}, {Key: "ip", Value: 1}}))
	if err != nil {
		return nil, storeError(err, "login failures")
	}
	var docs []failureDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeError(err, "login failures")
	}
	out := make([]auth.Failure, len(docs))
	for i, d := range docs {
		out[i] = auth.Failure{Key: key, At: d.At, IP: d.IP}
	}
	return out, nil
}

// FailuresFrom implements auth.FailureStore.
func (r *SessionRepo) FailuresFrom(ctx context.Context, ip string, since time.Time) (int, error) {
	n, err := r.failures.CountDocuments(ctx, bson.D{{Key: "ip", Value: ip}, {Key: "at", Value: bson.D{{Key: "$gt", Value: ms(since)}}}})
	return int(n), storeError(err, "login failures")
}

// SignInAddresses implements auth.SessionStore.
func (r *SessionRepo) SignInAddresses(ctx context.Context, staffID string, since time.Time) ([]string, error) {
	cur, err := r.sessions.Find(ctx, bson.D{{Key: "staff_id", Value: staffID}, {Key: "created", Value: bson.D{{Key: "$gt", Value: ms(since)}}}},
		options.Find().SetProjection(bson.D{{Key: "ip", Value: 1}}))
	if err != nil {
		return nil, storeError(err, "sessions")
	}
	var docs []struct {
		IP string `bson:"ip"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeError(err, "sessions")
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range docs {
		if d.IP != "" && !seen[d.IP] {
			seen[d.IP] = true
			out = append(out, d.IP)
		}
	}
	return out, nil
}
