package mongo

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/schedule"
)

// The book's collections. Every query has an index (ScheduleIndexes), and
// the number of collections does not grow with time.
const (
	// slotCollection holds one document per claimed cell, keyed by column
	// and minute, and the marks of releases under way.
	slotCollection = "slots"
	// appointmentCollection holds the newest copy of every appointment.
	appointmentCollection = "appointments"
	// blockoutCollection holds the newest copy of every blockout, removed
	// ones marked deleted.
	blockoutCollection = "blockouts"
	// scheduleEventCollection is the log: one document per revision, pruned
	// to the last few thousand.
	scheduleEventCollection = "schedule_events"
	// scheduleMarkCollection keeps how far the log's audit records are
	// known to be on the trail.
	scheduleMarkCollection    = "schedule_marks"
	providerCollection        = "providers"
	chairCollection           = "chairs"
	appointmentTypeCollection = "appointment_types"
)

// ScheduleRepo stores the appointment book.
type ScheduleRepo struct {
	db                           *driver.Database
	slots, appts, blocks, events *driver.Collection
}

var _ schedule.Store = (*ScheduleRepo)(nil)

// NewScheduleRepo returns a ScheduleRepo on db.
func NewScheduleRepo(db *DB) *ScheduleRepo {
	d := db.Database
	return &ScheduleRepo{db: d, slots: d.Collection(slotCollection), appts: d.Collection(appointmentCollection),
		blocks: d.Collection(blockoutCollection), events: d.Collection(scheduleEventCollection)}
}

// ScheduleIndexes are the indexes ScheduleRepo's queries need.
func ScheduleIndexes() []Index {
	ix := ascendingIndex
	return []Index{
		// The book of a range of days (the window a process holds, a day
		// view of long ago), a column's or a patient's appointments.
		ix(appointmentCollection, "start", "start"),
		ix(appointmentCollection, "provider_start", "provider_id", "start"),
		ix(appointmentCollection, "chair_start", "chair_id", "start"),
		ix(appointmentCollection, "patient_start", "patient_id", "start"),
		ix(blockoutCollection, "start", "start"),
		// The cells of the days from yesterday on (the reaper), and the
		// releases a stopped process left unfinished.
		ix(slotCollection, "day", "day"),
		ix(slotCollection, "release_at", "release", "at"),
		pendingIndex(providerCollection), pendingIndex(chairCollection), pendingIndex(appointmentTypeCollection),
	}
}

// slotDoc is one claimed cell, keyed by column and minute: inserting it is
// the atomic step of a claim. It names the claim (owner, operation, version,
// when) and repeats the cell's fields, so nothing reads the key back.
type slotDoc struct {
	Key      string    `bson:"_id"`
	Day      string    `bson:"day"`
	Kind     int32     `bson:"kind,omitempty"`
	Resource string    `bson:"resource,omitempty"`
	Minute   int64     `bson:"minute,omitempty"`
	Owner    string    `bson:"owner"`
	Op       string    `bson:"op,omitempty"`
	Version  int64     `bson:"version,omitempty"`
	At       time.Time `bson:"at"`
}

// releaseDoc marks a claim being released. Inserting it gives the one right
// to delete that claim: a delete with a filter is not atomic on the
// embedded engine (it reads, then deletes by _id), so two deleters of one
// claim could delete a third party's fresh claim of the same cell.
type releaseDoc struct {
	ID      string    `bson:"_id"`
	Day     string    `bson:"day"`
	Release bool      `bson:"release"`
	Cell    string    `bson:"cell"`
	Owner   string    `bson:"owner"`
	Op      string    `bson:"op"`
	At      time.Time `bson:"at"`
}

const releasePrefix = "x|"

// slotKey is a cell's _id: its column and minute.
func slotKey(s schedule.Slot) string {
	kind := "c"
	if s.Kind == molarv1.ResourceKind_RESOURCE_KIND_PROVIDER {
		kind = "p"
	}
	return kind + "|" + s.Resource + "|" + strconv.FormatInt(s.Minute, 10)
}

func newSlotDoc(s schedule.Slot, c schedule.Claim) slotDoc {
	return slotDoc{Key: slotKey(s), Day: s.Day, Kind: int32(s.Kind), Resource: s.Resource, Minute: s.Minute, Owner: c.Owner, Op: c.Op, Version: c.Version, At: ms(c.At)}
}

