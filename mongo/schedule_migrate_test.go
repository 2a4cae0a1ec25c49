package mongo_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/schedule"
)

// fullAppointment sets every field of an appointment, so that a field the
// stored form forgets shows up as a difference.
func fullAppointment(id string, start time.Time, rev int64) *molarv1.Appointment {
	at := func(m int) *timestamppb.Timestamp { return timestamppb.New(start.Add(time.Duration(m) * time.Minute)) }
	return &molarv1.Appointment{Id: id, PatientId: "p-1", PatientName: "김민지", ChartNumber: 1042, ProviderId: "dr-kim", ChairId: "chair-2",
		StartTime: at(0), Minutes: 60, TypeId: "crown", PlannedEntryIds: []string{"e1", "e2"}, Note: "임시치아 확인",
		Status: molarv1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED, CancelReason: "—", ArriveTime: at(-5), SeatTime: at(2), DismissTime: at(58),
		History: []*molarv1.StatusChange{{Status: molarv1.AppointmentStatus_APPOINTMENT_STATUS_ARRIVED, By: "desk@molar.kr", Time: at(-5)}},
		Version: 4, Revision: rev}
}

// TestScheduleDocumentsKeepEveryField: an appointment, a blockout and each
// resource with every field set come back from the store as they went in.
// The count of fields guards the stored forms against a field added to the
// schema and not to them.
func TestScheduleDocumentsKeepEveryField(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := mongo.NewScheduleRepo(mongotest.DB(t))
	start := time.Date(2026, 12, 7, 1, 30, 0, 0, time.UTC)
	a := fullAppointment("a-1", start, 7)
	b := &molarv1.Blockout{Id: "b-1", ProviderId: "dr-kim", ChairId: "chair-1", StartTime: timestamppb.New(start), Minutes: 45, Reason: "회의", Revision: 8, Deleted: true}
	p := &molarv1.Provider{Id: "dr-kim", Name: "김원장", StaffId: "s-1", Color: "#112233", Hours: []*molarv1.ProviderHours{{Weekday: 1, StartTime: "09:00", EndTime: "18:00"}},
		DaysOff: []string{"2026-12-25"}, Hygienist: true, Active: true}
	c := &molarv1.Chair{Id: "chair-1", Name: "1번", Position: 2, Active: true}
	ty := &molarv1.AppointmentType{Id: "crown", NameKo: "크라운", NameEn: "Crown", DefaultMinutes: 60, Color: "#445566", Active: true}
	for _, m := range []struct {
		msg    proto.Message
		fields int
	}{{a, 19}, {a.GetHistory()[0], 3}, {b, 8}, {p, 8}, {p.GetHours()[0], 3}, {c, 4}, {ty, 6}} {
		if n := m.msg.ProtoReflect().Descriptor().Fields().Len(); n != m.fields {
			t.Fatalf("%s has %d fields, the stored form knows %d", m.msg.ProtoReflect().Descriptor().FullName(), n, m.fields)
		}
	}
	for _, err := range []error{repo.SaveAppointment(ctx, a), repo.SaveBlockout(ctx, b), repo.SaveProvider(ctx, p, audit.Event{}), repo.SaveChair(ctx, c, audit.Event{}), repo.SaveType(ctx, ty, audit.Event{}),
		repo.AppendEvent(ctx, schedule.Event{Revision: 7, Appointment: a}), repo.AppendEvent(ctx, schedule.Event{Revision: 8, Blockout: b})} {
		if err != nil {
			t.Fatal(err)
		}
	}
	gotA, err := repo.Appointment(ctx, "a-1")
	if err != nil {
		t.Fatal(err)
	}
	gotB, err := repo.Blockout(ctx, "b-1")
	if err != nil {
		t.Fatal(err)
	}
	ps, cs, ts, err := repo.Resources(ctx)
	if err != nil || len(ps) != 1 || len(cs) != 1 || len(ts) != 1 {
		t.Fatalf("resources %v %v %v (%v)", ps, cs, ts, err)
	}
	e7, err := repo.Event(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	e8, err := repo.Event(ctx, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]proto.Message{{a, gotA}, {b, gotB}, {p, ps[0]}, {c, cs[0]}, {ty, ts[0]}, {a, e7.Appointment}, {b, e8.Blockout}} {
		if d := cmp.Diff(pair[0], pair[1], protocmp.Transform()); d != "" {
			t.Errorf("stored and read back differ (-want +got):\n%s", d)
		}
	}
}

// TestMigrateSchedule moves a book of the earlier layout (protobuf bytes,
// a collection per month of appointments and per day of cells) into the
// current one, finishing what a start that stopped halfway left: every
// appointment, blockout, resource, claimed cell and event reads back as it
// was, the old collections are gone, and a second run moves nothing.
func TestMigrateSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.DB(t)
	raw := db.Database
	repo := mongo.NewScheduleRepo(db)
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	legacy := func(coll, id string, rev int64, m proto.Message) {
		t.Helper()
		data, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Collection(coll).InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revision", Value: rev}, {Key: "data", Value: data}}); err != nil {
			t.Fatal(err)
		}
	}
	a1, a2 := fullAppointment("a-1", start, 3), fullAppointment("a-2", start.AddDate(0, 1, 0), 4)
	a2.PatientId = "p-2"
	legacy("appointments_202611", a1.GetId(), 3, a1)
	legacy("appointments_202612", a2.GetId(), 4, a2)
	b := &molarv1.Blockout{Id: "b-1", ChairId: "chair-1", StartTime: timestamppb.New(start.Add(3 * time.Hour)), Minutes: 60, Reason: "점심", Revision: 5}
	legacy("blockouts", b.GetId(), 5, b)
	p := &molarv1.Provider{Id: "dr-kim", Name: "김원장", Color: "#112233", Active: true}
	legacy("providers", p.GetId(), 0, p)
	c := &molarv1.Chair{Id: "chair-1", Name: "1번", Position: 1, Active: true}
	legacy("chairs", c.GetId(), 0, c)
	ty := &molarv1.AppointmentType{Id: "checkup", NameKo: "검진", NameEn: "Check-up", DefaultMinutes: 30, Active: true}
	legacy("appointment_types", ty.GetId(), 0, ty)
	minute := start.Unix() / 60
	cell := bson.D{{Key: "_id", Value: "p|dr-kim|" + strconv.FormatInt(minute, 10)}, {Key: "kind", Value: int32(molarv1.ResourceKind_RESOURCE_KIND_PROVIDER)},
		{Key: "resource", Value: "dr-kim"}, {Key: "minute", Value: minute}, {Key: "owner", Value: "a-1"}, {Key: "op", Value: "op-1"}, {Key: "version", Value: int64(1)},
		{Key: "at", Value: start}}
	if _, err := raw.Collection("slots_20261130").InsertOne(ctx, cell); err != nil {
		t.Fatal(err)
	}
	data, _ := proto.Marshal(a1)
	if _, err := raw.Collection("schedule_events").InsertOne(ctx, bson.D{{Key: "_id", Value: int64(3)}, {Key: "at", Value: start}, {Key: "appointment", Value: data}, {Key: "op", Value: "op-1"}}); err != nil {
		t.Fatal(err)
	}
	// A start that stopped halfway had copied the first month's appointment
	// and the day's cell, and dropped neither old collection.
	if err := repo.SaveAppointment(ctx, a1); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Collection("slots").InsertOne(ctx, append(cell, bson.E{Key: "day", Value: "2026-11-30"})); err != nil {
		t.Fatal(err)
	}

	moved, err := repo.MigrateSchedule(ctx)
	if err != nil || moved != 7 {
		t.Fatalf("moved %d (%v), want 7", moved, err)
	}
	if again, err := repo.MigrateSchedule(ctx); err != nil || again != 0 {
		t.Fatalf("second run moved %d (%v)", again, err)
	}
	names, err := raw.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "appointments_") || strings.HasPrefix(n, "slots_") {
			t.Errorf("old collection %s left", n)
		}
	}
	as, bs, err := repo.Range(ctx, time.Time{}, time.Time{})
	if err != nil || len(as) != 2 || len(bs) != 1 {
		t.Fatalf("book after moving: %d appointments, %d blockouts (%v)", len(as), len(bs), err)
	}
	mine, err := repo.PatientAppointments(ctx, "p-2")
	if err != nil || len(mine) != 1 {
		t.Fatalf("p-2's appointments %v (%v)", mine, err)
	}
	ps, cs, ts, err := repo.Resources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, err := repo.Event(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]proto.Message{{a1, as[0]}, {a2, as[1]}, {a2, mine[0]}, {b, bs[0]}, {p, ps[0]}, {c, cs[0]}, {ty, ts[0]}, {a1, e.Appointment}} {
		if d := cmp.Diff(pair[0], pair[1], protocmp.Transform()); d != "" {
			t.Errorf("moved and original differ (-want +got):\n%s", d)
		}
	}
	hs, err := repo.Holdings(ctx, "2026-11-30")
	if err != nil || len(hs) != 1 || hs[0].Claim.Owner != "a-1" || hs[0].Slot.Day != "2026-11-30" || hs[0].Slot.Minute != minute {
		t.Fatalf("cells after moving: %v (%v)", hs, err)
	}
	// The moved cell is claimed: another booking of it is refused.
	err = repo.ClaimSlots(ctx, schedule.Claim{Owner: "a-9", Op: "op-9", At: start}, []schedule.Slot{hs[0].Slot},
		func(schedule.Holding) schedule.Hold { return schedule.HeldByOther })
	var ce *schedule.ConflictError
	if !errors.As(err, &ce) || ce.Holder.Owner != "a-1" {
		t.Fatalf("claiming a moved cell: %v", err)
	}
	if !slices.Contains(names, "slots") {
		t.Fatalf("no slots collection among %v", names)
	}
}
