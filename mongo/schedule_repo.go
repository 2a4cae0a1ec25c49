package mongo

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/schedule"
)

// The book is partitioned so that every hot operation touches a small
// collection: the embedded engine scans a whole collection even for an _id
// lookup.
const (
	// slot claims go to one collection per day: "slots_20261129".
	slotPrefix = "slots_"
	// appointments go to one collection per month of their creation (their
	// id is a UUIDv7, so the id names the collection): "appointments_202611".
	appointmentPrefix  = "appointments_"
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
	db *driver.Database
}

var _ schedule.Store = (*ScheduleRepo)(nil)

// NewScheduleRepo returns a ScheduleRepo on db.
func NewScheduleRepo(db *DB) *ScheduleRepo { return &ScheduleRepo{db: db.Database} }

// ScheduleIndexes are the indexes ScheduleRepo needs: its lookups are by
// _id, and partitions keep scans small on the embedded engine.
func ScheduleIndexes() []Index { return nil }

// slotDoc is one claimed cell, keyed by column and minute: inserting it is
// the atomic step of a claim. It names the claim (owner, operation, version,
// when) and repeats the cell's fields, so nothing reads the key back.
type slotDoc struct {
	Key      string    `bson:"_id"`
	Kind     int32     `bson:"kind,omitempty"`
	Resource string    `bson:"resource,omitempty"`
	Minute   int64     `bson:"minute,omitempty"`
	Owner    string    `bson:"owner"`
	Op       string    `bson:"op,omitempty"`
	Version  int64     `bson:"version,omitempty"`
	At       time.Time `bson:"at"`
}

// releaseDoc marks a claim being released, in the cell's day collection.
// Inserting it gives the one right to delete that claim: a delete with a
// filter is not atomic on the embedded engine (it reads, then deletes by
// _id), so two deleters of one claim could delete a third party's fresh
// claim of the same cell.
type releaseDoc struct {
	ID      string    `bson:"_id"`
	Release bool      `bson:"release"`
	Cell    string    `bson:"cell"`
	Owner   string    `bson:"owner"`
	Op      string    `bson:"op"`
	At      time.Time `bson:"at"`
}

const releasePrefix = "x|"

func slotCollection(day string) string { return slotPrefix + strings.ReplaceAll(day, "-", "") }

// slotKey is a cell's _id: its column and minute.
func slotKey(s schedule.Slot) string {
	kind := "c"
	if s.Kind == molarv1.ResourceKind_RESOURCE_KIND_PROVIDER {
		kind = "p"
	}
	return kind + "|" + s.Resource + "|" + strconv.FormatInt(s.Minute, 10)
}

func newSlotDoc(s schedule.Slot, c schedule.Claim) slotDoc {
	return slotDoc{Key: slotKey(s), Kind: int32(s.Kind), Resource: s.Resource, Minute: s.Minute, Owner: c.Owner, Op: c.Op, Version: c.Version, At: ms(c.At)}
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
		coll := r.db.Collection(slotCollection(s.Day))
		for attempt := 0; ; attempt++ {
			_, err := coll.InsertOne(ctx, newSlotDoc(s, c))
			if err == nil {
				taken = append(taken, s)
				break
			}
			if !driver.IsDuplicateKeyError(err) {
				giveBack()
				return storeError(err, "slot")
			}
			var held slotDoc
			err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: slotKey(s)}}).Decode(&held)
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
				if err := r.releaseClaim(ctx, coll, held, c.At); err != nil {
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
func (r *ScheduleRepo) releaseClaim(ctx context.Context, coll *driver.Collection, d slotDoc, at time.Time) error {
	_, err := coll.InsertOne(ctx, releaseDoc{ID: releasePrefix + d.Key + "|" + d.Owner + "|" + d.Op, Release: true, Cell: d.Key, Owner: d.Owner, Op: d.Op, At: ms(at)})
	if driver.IsDuplicateKeyError(err) {
		return nil
	}
	if err != nil {
		return storeError(err, "slot release")
	}
	_, err = coll.DeleteOne(ctx, claimFilter(d.Key, d.Owner, d.Op))
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
	byDay := map[string][]string{}
	for _, s := range slots {
		byDay[s.Day] = append(byDay[s.Day], slotKey(s))
	}
	for day, keys := range byDay {
		coll := r.db.Collection(slotCollection(day))
		cur, err := coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}, {Key: "owner", Value: rel.Owner}})
		if err != nil {
			return storeError(err, "slots")
		}
		var held []slotDoc
		if err := cur.All(ctx, &held); err != nil {
			return storeError(err, "slots")
		}
		for _, d := range held {
			if (rel.Op != "" && d.Op != rel.Op) || (rel.UpTo > 0 && d.Version > rel.UpTo) {
				continue
			}
			if err := r.releaseClaim(ctx, coll, d, rel.At); err != nil {
				return err
			}
		}
	}
	return nil
}