func (d slotDoc) claim() schedule.Claim {
	return schedule.Claim{Owner: d.Owner, Op: d.Op, Version: d.Version, At: d.At}
}

// ClaimSlots implements schedule.Store.
func (r *ScheduleRepo) ClaimSlots(ctx context.Context, c schedule.Claim, slots []schedule.Slot, judge func(schedule.Holding) schedule.Hold) error {
	var taken []schedule.Slot
	giveBack := func() {
		_ = r.ReleaseSlots(context.WithoutCancel(ctx), schedule.Release{Owner: c.Owner, Op: c.Op, At: c.At}, taken)
	}
	for _, s := range slots {
		for attempt := 0; ; attempt++ {
			_, err := r.slots.InsertOne(ctx, newSlotDoc(s, c))
			if err == nil {
				taken = append(taken, s)
				break
			}
			if !driver.IsDuplicateKeyError(err) {
				giveBack()
				return storeError(err, "slot")
			}
			var held slotDoc
			err = r.slots.FindOne(ctx, bson.D{{Key: "_id", Value: slotKey(s)}}).Decode(&held)
			if err == driver.ErrNoDocuments && attempt < 3 {
				continue // given up meanwhile
			}
			if err != nil {
				giveBack()
				return storeError(err, "slot")
			}
			h := schedule.Holding{Slot: s, Claim: held.claim()}
			verdict := judge(h)
			if verdict == schedule.HeldByMe {
				break
			}
			if verdict == schedule.HeldByNobody && attempt < 3 {
				if err := r.releaseClaim(ctx, held, c.At); err != nil {
					giveBack()
					return err
				}
				continue
			}
			giveBack()
			return &schedule.ConflictError{Slot: s, Holder: h.Claim}
		}
	}
	return nil
}

// releaseClaim deletes one claim of a cell, if this caller wins the right
// to; someone else releasing the same claim is left to finish.
func (r *ScheduleRepo) releaseClaim(ctx context.Context, d slotDoc, at time.Time) error {
	_, err := r.slots.InsertOne(ctx, releaseDoc{ID: releasePrefix + d.Key + "|" + d.Owner + "|" + d.Op, Day: d.Day, Release: true, Cell: d.Key,
		Owner: d.Owner, Op: d.Op, At: ms(at)})
	if driver.IsDuplicateKeyError(err) {
		return nil
	}
	if err != nil {
		return storeError(err, "slot release")
	}
	_, err = r.slots.DeleteOne(ctx, claimFilter(d.Key, d.Owner, d.Op))
	return storeError(err, "slot")
}

// claimFilter selects one claim of a cell; claims from before operations
// were recorded have none.
func claimFilter(key, owner, op string) bson.D {
	var opv any = op
	if op == "" {
		opv = bson.D{{Key: "$exists", Value: false}}
	}
	return bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: owner}, {Key: "op", Value: opv}}
}

// ReleaseSlots implements schedule.Store.
func (r *ScheduleRepo) ReleaseSlots(ctx context.Context, rel schedule.Release, slots []schedule.Slot) error {
	if len(slots) == 0 {
		return nil
	}
	keys := make([]string, len(slots))
	for i, s := range slots {
		keys[i] = slotKey(s)
	}
	held, err := findAll(ctx, r.slots, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}, {Key: "owner", Value: rel.Owner}}, "slots",
		func(d slotDoc) slotDoc { return d })
	if err != nil {
		return err
	}
	for _, d := range held {
		if (rel.Op != "" && d.Op != rel.Op) || (rel.UpTo > 0 && d.Version > rel.UpTo) {
			continue
		}
		if err := r.releaseClaim(ctx, d, rel.At); err != nil {
			return err
		}
	}
	return nil
}

// Holdings implements schedule.Store.
func (r *ScheduleRepo) Holdings(ctx context.Context, fromDay string) ([]schedule.Holding, error) {
	docs, err := findAll(ctx, r.slots, bson.D{{Key: "day", Value: bson.D{{Key: "$gte", Value: fromDay}}}}, "slots", func(d slotDoc) slotDoc { return d })
	if err != nil {
		return nil, err
	}
	var out []schedule.Holding
	for _, d := range docs {
		if d.Kind == 0 || strings.HasPrefix(d.Key, releasePrefix) {
			continue // a release mark, or a cell claimed before cells named their fields
		}
		out = append(out, schedule.Holding{Slot: schedule.Slot{Day: d.Day, Kind: molarv1.ResourceKind(d.Kind), Resource: d.Resource, Minute: d.Minute}, Claim: d.claim()})
	}
	return out, nil
}

