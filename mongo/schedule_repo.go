package mongo

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
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
	// appointmentVersionCollection has one document per version of each
	// appointment: inserting it is the atomic step of a change.
	appointmentVersionCollection = "appointment_versions"
	providerCollection           = "providers"
	chairCollection              = "chairs"
	appointmentTypeCollection    = "appointment_types"
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

type slotDoc struct {
	Key   string `bson:"_id"`
	Owner string `bson:"owner"`
}

func slotCollection(day string) string { return slotPrefix + strings.ReplaceAll(day, "-", "") }

// ClaimSlots implements schedule.Store.
func (r *ScheduleRepo) ClaimSlots(ctx context.Context, owner string, slots []schedule.Slot) error {
	var taken []schedule.Slot
	for _, s := range slots {
		coll := r.db.Collection(slotCollection(s.Day))
		_, err := coll.InsertOne(ctx, slotDoc{Key: s.Key, Owner: owner})
		if err == nil {
			taken = append(taken, s)
			continue
		}
		if !driver.IsDuplicateKeyError(err) {
			_ = r.ReleaseSlots(context.WithoutCancel(ctx), owner, taken)
			return storeError(err, "slot")
		}
		var held slotDoc
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: s.Key}}).Decode(&held); err == nil && held.Owner == owner {
			continue // ours already
		}
		_ = r.ReleaseSlots(context.WithoutCancel(ctx), owner, taken)
		return &schedule.ConflictError{Key: s.Key, Holder: held.Owner}
	}
	return nil
}

// ReleaseSlots implements schedule.Store.
func (r *ScheduleRepo) ReleaseSlots(ctx context.Context, owner string, slots []schedule.Slot) error {
	byDay := map[string][]string{}
	for _, s := range slots {
		byDay[s.Day] = append(byDay[s.Day], s.Key)
	}
	for day, keys := range byDay {
		if _, err := r.db.Collection(slotCollection(day)).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}, {Key: "owner", Value: owner}}); err != nil {
			return storeError(err, "slots")
		}
	}
	return nil
}

// ClaimVersion implements schedule.Store.
func (r *ScheduleRepo) ClaimVersion(ctx context.Context, id string, v int64) error {
	_, err := r.db.Collection(appointmentVersionCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: revisionID(id, v)}})
	return storeError(err, "appointment version")
}

// eventDoc stores an event's payload as protobuf bytes: the log is read back
// whole, never queried inside.
type scheduleEventDoc struct {
	Revision    int64     `bson:"_id"`
	At          time.Time `bson:"at"`
	Appointment []byte    `bson:"appointment,omitempty"`
	Blockout    []byte    `bson:"blockout,omitempty"`
}

// AppendEvent implements schedule.Store.
func (r *ScheduleRepo) AppendEvent(ctx context.Context, e schedule.Event) error {
	d := scheduleEventDoc{Revision: e.Revision, At: ms(time.Now())}
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
	e := schedule.Event{Revision: d.Revision}
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

// LoadAll implements schedule.Store.
func (r *ScheduleRepo) LoadAll(ctx context.Context) ([]*molarv1.Appointment, []*molarv1.Blockout, error) {
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
				if !b.GetDeleted() {
					blocks = append(blocks, b)
				}
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

// InsertSlots claims many cells at once for demo data and imports; owners[i]
// holds slots[i]. It assumes the cells are free.
func (r *ScheduleRepo) InsertSlots(ctx context.Context, slots []schedule.Slot, owners []string) error {
	byDay := map[string][]any{}
	for i, s := range slots {
		byDay[s.Day] = append(byDay[s.Day], slotDoc{Key: s.Key, Owner: owners[i]})
	}
	for day, docs := range byDay {
		if _, err := r.db.Collection(slotCollection(day)).InsertMany(ctx, docs); err != nil {
			return storeError(err, "slots")
		}
	}
	return nil
}