// slotCollections lists the day collections of cells, with their days.
func (r *ScheduleRepo) slotCollections(ctx context.Context) (map[string]string, error) {
	names, err := r.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, storeError(err, "collections")
	}
	out := map[string]string{}
	for _, n := range names {
		d, ok := strings.CutPrefix(n, slotPrefix)
		if !ok || len(d) != 8 {
			continue
		}
		out[n] = d[:4] + "-" + d[4:6] + "-" + d[6:]
	}
	return out, nil
}

// Holdings implements schedule.Store.
func (r *ScheduleRepo) Holdings(ctx context.Context, fromDay string) ([]schedule.Holding, error) {
	colls, err := r.slotCollections(ctx)
	if err != nil {
		return nil, err
	}
	var out []schedule.Holding
	for n, day := range colls {
		if day < fromDay {
			continue
		}
		cur, err := r.db.Collection(n).Find(ctx, bson.D{})
		if err != nil {
			return nil, storeError(err, "slots")
		}
		var docs []slotDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, storeError(err, "slots")
		}
		for _, d := range docs {
			if d.Kind == 0 || strings.HasPrefix(d.Key, releasePrefix) {
				continue // a release mark, or a cell claimed before cells named their fields
			}
			out = append(out, schedule.Holding{Slot: schedule.Slot{Day: day, Kind: molarv1.ResourceKind(d.Kind), Resource: d.Resource, Minute: d.Minute}, Claim: d.claim()})
		}
	}
	return out, nil
}

// SweepReleases implements schedule.Store.
func (r *ScheduleRepo) SweepReleases(ctx context.Context, before time.Time) error {
	colls, err := r.slotCollections(ctx)
	if err != nil {
		return err
	}
	for n := range colls {
		coll := r.db.Collection(n)
		cur, err := coll.Find(ctx, bson.D{{Key: "release", Value: true}, {Key: "at", Value: bson.D{{Key: "$lt", Value: ms(before)}}}})
		if err != nil {
			return storeError(err, "slot releases")
		}
		var docs []releaseDoc
		if err := cur.All(ctx, &docs); err != nil {
			return storeError(err, "slot releases")
		}
		for _, d := range docs {
			// Its releaser had the whole lease to finish, and did not.
			if _, err := coll.DeleteOne(ctx, claimFilter(d.Cell, d.Owner, d.Op)); err != nil {
				return storeError(err, "slot")
			}
			if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}}); err != nil {
				return storeError(err, "slot release")
			}
		}
	}
	return nil
}

// eventDoc stores an event's payload as protobuf bytes: the log is read back
// whole, never queried inside.
type scheduleEventDoc struct {
	Revision    int64            `bson:"_id"`
	At          time.Time        `bson:"at"`
	Appointment []byte           `bson:"appointment,omitempty"`
	Blockout    []byte           `bson:"blockout,omitempty"`
	Op          string           `bson:"op,omitempty"`
	Audit       *carriedAuditDoc `bson:"audit,omitempty"`
}

// AppendEvent implements schedule.Store.
func (r *ScheduleRepo) AppendEvent(ctx context.Context, e schedule.Event) error {
	d := scheduleEventDoc{Revision: e.Revision, At: ms(time.Now()), Op: e.Op}
	d.Audit, _ = carriedAudit(e.Audit)
	var err error
	if e.Appointment != nil {
		if d.Appointment, err = proto.Marshal(e.Appointment); err != nil {
			return err
		}
	}
	if e.Blockout != nil {
		if d.Blockout, err = proto.Marshal(e.Blockout); err != nil {
			return err
		}
	}
	_, err = r.db.Collection(scheduleEventCollection).InsertOne(ctx, d)
	return storeError(err, "schedule event")
}

func (d scheduleEventDoc) event() (schedule.Event, error) {
	e := schedule.Event{Revision: d.Revision, Op: d.Op, Audit: d.Audit.event()}
	if d.Appointment != nil {
		e.Appointment = &molarv1.Appointment{}
		if err := proto.Unmarshal(d.Appointment, e.Appointment); err != nil {
			return e, err
		}
	}
	if d.Blockout != nil {
		e.Blockout = &molarv1.Blockout{}
		if err := proto.Unmarshal(d.Blockout, e.Blockout); err != nil {
			return e, err
		}
	}
	return e, nil
}

// Event implements schedule.Store.
func (r *ScheduleRepo) Event(ctx context.Context, revision int64) (schedule.Event, error) {
	var d scheduleEventDoc
	if err := r.db.Collection(scheduleEventCollection).FindOne(ctx, bson.D{{Key: "_id", Value: revision}}).Decode(&d); err != nil {
		return schedule.Event{}, storeError(err, "schedule event")
	}
	return d.event()
}

