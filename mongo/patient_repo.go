package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/patient"
)

const (
	patientCollection = "patients"
	// patientRevisionCollection keeps every saved version of every patient,
	// keyed "id:version". Inserting the next version there is the atomic
	// step of a save; the current document follows it.
	patientRevisionCollection = "patient_revisions"
	// chartNumberCollection has one document per chart number claimed.
	chartNumberCollection = "chart_numbers"
)

// PatientRepo stores patients.
type PatientRepo struct {
	patients, revisions, numbers *driver.Collection
}

var _ patient.Store = (*PatientRepo)(nil)

// NewPatientRepo returns a PatientRepo on db.
func NewPatientRepo(db *DB) *PatientRepo {
	return &PatientRepo{patients: db.Database.Collection(patientCollection), revisions: db.Database.Collection(patientRevisionCollection),
		numbers: db.Database.Collection(chartNumberCollection)}
}

// PatientIndexes are the indexes PatientRepo needs. Searches are served from
// memory; the database is read by _id, or whole at start-up.
func PatientIndexes() []Index {
	return []Index{
		{Collection: patientCollection, Model: driver.IndexModel{Keys: bson.D{{Key: "chart_number", Value: 1}}, Options: options.Index().SetName("chart_number_unique").SetUnique(true)}},
		pendingIndex(patientRevisionCollection),
	}
}

type alertsDoc struct {
	Allergies   []string `bson:"allergies,omitempty"`
	Conditions  []string `bson:"conditions,omitempty"`
	Medications []string `bson:"medications,omitempty"`
}

type patientDoc struct {
	ID                 string    `bson:"_id"`
	ChartNumber        int64     `bson:"chart_number"`
	Name               string    `bson:"name"`
	Sex                int32     `bson:"sex"`
	BirthDate          string    `bson:"birth_date"`
	MobilePhone        string    `bson:"mobile_phone,omitempty"`
	Address            string    `bson:"address,omitempty"`
	Email              string    `bson:"email,omitempty"`
	Insurance          int32     `bson:"insurance"`
	Alerts             alertsDoc `bson:"alerts"`
	SMSConsent         bool      `bson:"sms_consent"`
	FirstVisitDate     string    `bson:"first_visit_date,omitempty"`
	Tags               []string  `bson:"tags,omitempty"`
	Memo               string    `bson:"memo,omitempty"`
	RRNKeyID           string    `bson:"rrn_kid,omitempty"`
	RRNSealed          []byte    `bson:"rrn_sealed,omitempty"`
	RRNMasked          string    `bson:"rrn_masked,omitempty"`
	Active             bool      `bson:"active"`
	DeactivationReason string    `bson:"deactivation_reason,omitempty"`
	Created            time.Time `bson:"created"`
	Updated            time.Time `bson:"updated"`
	Version            int64     `bson:"version"`
}

func patientDocOf(r patient.Record) patientDoc {
	d := r.Details
	a := d.GetAlerts()
	return patientDoc{
		ID: r.ID, ChartNumber: r.ChartNumber, Name: d.GetName(), Sex: int32(d.GetSex()), BirthDate: d.GetBirthDate(),
		MobilePhone: d.GetMobilePhone(), Address: d.GetAddress(), Email: d.GetEmail(), Insurance: int32(d.GetInsuranceType()),
		Alerts:     alertsDoc{Allergies: a.GetAllergies(), Conditions: a.GetConditions(), Medications: a.GetMedications()},
		SMSConsent: d.GetSmsConsent(), FirstVisitDate: d.GetFirstVisitDate(), Tags: d.GetTags(), Memo: d.GetMemo(),
		RRNKeyID: r.RRNKeyID, RRNSealed: r.RRNSealed, RRNMasked: r.RRNMasked, Active: r.Active, DeactivationReason: r.DeactivationReason,
		Created: ms(r.Created), Updated: ms(r.Updated), Version: r.Version,
	}
}