// SweepReleases implements schedule.Store.
func (r *ScheduleRepo) SweepReleases(ctx context.Context, before time.Time) error {
	docs, err := findAll(ctx, r.slots, bson.D{{Key: "release", Value: true}, {Key: "at", Value: bson.D{{Key: "$lt", Value: ms(before)}}}}, "slot releases",
		func(d releaseDoc) releaseDoc { return d })
	if err != nil {
		return err
	}
	for _, d := range docs {
		// Its releaser had the whole lease to finish, and did not.
		if _, err := r.slots.DeleteOne(ctx, claimFilter(d.Cell, d.Owner, d.Op)); err != nil {
			return storeError(err, "slot")
		}
		if _, err := r.slots.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}}); err != nil {
			return storeError(err, "slot release")
		}
	}
	return nil
}

// scheduleEventDoc is one revision of the log: the appointment or blockout
// as that change left it, and the change's audit record.
type scheduleEventDoc struct {
	Revision    int64            `bson:"_id"`
	At          time.Time        `bson:"at"`
	Appointment *appointmentDoc  `bson:"appointment,omitempty"`
	Blockout    *blockoutDoc     `bson:"blockout,omitempty"`
	Op          string           `bson:"op,omitempty"`
	Audit       *carriedAuditDoc `bson:"audit,omitempty"`
}

// scheduleEventRead reads an event of either layout: the one above, or the
// earlier one whose appointment and blockout were protobuf bytes.
type scheduleEventRead struct {
	Revision    int64            `bson:"_id"`
	Appointment bson.RawValue    `bson:"appointment,omitempty"`
	Blockout    bson.RawValue    `bson:"blockout,omitempty"`
	Op          string           `bson:"op,omitempty"`
	Audit       *carriedAuditDoc `bson:"audit,omitempty"`
}

// AppendEvent implements schedule.Store.
func (r *ScheduleRepo) AppendEvent(ctx context.Context, e schedule.Event) error {
	d := scheduleEventDoc{Revision: e.Revision, At: ms(time.Now()), Op: e.Op}
	d.Audit, _ = carriedAudit(e.Audit)
	if e.Appointment != nil {
		a := toAppointmentDoc(e.Appointment)
		d.Appointment = &a
	}
	if e.Blockout != nil {
		b := toBlockoutDoc(e.Blockout)
		d.Blockout = &b
	}
	_, err := r.events.InsertOne(ctx, d)
	return storeError(err, "schedule event")
}

func (d scheduleEventRead) event() (schedule.Event, error) {
	e := schedule.Event{Revision: d.Revision, Op: d.Op, Audit: d.Audit.event()}
	var err error
	if e.Appointment, err = readStored(d.Appointment, &molarv1.Appointment{}, appointmentDoc.appointment); err != nil {
		return e, err
	}
	e.Blockout, err = readStored(d.Blockout, &molarv1.Blockout{}, blockoutDoc.blockout)
	return e, err
}

// readStored reads a value stored as a document, or as the protobuf bytes
// of the earlier layout; nil if there is none.
func readStored[D any, M proto.Message](v bson.RawValue, legacy M, convert func(D) M) (M, error) {
	var zero M
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		var d D
		if err := v.Unmarshal(&d); err != nil {
			return zero, err
		}
		return convert(d), nil
	case bson.TypeBinary:
		_, data := v.Binary()
		if err := proto.Unmarshal(data, legacy); err != nil {
			return zero, err
		}
		return legacy, nil
	}
	return zero, nil
}

// Event implements schedule.Store.
func (r *ScheduleRepo) Event(ctx context.Context, revision int64) (schedule.Event, error) {
	var d scheduleEventRead
	if err := r.events.FindOne(ctx, bson.D{{Key: "_id", Value: revision}}).Decode(&d); err != nil {
		return schedule.Event{}, storeError(err, "schedule event")
	}
	return d.event()
}

func (r *ScheduleRepo) edgeRevision(ctx context.Context, dir int) (int64, error) {
	var d struct {
		Revision int64 `bson:"_id"`
	}
	err := r.events.FindOne(ctx, bson.D{},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: dir}}).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&d)
	if err == driver.ErrNoDocuments {
		return 0, nil
	}
	return d.Revision, storeError(err, "schedule events")
}

// LastRevision implements schedule.Store.
func (r *ScheduleRepo) LastRevision(ctx context.Context) (int64, error) {
	return r.edgeRevision(ctx, -1)
}

