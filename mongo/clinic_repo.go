package mongo

import (
	"context"
	"errors"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/clinic"
)

// clinicCollection holds one document per saved version of the profile,
// keyed by the version number.
const clinicCollection = "clinic_revisions"

// ClinicRepo stores the clinic profile as an append-only list of revisions,
// _id being the version. Saving version n+1 is one insert that the unique _id
// lets only one writer win; this is atomic on every engine, whereas a
// conditional replace is not on the embedded one (it reads, then writes). The
// current profile is the highest revision, and earlier ones stay as history.
type ClinicRepo struct {
	coll *driver.Collection
}

var _ clinic.Store = (*ClinicRepo)(nil)

// NewClinicRepo returns a ClinicRepo on db.
func NewClinicRepo(db *DB) *ClinicRepo {
	return &ClinicRepo{coll: db.Database.Collection(clinicCollection)}
}

// ClinicIndexes are the indexes ClinicRepo needs beyond _id: the one
// recovery finds pending revisions with.
func ClinicIndexes() []Index { return []Index{pendingIndex(clinicCollection)} }

type clinicDoc struct {
	Version                    int64            `bson:"_id"`
	Name                       string           `bson:"name"`
	Address                    string           `bson:"address,omitempty"`
	Phone                      string           `bson:"phone"`
	BusinessRegistrationNumber string           `bson:"brn,omitempty"`
	TimeZone                   string           `bson:"tz"`
	OpeningHours               []openingHourDoc `bson:"hours"`
	ClosedDays                 []closedDayDoc   `bson:"closed"`
	UpdateTime                 time.Time        `bson:"updated"`
	CopayPercent               *int32           `bson:"copay_percent,omitempty"`
	Audit                      *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending               bool             `bson:"audit_pending,omitempty"`
}

type openingHourDoc struct {
	Weekday    int32  `bson:"day"`
	Open       string `bson:"open"`
	Close      string `bson:"close"`
	LunchStart string `bson:"lunch_start,omitempty"`
	LunchEnd   string `bson:"lunch_end,omitempty"`
}

type closedDayDoc struct {
	Date   string `bson:"date"`
	Reason string `bson:"reason,omitempty"`
}

// Get implements clinic.Store.
func (r *ClinicRepo) Get(ctx context.Context) (*molarv1.Clinic, error) {
	var d clinicDoc
	latest := options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})
	if err := r.coll.FindOne(ctx, bson.D{}, latest).Decode(&d); err != nil {
		return nil, storeError(err, "clinic")
	}
	return d.proto(), nil
}

// Save implements clinic.Store. The insert of the revision is the commit,
// and it carries ev. It is made only from the newest revision: the unique
// _id alone would let a version below a gap (or a negative or future one)
// insert a revision that is not the newest, a lost update answered ok. So
// the versions stay 1, 2, 3...: an insert of n+1 follows a read that saw n
// as the newest, and should another writer have gone on since, n+1 exists
// already and the insert fails.
func (r *ClinicRepo) Save(ctx context.Context, c *molarv1.Clinic, ev audit.Event) (*molarv1.Clinic, error) {
	newest, err := r.newest(ctx)
	if err != nil {
		return nil, err
	}
	if newest != c.GetVersion() || newest == math.MaxInt64 {
		return nil, errClinicChanged
	}
	d := clinicDocOf(c)
	d.Version = newest + 1
	d.Audit, d.AuditPending = carriedAudit(ev)
	_, err = r.coll.InsertOne(ctx, d)
	if services.ErrorCode(storeError(err, "clinic")) == services.AlreadyExists {
		return nil, errClinicChanged
	}
	if err != nil {
		return nil, storeError(err, "clinic")
	}
	return d.proto(), nil
}

// newest returns the version of the newest revision, 0 if there is none.
func (r *ClinicRepo) newest(ctx context.Context) (int64, error) {
	var d struct {
		Version int64 `bson:"_id"`
	}
	latest := options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.D{{Key: "_id", Value: 1}})
	err := r.coll.FindOne(ctx, bson.D{}, latest).Decode(&d)
	if errors.Is(err, driver.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, storeError(err, "clinic")
	}
	return d.Version, nil
}

var errClinicChanged = services.Errorf(services.Aborted, "the clinic profile was changed by someone else; reload and try again")

// AuditProjected implements clinic.Store.
func (r *ClinicRepo) AuditProjected(ctx context.Context, version int64) error {
	return clearPending(ctx, r.coll, version)
}

// ReprojectAudit projects the audit events of every revision still marked
// pending (the process stopped between commit and projection). Nothing else
// derives from a revision.
func (r *ClinicRepo) ReprojectAudit(ctx context.Context, project func(audit.Event) error) error {
	return reprojectPending(ctx, r.coll, project, nil)
}

func clinicDocOf(c *molarv1.Clinic) clinicDoc {
	d := clinicDoc{
		Name:                       c.GetName(),
		Address:                    c.GetAddress(),
		Phone:                      c.GetPhone(),
		BusinessRegistrationNumber: c.GetBusinessRegistrationNumber(),
		TimeZone:                   c.GetTimeZone(),
		OpeningHours:               []openingHourDoc{},
		ClosedDays:                 []closedDayDoc{},
		UpdateTime:                 c.GetUpdateTime().AsTime().UTC().Truncate(time.Millisecond),
		CopayPercent:               c.CopayPercent,
	}
	for _, h := range c.GetOpeningHours() {
		d.OpeningHours = append(d.OpeningHours, openingHourDoc{
			Weekday: int32(h.GetWeekday()), Open: h.GetOpenTime(), Close: h.GetCloseTime(),
			LunchStart: h.GetLunchStart(), LunchEnd: h.GetLunchEnd(),
		})
	}
	for _, cd := range c.GetClosedDays() {
		d.ClosedDays = append(d.ClosedDays, closedDayDoc{Date: cd.GetDate(), Reason: cd.GetReason()})
	}
	return d
}

func (d clinicDoc) proto() *molarv1.Clinic {
	c := &molarv1.Clinic{
		Name:                       d.Name,
		Address:                    d.Address,
		Phone:                      d.Phone,
		BusinessRegistrationNumber: d.BusinessRegistrationNumber,
		TimeZone:                   d.TimeZone,
		Version:                    d.Version,
		UpdateTime:                 timestamppb.New(d.UpdateTime),
		CopayPercent:               d.CopayPercent,
	}
	for _, h := range d.OpeningHours {
		c.OpeningHours = append(c.OpeningHours, &molarv1.OpeningHours{
			Weekday: molarv1.Weekday(h.Weekday), OpenTime: h.Open, CloseTime: h.Close,
			LunchStart: h.LunchStart, LunchEnd: h.LunchEnd,
		})
	}
	for _, cd := range d.ClosedDays {
		c.ClosedDays = append(c.ClosedDays, &molarv1.ClosedDay{Date: cd.Date, Reason: cd.Reason})
	}
	return c
}
