package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/auth"
)

const staffCollection = "staff"

// StaffRepo stores staff accounts, one document each. The email is unique
// by index, which makes account creation atomic. Updates are guarded by the
// version in the filter: atomic on MongoDB; on the embedded engine a race of
// two admins saving the same account within milliseconds lets the later
// write win (accounts change rarely and only by admins).
type StaffRepo struct {
	coll *driver.Collection
}

var _ auth.AccountStore = (*StaffRepo)(nil)

// NewStaffRepo returns a StaffRepo on db.
func NewStaffRepo(db *DB) *StaffRepo {
	return &StaffRepo{coll: db.Database.Collection(staffCollection)}
}

// StaffIndexes are the indexes StaffRepo needs.
func StaffIndexes() []Index {
	return []Index{{Collection: staffCollection, Model: driver.IndexModel{
		Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetName("email_unique").SetUnique(true)}}}
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

// Create implements auth.AccountStore.
func (r *StaffRepo) Create(ctx context.Context, a auth.Account) error {
	_, err := r.coll.InsertOne(ctx, staffDocOf(a))
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
	return d.account(), nil
}

// List implements auth.AccountStore.
func (r *StaffRepo) List(ctx context.Context) ([]auth.Account, error) {
	return findAll(ctx, r.coll, bson.D{}, "staff accounts", staffDoc.account)
}

// Update implements auth.AccountStore.
func (r *StaffRepo) Update(ctx context.Context, a auth.Account) (auth.Account, error) {
	d := staffDocOf(a)
	d.Version = a.Version + 1
	res, err := r.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: a.ID}, {Key: "version", Value: a.Version}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "name", Value: d.DisplayName}, {Key: "roles", Value: d.Roles}, {Key: "disabled", Value: d.Disabled},
		{Key: "must_change_password", Value: d.MustChangePassword}, {Key: "password_hash", Value: d.PasswordHash},
		{Key: "updated", Value: d.Updated}, {Key: "version", Value: d.Version},
	}}})
	if err != nil {
		return auth.Account{}, storeError(err, "staff account")
	}
	if res.MatchedCount == 0 {
		if _, err := r.Get(ctx, a.ID); err != nil {
			return auth.Account{}, err
		}
		return auth.Account{}, services.Errorf(services.Aborted, "the account was changed by someone else; reload and try again")
	}
	return r.Get(ctx, a.ID)
}

// SetLastLogin implements auth.AccountStore.
func (r *StaffRepo) SetLastLogin(ctx context.Context, id string, at time.Time) error {
	_, err := r.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "last_login", Value: ms(at)}}}})
	return storeError(err, "staff account")
}
