package sqlite

import (
	"context"
	"database/sql"
	"math"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/clinic"
)

// ClinicStore keeps the clinic profile as its list of revisions, keyed by
// version. Saving is one transaction: the revision row (its key, the next
// version, is the commit point) and the change's audit record. The profile
// is the newest revision; earlier ones stay as history. Nothing is ever
// pending.
type ClinicStore struct {
	db *DB
}

var _ clinic.Store = (*ClinicStore)(nil)

// NewClinicStore returns the clinic store of db.
func NewClinicStore(db *DB) *ClinicStore { return &ClinicStore{db: db} }

// The profile is stored as JSON with the schema's field names, like
// invoices.
var (
	clinicJSON   = protojson.MarshalOptions{UseProtoNames: true}
	clinicUnJSON = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// Get implements clinic.Store.
func (s *ClinicStore) Get(ctx context.Context) (*molarv1.Clinic, error) {
	var version int64
	var doc string
	if err := s.db.sql.QueryRowContext(ctx, `SELECT version, doc FROM clinic_revisions ORDER BY version DESC LIMIT 1`).Scan(&version, &doc); err != nil {
		return nil, storeError(err, "clinic")
	}
	c := &molarv1.Clinic{}
	if err := clinicUnJSON.Unmarshal([]byte(doc), c); err != nil {
		return nil, err
	}
	c.Version = version
	return c, nil
}

// Save implements clinic.Store in one transaction: Aborted unless the
// newest revision is c.Version, then the revision c.Version+1 and ev.
func (s *ClinicStore) Save(ctx context.Context, c *molarv1.Clinic, ev audit.Event) (*molarv1.Clinic, error) {
	saved := proto.CloneOf(c)
	saved.Version = c.GetVersion() + 1
	doc, err := clinicJSON.Marshal(saved)
	if err != nil {
		return nil, err
	}
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		var newest int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM clinic_revisions`).Scan(&newest); err != nil {
			return storeError(err, "clinic")
		}
		if newest != c.GetVersion() || newest == math.MaxInt64 {
			return errClinicChanged
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO clinic_revisions (version, at, doc, audit_id) VALUES (?, ?, ?, ?)`,
			saved.Version, saved.GetUpdateTime().AsTime().UnixMilli(), string(doc), ev.ID)
		if services.ErrorCode(storeError(err, "clinic")) == services.AlreadyExists {
			return errClinicChanged
		}
		if err != nil {
			return storeError(err, "clinic")
		}
		return appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	return saved, nil
}

var errClinicChanged = services.Errorf(services.Aborted, "the clinic profile was changed by someone else; reload and try again")

// AuditProjected implements clinic.Store: a no-op, as the event went into
// the trail with the revision.
func (s *ClinicStore) AuditProjected(context.Context, int64) error { return nil }

// ReprojectAudit is the recovery pass of the MongoDB repository: a no-op
// here, as no revision is ever committed without its event.
func (s *ClinicStore) ReprojectAudit(context.Context, func(audit.Event) error) error { return nil }