func (r *ScheduleRepo) edgeRevision(ctx context.Context, dir int) (int64, error) {
	var d struct {
		Revision int64 `bson:"_id"`
	}
	err := r.db.Collection(scheduleEventCollection).FindOne(ctx, bson.D{},
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
	_, err := r.db.Collection(scheduleEventCollection).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: below}}}})
	return storeError(err, "schedule events")
}

// appointmentCollection names the partition of an appointment id.
func appointmentCollection(id string) string { return monthPartition(appointmentPrefix, id) }

// monthPartition names the collection of a time-ordered (UUIDv7) id: the
// prefix and the month the id was made in.
func monthPartition(prefix, id string) string {
	month := "000000"
	if u, err := uuid.Parse(id); err == nil && u.Version() == 7 {
		sec, nsec := u.Time().UnixTime()
		month = time.Unix(sec, nsec).UTC().Format("200601")
	}
	return prefix + month
}

type storedDoc struct {
	ID       string `bson:"_id"`
	Revision int64  `bson:"revision"`
	Data     []byte `bson:"data"`
}

// SaveAppointment implements schedule.Store. It never overwrites a newer
// copy with an older one.
func (r *ScheduleRepo) SaveAppointment(ctx context.Context, a *molarv1.Appointment) error {
	return r.saveStored(ctx, r.db.Collection(appointmentCollection(a.GetId())), a.GetId(), a.GetRevision(), a)
}

// SaveBlockout implements schedule.Store.
func (r *ScheduleRepo) SaveBlockout(ctx context.Context, b *molarv1.Blockout) error {
	return r.saveStored(ctx, r.db.Collection(blockoutCollection), b.GetId(), b.GetRevision(), b)
}

func (r *ScheduleRepo) saveStored(ctx context.Context, coll *driver.Collection, id string, rev int64, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	_, err = coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revision", Value: bson.D{{Key: "$lt", Value: rev}}}},
		storedDoc{ID: id, Revision: rev, Data: data}, options.Replace().SetUpsert(true))
	if driver.IsDuplicateKeyError(err) {
		return nil // a newer copy is there
	}
	return storeError(err, "schedule copy")
}

// SaveAppointments stores many appointments at once (demo data, imports).
func (r *ScheduleRepo) SaveAppointments(ctx context.Context, as []*molarv1.Appointment) error {
	byColl := map[string][]any{}
	for _, a := range as {
		data, err := proto.Marshal(a)
		if err != nil {
			return err
		}
		c := appointmentCollection(a.GetId())
		byColl[c] = append(byColl[c], storedDoc{ID: a.GetId(), Revision: a.GetRevision(), Data: data})
	}
	for c, docs := range byColl {
		for start := 0; start < len(docs); start += 1000 {
			if _, err := r.db.Collection(c).InsertMany(ctx, docs[start:min(start+1000, len(docs))]); err != nil {
				return storeError(err, "appointments")
			}
		}
	}
	return nil
}

// loadAll reads every stored appointment and blockout (removed ones too).
func (r *ScheduleRepo) loadAll(ctx context.Context) ([]*molarv1.Appointment, []*molarv1.Blockout, error) {
	names, err := r.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, nil, storeError(err, "collections")
	}
	var appts []*molarv1.Appointment
	var blocks []*molarv1.Blockout
	for _, n := range names {
		if !strings.HasPrefix(n, appointmentPrefix) && n != blockoutCollection {
			continue
		}
		cur, err := r.db.Collection(n).Find(ctx, bson.D{})
		if err != nil {
			return nil, nil, storeError(err, "schedule")
		}
		var docs []storedDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, nil, storeError(err, "schedule")
		}
		for _, d := range docs {
			if n == blockoutCollection {
				b := &molarv1.Blockout{}
				if err := proto.Unmarshal(d.Data, b); err != nil {
					return nil, nil, err
				}
				blocks = append(blocks, b)
				continue
			}
			a := &molarv1.Appointment{}
			if err := proto.Unmarshal(d.Data, a); err != nil {
				return nil, nil, err
			}
			appts = append(appts, a)
		}
	}
	return appts, blocks, nil
}