func (d patientDoc) record() patient.Record {
	return patient.Record{
		ID: d.ID, ChartNumber: d.ChartNumber, RRNKeyID: d.RRNKeyID, RRNSealed: d.RRNSealed, RRNMasked: d.RRNMasked,
		Active: d.Active, DeactivationReason: d.DeactivationReason, Created: d.Created, Updated: d.Updated, Version: d.Version,
		Details: &molarv1.PatientInput{
			Name: d.Name, Sex: molarv1.Sex(d.Sex), BirthDate: d.BirthDate, MobilePhone: d.MobilePhone, Address: d.Address,
			Email: d.Email, InsuranceType: molarv1.InsuranceType(d.Insurance), SmsConsent: d.SMSConsent, FirstVisitDate: d.FirstVisitDate,
			Tags: d.Tags, Memo: d.Memo,
			Alerts: &molarv1.MedicalAlerts{Allergies: d.Alerts.Allergies, Conditions: d.Alerts.Conditions, Medications: d.Alerts.Medications},
		},
	}
}

// MaxChartNumber implements patient.Store: the highest claim.
func (r *PatientRepo) MaxChartNumber(ctx context.Context) (int64, error) {
	c, err := r.topClaim(ctx)
	return c.N, err
}

// chartClaimDoc reserves a chart number for the registration of a patient:
// the insert that only one registration can win, made before the
// registration commits. A claim whose registration never committed (the
// process stopped between the two inserts) is freed by ReapClaims.
type chartClaimDoc struct {
	N         int64     `bson:"_id"`
	PatientID string    `bson:"patient_id"`
	At        time.Time `bson:"at"`
}

// topClaim returns the claim of the highest number; a zero claim if none.
func (r *PatientRepo) topClaim(ctx context.Context) (chartClaimDoc, error) {
	var c chartClaimDoc
	err := r.numbers.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&c)
	if err == driver.ErrNoDocuments {
		return chartClaimDoc{}, nil
	}
	return c, storeError(err, "chart number")
}

// Create implements patient.Store. It claims the number after the highest
// claimed (on a tie, the next one up); the commit point is then the insert
// of revision 1, which carries ev; the current document follows it.
func (r *PatientRepo) Create(ctx context.Context, rec patient.Record, ev audit.Event) (patient.Record, error) {
	n, err := r.MaxChartNumber(ctx)
	if err != nil {
		return patient.Record{}, err
	}
	for tries := 0; ; tries++ {
		n++
		_, err := r.numbers.InsertOne(ctx, chartClaimDoc{N: n, PatientID: rec.ID, At: ms(rec.Created)})
		if err == nil {
			break
		}
		if !driver.IsDuplicateKeyError(err) {
			return patient.Record{}, storeError(err, "chart number")
		}
		if tries == 1000 {
			return patient.Record{}, services.Errorf(services.Aborted, "could not find a free chart number; try again")
		}
	}
	rec.ChartNumber = n
	d := patientDocOf(rec)
	if _, err := r.revisions.InsertOne(ctx, revisionDocOf(d, ev)); err != nil {
		err = storeError(err, "patient")
		if services.ErrorCode(err) == services.AlreadyExists {
			// The id is taken: this registration will never commit.
			_, _ = r.numbers.DeleteOne(ctx, bson.D{{Key: "_id", Value: n}, {Key: "patient_id", Value: rec.ID}})
		}
		return patient.Record{}, err
	}
	// Committed. A current document not written here is rolled forward from
	// revision 1 by the next reader or writer.
	_, _ = r.patients.InsertOne(ctx, d)
	return d.record(), nil
}

// ChartClaimLease is how long a chart-number claim is kept for its
// registration to commit before ReapClaims may free it.
const ChartClaimLease = time.Hour

// ReapClaims frees the chart numbers claimed before before by
// registrations that never committed, from the highest claim down to the
// first that did, and reports how many it freed. Only those can be given
// again (numbers are given above the highest claim); a number below a
// committed one stays unused, a gap in the numbering.
func (r *PatientRepo) ReapClaims(ctx context.Context, before time.Time) (int, error) {
	freed := 0
	for {
		c, err := r.topClaim(ctx)
		if err != nil || c.N == 0 || !c.At.Before(before) {
			return freed, err
		}
		committed, err := r.registered(ctx, c.PatientID)
		if err != nil || committed {
			return freed, err
		}
		if _, err := r.numbers.DeleteOne(ctx, bson.D{{Key: "_id", Value: c.N}, {Key: "patient_id", Value: c.PatientID}}); err != nil {
			return freed, storeError(err, "chart number")
		}
		freed++
	}
}