// OldestRevision implements schedule.Store.
func (r *ScheduleRepo) OldestRevision(ctx context.Context) (int64, error) {
	return r.edgeRevision(ctx, 1)
}

type markDoc struct {
	ID       string `bson:"_id"`
	Revision int64  `bson:"revision"`
}

// AuditMark implements schedule.Store.
func (r *ScheduleRepo) AuditMark(ctx context.Context) (int64, error) {
	var d markDoc
	err := r.db.Collection(scheduleMarkCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "audit"}}).Decode(&d)
	if err == driver.ErrNoDocuments {
		return 0, nil
	}
	return d.Revision, storeError(err, "audit mark")
}

// SetAuditMark implements schedule.Store. A mark lower than the stored one
// changes nothing.
func (r *ScheduleRepo) SetAuditMark(ctx context.Context, rev int64) error {
	_, err := r.db.Collection(scheduleMarkCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: "audit"}, {Key: "revision", Value: bson.D{{Key: "$lt", Value: rev}}}},
		markDoc{ID: "audit", Revision: rev}, options.Replace().SetUpsert(true))
	if driver.IsDuplicateKeyError(err) {
		return nil // a higher mark is there
	}
	return storeError(err, "audit mark")
}

// PruneEvents implements schedule.Store.
func (r *ScheduleRepo) PruneEvents(ctx context.Context, below int64) error {
	_, err := r.events.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: below}}}})
	return storeError(err, "schedule events")
}

// SaveAppointment implements schedule.Store. It never overwrites a newer
// copy with an older one.
func (r *ScheduleRepo) SaveAppointment(ctx context.Context, a *molarv1.Appointment) error {
	return saveCopy(ctx, r.appts, a.GetId(), a.GetRevision(), toAppointmentDoc(a))
}

// SaveBlockout implements schedule.Store.
func (r *ScheduleRepo) SaveBlockout(ctx context.Context, b *molarv1.Blockout) error {
	return saveCopy(ctx, r.blocks, b.GetId(), b.GetRevision(), toBlockoutDoc(b))
}

// saveCopy replaces a copy unless the stored one is as new or newer.
func saveCopy(ctx context.Context, coll *driver.Collection, id string, rev int64, doc any) error {
	_, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revision", Value: bson.D{{Key: "$lt", Value: rev}}}},
		doc, options.Replace().SetUpsert(true))
	if driver.IsDuplicateKeyError(err) {
		return nil // a newer copy is there
	}
	return storeError(err, "schedule copy")
}

// SaveAppointments stores many appointments at once (demo data, imports).
func (r *ScheduleRepo) SaveAppointments(ctx context.Context, as []*molarv1.Appointment) error {
	docs := make([]any, len(as))
	for i, a := range as {
		docs[i] = toAppointmentDoc(a)
	}
	return insertBatches(ctx, r.appts, docs, "appointments")
}

// insertBatches inserts documents a thousand at a time.
func insertBatches(ctx context.Context, coll *driver.Collection, docs []any, what string) error {
	for start := 0; start < len(docs); start += 1000 {
		if _, err := coll.InsertMany(ctx, docs[start:min(start+1000, len(docs))]); err != nil {
			return storeError(err, what)
		}
	}
	return nil
}

// startFilter selects documents starting in [from, to), either end open if
// zero.
func startFilter(from, to time.Time) bson.D {
	var within bson.D
	if !from.IsZero() {
		within = append(within, bson.E{Key: "$gte", Value: ms(from)})
	}
	if !to.IsZero() {
		within = append(within, bson.E{Key: "$lt", Value: ms(to)})
	}
	if len(within) == 0 {
		return bson.D{}
	}
	return bson.D{{Key: "start", Value: within}}
}

// byStart orders a query by start, then id.
var byStart = options.Find().SetSort(bson.D{{Key: "start", Value: 1}, {Key: "_id", Value: 1}})

// Range implements schedule.Store.
func (r *ScheduleRepo) Range(ctx context.Context, from, to time.Time) ([]*molarv1.Appointment, []*molarv1.Blockout, error) {
	as, err := findAll(ctx, r.appts, startFilter(from, to), "appointments", appointmentDoc.appointment, byStart)
	if err != nil {
		return nil, nil, err
	}
	live := append(startFilter(from, to), bson.E{Key: "deleted", Value: bson.D{{Key: "$ne", Value: true}}})
	bs, err := findAll(ctx, r.blocks, live, "blockouts", blockoutDoc.blockout, byStart)
	return as, bs, err
}