// Range implements schedule.Store. The copies of this layout are
// protobuf bytes no index can see, so it reads them all and selects.
func (r *ScheduleRepo) Range(ctx context.Context, from, to time.Time) ([]*molarv1.Appointment, []*molarv1.Blockout, error) {
	appts, blocks, err := r.loadAll(ctx)
	if err != nil {
		return nil, nil, err
	}
	in := func(t time.Time) bool { return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to)) }
	var as []*molarv1.Appointment
	for _, a := range appts {
		if in(a.GetStartTime().AsTime()) {
			as = append(as, a)
		}
	}
	var bs []*molarv1.Blockout
	for _, b := range blocks {
		if !b.GetDeleted() && in(b.GetStartTime().AsTime()) {
			bs = append(bs, b)
		}
	}
	byStart := func(x, y interface {
		GetStartTime() *timestamppb.Timestamp
		GetId() string
	}) int { return cmp.Or(x.GetStartTime().AsTime().Compare(y.GetStartTime().AsTime()), strings.Compare(x.GetId(), y.GetId())) }
	slices.SortFunc(as, func(x, y *molarv1.Appointment) int { return byStart(x, y) })
	slices.SortFunc(bs, func(x, y *molarv1.Blockout) int { return byStart(x, y) })
	return as, bs, nil
}

// Appointment implements schedule.Store.
func (r *ScheduleRepo) Appointment(ctx context.Context, id string) (*molarv1.Appointment, error) {
	appts, _, err := r.loadAll(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range appts {
		if a.GetId() == id {
			return a, nil
		}
	}
	return nil, services.Errorf(services.NotFound, "appointment not found")
}

// Blockout implements schedule.Store.
func (r *ScheduleRepo) Blockout(ctx context.Context, id string) (*molarv1.Blockout, error) {
	var d storedDoc
	err := r.db.Collection(blockoutCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if err != nil {
		return nil, storeError(err, "blockout")
	}
	b := &molarv1.Blockout{}
	return b, proto.Unmarshal(d.Data, b)
}

// PatientAppointments implements schedule.Store.
func (r *ScheduleRepo) PatientAppointments(ctx context.Context, patientID string) ([]*molarv1.Appointment, error) {
	appts, _, err := r.Range(ctx, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	var out []*molarv1.Appointment
	for _, a := range appts {
		if a.GetPatientId() == patientID {
			out = append(out, a)
		}
	}
	return out, nil
}

// Resources implements schedule.Store.
func (r *ScheduleRepo) Resources(ctx context.Context) ([]*molarv1.Provider, []*molarv1.Chair, []*molarv1.AppointmentType, error) {
	ps, err := loadAllProto(ctx, r.db.Collection(providerCollection), func() *molarv1.Provider { return &molarv1.Provider{} })
	if err != nil {
		return nil, nil, nil, err
	}
	cs, err := loadAllProto(ctx, r.db.Collection(chairCollection), func() *molarv1.Chair { return &molarv1.Chair{} })
	if err != nil {
		return nil, nil, nil, err
	}
	ts, err := loadAllProto(ctx, r.db.Collection(appointmentTypeCollection), func() *molarv1.AppointmentType { return &molarv1.AppointmentType{} })
	return ps, cs, ts, err
}

func loadAllProto[T proto.Message](ctx context.Context, coll *driver.Collection, mk func() T) ([]T, error) {
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		return nil, storeError(err, coll.Name())
	}
	var docs []storedDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeError(err, coll.Name())
	}
	out := make([]T, 0, len(docs))
	for _, d := range docs {
		m := mk()
		if err := proto.Unmarshal(d.Data, m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (r *ScheduleRepo) saveResource(ctx context.Context, coll, id string, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	_, err = r.db.Collection(coll).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, storedDoc{ID: id, Data: data}, options.Replace().SetUpsert(true))
	return storeError(err, coll)
}

// SaveProvider implements schedule.Store.
func (r *ScheduleRepo) SaveProvider(ctx context.Context, p *molarv1.Provider) error {
	return r.saveResource(ctx, providerCollection, p.GetId(), p)
}

// SaveChair implements schedule.Store.
func (r *ScheduleRepo) SaveChair(ctx context.Context, c *molarv1.Chair) error {
	return r.saveResource(ctx, chairCollection, c.GetId(), c)
}

// SaveType implements schedule.Store.
func (r *ScheduleRepo) SaveType(ctx context.Context, t *molarv1.AppointmentType) error {
	return r.saveResource(ctx, appointmentTypeCollection, t.GetId(), t)
}

// InsertSlots claims many cells at once for demo data and imports; claims[i]
// holds slots[i]. It assumes the cells are free.
func (r *ScheduleRepo) InsertSlots(ctx context.Context, slots []schedule.Slot, claims []schedule.Claim) error {
	byDay := map[string][]any{}
	for i, s := range slots {
		byDay[s.Day] = append(byDay[s.Day], newSlotDoc(s, claims[i]))
	}
	for day, docs := range byDay {
		if _, err := r.db.Collection(slotCollection(day)).InsertMany(ctx, docs); err != nil {
			return storeError(err, "slots")
		}
	}
	return nil
}