// registered reports whether the registration of patient id committed: its
// current document or its first revision is there.
func (r *PatientRepo) registered(ctx context.Context, id string) (bool, error) {
	for _, q := range []struct {
		coll *driver.Collection
		key  string
	}{{r.patients, id}, {r.revisions, revisionID(id, 1)}} {
		err := q.coll.FindOne(ctx, bson.D{{Key: "_id", Value: q.key}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if err == nil {
			return true, nil
		}
		if err != driver.ErrNoDocuments {
			return false, storeError(err, "patient")
		}
	}
	return false, nil
}

// patientRevisionDoc is one saved version of a patient. Inserting it is the
// commit of that version: its _id ("id:version") lets only one writer have
// each version.
type patientRevisionDoc struct {
	ID           string           `bson:"_id"`
	Patient      patientDoc       `bson:"patient"`
	Audit        *carriedAuditDoc `bson:"audit,omitempty"`
	AuditPending bool             `bson:"audit_pending,omitempty"`
}

func revisionDocOf(d patientDoc, ev audit.Event) patientRevisionDoc {
	a, pending := carriedAudit(ev)
	return patientRevisionDoc{ID: revisionID(d.ID, d.Version), Patient: d, Audit: a, AuditPending: pending}
}

func revisionID(id string, v int64) string { return id + ":" + formatVersion(v) }

// Get implements patient.Store. The current document may lag behind its
// newest revision (a writer between its two steps, or a stale write that
// landed late on an engine whose conditional replace is not atomic), so the
// revisions after it are looked up too: Get never answers with a version
// older than one already committed.
func (r *PatientRepo) Get(ctx context.Context, id string) (patient.Record, error) {
	d, err := r.settle(ctx, id)
	if err != nil {
		return patient.Record{}, err
	}
	return d.record(), nil
}

// Save implements patient.Store. The insert of revision n+1 decides who
// wins; a loser changes nothing and gets Aborted. The current document then
// follows the newest revision, never moving back.
func (r *PatientRepo) Save(ctx context.Context, rec patient.Record, ev audit.Event) (patient.Record, error) {
	d := patientDocOf(rec)
	d.Version = rec.Version + 1
	if _, err := r.revisions.InsertOne(ctx, revisionDocOf(d, ev)); err != nil {
		if services.ErrorCode(storeError(err, "patient")) == services.AlreadyExists {
			_, _ = r.settle(ctx, rec.ID)
			return patient.Record{}, services.Errorf(services.Aborted, "the patient was changed by someone else; reload and try again")
		}
		return patient.Record{}, storeError(err, "patient")
	}
	// Committed: whatever happens to the current document now, this version
	// stands, and the next reader or writer rolls the current document forward.
	_, _ = r.settle(ctx, rec.ID)
	return d.record(), nil
}

// AuditProjected implements patient.Store. The mark stays until the
// current document has caught up with the version too, so that recovery
// also finishes a save whose last step failed.
func (r *PatientRepo) AuditProjected(ctx context.Context, id string, version int64) error {
	var cur patientDoc
	if err := r.patients.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur); err != nil || cur.Version < version {
		if _, err := r.settle(ctx, id); err != nil {
			return err
		}
		if err := r.patients.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur); err != nil {
			return storeError(err, "patient")
		}
		if cur.Version < version {
			return services.Errorf(services.Unavailable, "patient %s not yet at version %d", id, version)
		}
	}
	return clearPending(ctx, r.revisions, revisionID(id, version))
}