// Appointment implements schedule.Store.
func (r *ScheduleRepo) Appointment(ctx context.Context, id string) (*molarv1.Appointment, error) {
	var d appointmentDoc
	if err := r.appts.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return nil, storeError(err, "appointment")
	}
	return d.appointment(), nil
}

// Blockout implements schedule.Store.
func (r *ScheduleRepo) Blockout(ctx context.Context, id string) (*molarv1.Blockout, error) {
	var d blockoutDoc
	if err := r.blocks.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return nil, storeError(err, "blockout")
	}
	return d.blockout(), nil
}

// PatientAppointments implements schedule.Store.
func (r *ScheduleRepo) PatientAppointments(ctx context.Context, patientID string) ([]*molarv1.Appointment, error) {
	return findAll(ctx, r.appts, bson.D{{Key: "patient_id", Value: patientID}}, "appointments", appointmentDoc.appointment, byStart)
}

// Resources implements schedule.Store.
func (r *ScheduleRepo) Resources(ctx context.Context) ([]*molarv1.Provider, []*molarv1.Chair, []*molarv1.AppointmentType, error) {
	byID := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	ps, err := findAll(ctx, r.db.Collection(providerCollection), bson.D{}, "providers", providerDoc.provider, byID)
	if err != nil {
		return nil, nil, nil, err
	}
	cs, err := findAll(ctx, r.db.Collection(chairCollection), bson.D{}, "chairs", chairDoc.chair, byID)
	if err != nil {
		return nil, nil, nil, err
	}
	ts, err := findAll(ctx, r.db.Collection(appointmentTypeCollection), bson.D{}, "appointment types", appointmentTypeDoc.appointmentType, byID)
	return ps, cs, ts, err
}

// resourceCollections hold the book's resources.
var resourceCollections = []string{providerCollection, chairCollection, appointmentTypeCollection}

// withAudit is a resource's document carrying the audit record of the
// change that wrote it, pending until projected.
type withAudit[D any] struct {
	Doc     D                `bson:",inline"`
	Audit   *carriedAuditDoc `bson:"audit,omitempty"`
	Pending bool             `bson:"audit_pending,omitempty"`
}

// saveResource replaces a resource's document together with the change's
// audit record: the one write commits both.
func saveResource[D any](ctx context.Context, db *driver.Database, coll, id string, doc D, rec audit.Event) error {
	d := withAudit[D]{Doc: doc}
	d.Audit, d.Pending = carriedAudit(rec)
	_, err := db.Collection(coll).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, d, options.Replace().SetUpsert(true))
	return storeError(err, coll)
}

// ReprojectAudit projects the audit records of resource changes still
// marked pending (the process stopped between commit and projection).
func (r *ScheduleRepo) ReprojectAudit(ctx context.Context, project func(audit.Event) error) error {
	var errs []error
	for _, coll := range resourceCollections {
		errs = append(errs, reprojectPending(ctx, r.db.Collection(coll), project, nil))
	}
	return errors.Join(errs...)
}

// SaveProvider implements schedule.Store.
func (r *ScheduleRepo) SaveProvider(ctx context.Context, p *molarv1.Provider, rec audit.Event) error {
	return saveResource(ctx, r.db, providerCollection, p.GetId(), toProviderDoc(p), rec)
}

// SaveChair implements schedule.Store.
func (r *ScheduleRepo) SaveChair(ctx context.Context, c *molarv1.Chair, rec audit.Event) error {
	return saveResource(ctx, r.db, chairCollection, c.GetId(), toChairDoc(c), rec)
}

// SaveType implements schedule.Store.
func (r *ScheduleRepo) SaveType(ctx context.Context, t *molarv1.AppointmentType, rec audit.Event) error {
	return saveResource(ctx, r.db, appointmentTypeCollection, t.GetId(), toAppointmentTypeDoc(t), rec)
}

// InsertSlots claims many cells at once for demo data and imports; claims[i]
// holds slots[i]. It assumes the cells are free.
func (r *ScheduleRepo) InsertSlots(ctx context.Context, slots []schedule.Slot, claims []schedule.Claim) error {
	docs := make([]any, len(slots))
	for i, s := range slots {
		docs[i] = newSlotDoc(s, claims[i])
	}
	return insertBatches(ctx, r.slots, docs, "slots")
}
