package mongo

import (
	"context"
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// The book's layout before its documents had fields: appointments as
// protobuf bytes in one collection per month of their id
// ("appointments_202611"), claimed cells in one collection per day
// ("slots_20261129"), and blockouts and resources as protobuf bytes in a
// "data" field of their own collections.
const (
	legacyAppointmentPrefix = "appointments_"
	legacySlotPrefix        = "slots_"
)

// MigrateSchedule moves a book stored in the earlier layout into the
// current one and reports how many documents it moved. Every step is
// idempotent and each old collection is dropped only once all of it is in
// the new one, so a start that stops halfway is finished by the next.
func (r *ScheduleRepo) MigrateSchedule(ctx context.Context) (int, error) {
	names, err := r.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return 0, storeError(err, "collections")
	}
	moved := 0
	for _, name := range names {
		var n int
		switch {
		case isPartition(name, legacyAppointmentPrefix, 6):
			n, err = r.migrateAppointments(ctx, name)
		case isPartition(name, legacySlotPrefix, 8):
			n, err = r.migrateSlots(ctx, name)
		}
		if err != nil {
			return moved, err
		}
		moved += n
	}
	for _, m := range []struct {
		coll    string
		convert func([]byte) (any, error)
	}{
		{blockoutCollection, legacyConvert(func() *molarv1.Blockout { return &molarv1.Blockout{} }, toBlockoutDoc)},
		{providerCollection, legacyConvert(func() *molarv1.Provider { return &molarv1.Provider{} }, toProviderDoc)},
		{chairCollection, legacyConvert(func() *molarv1.Chair { return &molarv1.Chair{} }, toChairDoc)},
		{appointmentTypeCollection, legacyConvert(func() *molarv1.AppointmentType { return &molarv1.AppointmentType{} }, toAppointmentTypeDoc)},
	} {
		n, err := r.migrateInPlace(ctx, m.coll, m.convert)
		if err != nil {
			return moved, err
		}
		moved += n
	}
	return moved, nil
}

// isPartition reports whether name is prefix followed by digits digits.
func isPartition(name, prefix string, digits int) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	return ok && len(rest) == digits && strings.Trim(rest, "0123456789") == ""
}

// legacyConvert reads protobuf bytes into a message and converts it to its
// document.
func legacyConvert[M proto.Message, D any](mk func() M, toDoc func(M) D) func([]byte) (any, error) {
	return func(data []byte) (any, error) {
		msg := mk()
		if err := proto.Unmarshal(data, msg); err != nil {
			return nil, err
		}
		return toDoc(msg), nil
	}
}

// migrateAppointments moves one month's partition of appointment copies
// into the appointments collection (a newer copy there stays), then drops
// the partition.
func (r *ScheduleRepo) migrateAppointments(ctx context.Context, name string) (int, error) {
	old := r.db.Collection(name)
	docs, err := findAll(ctx, old, bson.D{}, name, func(d legacyStoredDoc) legacyStoredDoc { return d })
	if err != nil {
		return 0, err
	}
	for _, d := range docs {
		a := &molarv1.Appointment{}
		if err := proto.Unmarshal(d.Data, a); err != nil {
			return 0, err
		}
		if err := saveCopy(ctx, r.appts, a.GetId(), a.GetRevision(), toAppointmentDoc(a)); err != nil {
			return 0, err
		}
	}
	return len(docs), storeError(old.Drop(ctx), name)
}

// migrateSlots moves one day's claimed cells and release marks into the
// slots collection (a cell claimed there meanwhile stays), then drops the
// day's collection.
func (r *ScheduleRepo) migrateSlots(ctx context.Context, name string) (int, error) {
	d := strings.TrimPrefix(name, legacySlotPrefix)
	day := d[:4] + "-" + d[4:6] + "-" + d[6:]
	old := r.db.Collection(name)
	raw, err := findAll(ctx, old, bson.D{}, name, func(d bson.Raw) bson.Raw { return d })
	if err != nil {
		return 0, err
	}
	docs := make([]any, 0, len(raw))
	for _, doc := range raw {
		var m bson.M
		if err := bson.Unmarshal(doc, &m); err != nil {
			return 0, err
		}
		m["day"] = day
		docs = append(docs, m)
	}
	for start := 0; start < len(docs); start += 1000 {
		_, err := r.slots.InsertMany(ctx, docs[start:min(start+1000, len(docs))], options.InsertMany().SetOrdered(false))
		if err != nil && !onlyDuplicates(err) {
			return 0, storeError(err, "slots")
		}
	}
	return len(docs), storeError(old.Drop(ctx), name)
}

// onlyDuplicates reports whether every write an insert refused was refused
// for a duplicate key.
func onlyDuplicates(err error) bool {
	var bwe driver.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return driver.IsDuplicateKeyError(err)
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// migrateInPlace rewrites every document of coll still holding protobuf
// bytes as the document convert makes of them.
func (r *ScheduleRepo) migrateInPlace(ctx context.Context, coll string, convert func([]byte) (any, error)) (int, error) {
	c := r.db.Collection(coll)
	docs, err := findAll(ctx, c, bson.D{{Key: "data", Value: bson.D{{Key: "$exists", Value: true}}}}, coll, func(d legacyStoredDoc) legacyStoredDoc { return d })
	if err != nil {
		return 0, err
	}
	for _, d := range docs {
		doc, err := convert(d.Data)
		if err != nil {
			return 0, err
		}
		if _, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "data", Value: bson.D{{Key: "$exists", Value: true}}}}, doc); err != nil {
			return 0, storeError(err, coll)
		}
	}
	return len(docs), nil
}
