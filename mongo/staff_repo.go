package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
)

const (
	staffCollection = "staff"
	// staffRevisionCollection keeps every version of every account after
	// the first, keyed "id:version": inserting the next version there is the
	// commit of an update, and the account document follows it.
	staffRevisionCollection = "staff_revisions"
)

// StaffRepo stores staff accounts, one document each, and their versions.
// The email is unique by index, which makes account creation atomic; an
// update is the insert of the next version, which the unique _id lets only
// one writer win on every engine (a conditional update is not atomic on the
// embedded one).
type StaffRepo struct {
	coll, revisions *driver.Collection
}

var _ auth.AccountStore = (*StaffRepo)(nil)

// NewStaffRepo returns a StaffRepo on db.
func NewStaffRepo(db *DB) *StaffRepo {
	return &StaffRepo{coll: db.Database.Collection(staffCollection), revisions: db.Database.Collection(staffRevisionCollection)}
}

// StaffIndexes are the indexes StaffRepo needs.
func StaffIndexes() []Index {
	return []Index{
		{Collection: staffCollection, Model: driver.IndexModel{
			Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetName("email_unique").SetUnique(true)}},
		pendingIndex(staffCollection),
		pendingIndex(staffRevisionCollection),
	}
}

type staffDoc struct {
	ID                 string    `bson:"_id"`
	Email              string    `bson:"email"`
	DisplayName        string    `bson:"name"`
	Roles              []int32   `bson:"roles"`
	Disabled           bool      `bson:"disabled"`
	MustChangePassword bool      `bson:"must_change_password"`
	PasswordHash       string    `bson:"password_hash"`
	Created            time.Time `bson:"created"`
	Updated            time.Time `bson:"updated"`
	LastLogin          time.Time `bson:"last_login"`
	Version            int64     `bson:"version"`
	// Audit is the event of the account's creation, which the insert of
	// this document commits.
	Audit        *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending bool             `bson:"audit_pending,omitempty"`
}

// staffRevisionDoc is one version of an account after the first.
type staffRevisionDoc struct {
	ID           string           `bson:"_id"`
	Staff        staffDoc         `bson:"staff"`
	Audit        *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending bool             `bson:"audit_pending,omitempty"`
}

func staffDocOf(a auth.Account) staffDoc {
	d := staffDoc{ID: a.ID, Email: a.Email, DisplayName: a.DisplayName, Disabled: a.Disabled, MustChangePassword: a.MustChangePassword,
		PasswordHash: a.PasswordHash, Created: ms(a.Created), Updated: ms(a.Updated), LastLogin: ms(a.LastLogin), Version: a.Version, Roles: []int32{}}
	for _, r := range a.Roles {
		d.Roles = append(d.Roles, int32(r))
	}
	return d
}

func (d staffDoc) account() auth.Account {
	a := auth.Account{ID: d.ID, Email: d.Email, DisplayName: d.DisplayName, Disabled: d.Disabled, MustChangePassword: d.MustChangePassword,
		PasswordHash: d.PasswordHash, Created: d.Created, Updated: d.Updated, LastLogin: d.LastLogin, Version: d.Version}
	for _, r := range d.Roles {
		a.Roles = append(a.Roles, molarv1.Role(r))
	}
	return a
}

// ms truncates to what BSON dates hold.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

// Create implements auth.AccountStore. The insert of the account document
// is the commit, and it carries ev.
func (r *StaffRepo) Create(ctx context.Context, a auth.Account, ev audit.Event) error {
	d := staffDocOf(a)
	d.Audit, d.AuditPending = carriedAudit(ev)
	_, err := r.coll.InsertOne(ctx, d)
	return storeError(err, "staff account")
}

// Get implements auth.AccountStore.
func (r *StaffRepo) Get(ctx context.Context, id string) (auth.Account, error) {
	return r.findOne(ctx, bson.D{{Key: "_id", Value: id}})
}

// GetByEmail implements auth.AccountStore.
func (r *StaffRepo) GetByEmail(ctx context.Context, email string) (auth.Account, error) {
	return r.findOne(ctx, bson.D{{Key: "email", Value: email}})
}

func (r *StaffRepo) findOne(ctx context.Context, filter bson.D) (auth.Account, error) {
	var d staffDoc
	if err := r.coll.FindOne(ctx, filter).Decode(&d); err != nil {
		return auth.Account{}, storeError(err, "staff account")
	}
	d, err := r.settle(ctx, d)
	if err != nil {
		return auth.Account{}, err
	}
	return d.account(), nil
}

// List implements auth.AccountStore.
func (r *StaffRepo) List(ctx context.Context) ([]auth.Account, error) {
	docs, err := findAll(ctx, r.coll, bson.D{}, "staff accounts", func(d staffDoc) staffDoc { return d })
	if err != nil {
		return nil, err
	}
	out := make([]auth.Account, len(docs))
	for i, d := range docs {
		if d, err = r.settle(ctx, d); err != nil {
			return nil, err
		}
		out[i] = d.account()
	}
	return out, nil
}