// ReprojectAudit projects the audit events of every revision still marked
// pending (the process stopped between commit and projection), after rolling
// the patient's current document forward to its newest revision.
func (r *PatientRepo) ReprojectAudit(ctx context.Context, project func(audit.Event) error) error {
	return reprojectPending(ctx, r.revisions, project, func(p pendingDoc) error {
		var rev patientRevisionDoc
		if err := bson.Unmarshal(p.Raw, &rev); err != nil {
			return storeError(err, "patient revision")
		}
		_, err := r.settle(ctx, rev.Patient.ID)
		return err
	})
}

// settle makes the current document of id its newest revision and returns
// that revision. Writes to the current document are conditional on its
// version, which the embedded engine does not apply atomically: a stale
// write may land after a newer one. So settle reads again after writing and
// repeats until the current document shows the newest revision; every writer
// settles after writing, so the last write to land is always checked.
// Whatever the current document holds, settle answers with the newest
// revision it found. NotFound if the patient has no revision.
func (r *PatientRepo) settle(ctx context.Context, id string) (patientDoc, error) {
	var newest *patientDoc // the newest revision found so far
	for range 8 {
		var cur patientDoc
		err := r.patients.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur)
		if err != nil && err != driver.ErrNoDocuments {
			return patientDoc{}, storeError(err, "patient")
		}
		exists := err == nil
		from := cur.Version
		if newest != nil {
			from = max(from, newest.Version)
		}
		ahead, err := r.revisionsAfter(ctx, id, from)
		if err != nil {
			return patientDoc{}, err
		}
		if ahead != nil {
			newest = ahead
		}
		switch {
		case newest == nil && exists:
			return cur, nil
		case newest == nil:
			return patientDoc{}, services.Errorf(services.NotFound, "patient not found")
		case exists && cur.Version >= newest.Version:
			return cur, nil
		}
		if !exists {
			_, err = r.patients.InsertOne(ctx, *newest)
		} else {
			_, err = r.patients.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "version", Value: bson.D{{Key: "$lt", Value: newest.Version}}}}, *newest)
		}
		if err != nil && !driver.IsDuplicateKeyError(err) {
			return *newest, nil // the answer stands; the next reader or writer retries the write
		}
	}
	return *newest, nil
}

// revisionsAfter returns the newest revision of id after version v, nil if
// there is none. Versions are consecutive, so it looks them up one by one.
func (r *PatientRepo) revisionsAfter(ctx context.Context, id string, v int64) (*patientDoc, error) {
	var latest *patientDoc
	for v++; ; v++ {
		var rev patientRevisionDoc
		err := r.revisions.FindOne(ctx, bson.D{{Key: "_id", Value: revisionID(id, v)}}).Decode(&rev)
		if err == driver.ErrNoDocuments {
			return latest, nil
		}
		if err != nil {
			return nil, storeError(err, "patient revision")
		}
		latest = &rev.Patient
	}
}

// All implements patient.Store.
func (r *PatientRepo) All(ctx context.Context) ([]patient.Record, error) {
	return findAll(ctx, r.patients, bson.D{}, "patients", patientDoc.record)
}

// formatVersion pads versions so that revision ids sort by version.
func formatVersion(v int64) string {
	const digits = "0123456789"
	b := []byte("0000000000")
	for i := len(b) - 1; i >= 0 && v > 0; i-- {
		b[i] = digits[v%10]
		v /= 10
	}
	return string(b)
}

// InsertMany stores new patients in bulk, with their first revisions and
// chart numbers.
func (r *PatientRepo) InsertMany(ctx context.Context, recs []patient.Record) error {
	const batch = 500
	for start := 0; start < len(recs); start += batch {
		end := min(start+batch, len(recs))
		var docs, revs, nums []any
		for _, rec := range recs[start:end] {
			d := patientDocOf(rec)
			docs = append(docs, d)
			revs = append(revs, revisionDocOf(d, audit.Event{}))
			nums = append(nums, bson.D{{Key: "_id", Value: rec.ChartNumber}, {Key: "patient_id", Value: rec.ID}})
		}
		for coll, batch := range map[*driver.Collection][]any{r.numbers: nums, r.revisions: revs, r.patients: docs} {
			if _, err := coll.InsertMany(ctx, batch); err != nil {
				return storeError(err, "patients")
			}
		}
	}
	return nil
}