// Update implements auth.AccountStore.
func (r *StaffRepo) Update(ctx context.Context, a auth.Account, ev audit.Event) (auth.Account, error) {
	var cur staffDoc
	if err := r.coll.FindOne(ctx, bson.D{{Key: "_id", Value: a.ID}}).Decode(&cur); err != nil {
		return auth.Account{}, storeError(err, "staff account")
	}
	d := staffDocOf(a)
	d.Version = a.Version + 1
	d.Email, d.Created = cur.Email, cur.Created
	rev := staffRevisionDoc{ID: revisionID(a.ID, d.Version), Staff: d}
	rev.Audit, rev.AuditPending = carriedAudit(ev)
	if _, err := r.revisions.InsertOne(ctx, rev); err != nil {
		if services.ErrorCode(storeError(err, "")) == services.AlreadyExists {
			_, _ = r.settle(ctx, cur)
			return auth.Account{}, services.Errorf(services.Aborted, "the account was changed by someone else; reload and try again")
		}
		return auth.Account{}, storeError(err, "staff account")
	}
	// Committed: the account document follows, now or at the next read.
	if settled, err := r.settle(ctx, cur); err == nil {
		d.LastLogin = settled.LastLogin
	}
	return d.account(), nil
}

// AuditProjected implements auth.AccountStore. The mark of an update stays
// until the account document has caught up with its version, so that
// recovery also finishes an update whose last step failed.
func (r *StaffRepo) AuditProjected(ctx context.Context, id string, version int64) error {
	if version <= 1 {
		return clearPending(ctx, r.coll, id)
	}
	var cur staffDoc
	if err := r.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur); err != nil {
		return storeError(err, "staff account")
	}
	if cur.Version < version {
		settled, err := r.settle(ctx, cur)
		if err != nil {
			return err
		}
		if settled.Version < version {
			return services.Errorf(services.Unavailable, "staff account %s not yet at version %d", id, version)
		}
	}
	return clearPending(ctx, r.revisions, revisionID(id, version))
}

// ReprojectAudit projects the audit events of every account and version
// still marked pending (the process stopped between commit and projection),
// bringing the account document up to its newest version first.
func (r *StaffRepo) ReprojectAudit(ctx context.Context, project func(audit.Event) error) error {
	errCreated := reprojectPending(ctx, r.coll, project, nil)
	errUpdated := reprojectPending(ctx, r.revisions, project, func(p pendingDoc) error {
		var rev staffRevisionDoc
		if err := bson.Unmarshal(p.Raw, &rev); err != nil {
			return storeError(err, "staff revision")
		}
		var cur staffDoc
		if err := r.coll.FindOne(ctx, bson.D{{Key: "_id", Value: rev.Staff.ID}}).Decode(&cur); err != nil {
			return storeError(err, "staff account")
		}
		settled, err := r.settle(ctx, cur)
		if err == nil && settled.Version < rev.Staff.Version {
			err = services.Errorf(services.Unavailable, "staff account %s not yet at version %d", cur.ID, rev.Staff.Version)
		}
		return err
	})
	return errors.Join(errCreated, errUpdated)
}

// settle brings the account document cur up to its newest version and
// returns that version (with the document's last sign-in, which versions do
// not carry). The write is conditional on the version, which the embedded
// engine does not apply atomically, so settle reads again after writing
// until the document shows the newest version; every writer settles after
// writing, so the last write to land is always checked. Whatever the
// document holds, the answer is the newest version found.
func (r *StaffRepo) settle(ctx context.Context, cur staffDoc) (staffDoc, error) {
	newest := cur
	for range 8 {
		var rev staffRevisionDoc
		for v := max(cur.Version, newest.Version) + 1; ; v++ {
			err := r.revisions.FindOne(ctx, bson.D{{Key: "_id", Value: revisionID(cur.ID, v)}}).Decode(&rev)
			if err == driver.ErrNoDocuments {
				break
			}
			if err != nil {
				return staffDoc{}, storeError(err, "staff revision")
			}
			newest = rev.Staff
		}
		newest.LastLogin, newest.Audit, newest.AuditPending = cur.LastLogin, cur.Audit, cur.AuditPending
		if cur.Version >= newest.Version {
			return cur, nil
		}
		_, err := r.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: cur.ID}, {Key: "version", Value: bson.D{{Key: "$lt", Value: newest.Version}}}},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: "name", Value: newest.DisplayName}, {Key: "roles", Value: newest.Roles}, {Key: "disabled", Value: newest.Disabled},
				{Key: "must_change_password", Value: newest.MustChangePassword}, {Key: "password_hash", Value: newest.PasswordHash},
				{Key: "updated", Value: newest.Updated}, {Key: "version", Value: newest.Version},
			}}})
		if err != nil {
			return newest, nil // the answer stands; the next reader or writer retries the write
		}
		if err := r.coll.FindOne(ctx, bson.D{{Key: "_id", Value: cur.ID}}).Decode(&cur); err != nil {
			return newest, nil
		}
	}
	return newest, nil
}

// SetLastLogin implements auth.AccountStore.
func (r *StaffRepo) SetLastLogin(ctx context.Context, id string, at time.Time) error {
	_, err := r.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "last_login", Value: ms(at)}}}})
	return storeError(err, "staff account")
}
