package mongo

import (
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// The stored form of the book: documents with real fields, so MongoDB's
// queries, indexes and tools can see them. Times are BSON dates
// (milliseconds); statuses are stored by name without their prefix.

// appointmentDoc is the stored copy of an appointment in "appointments",
// and the appointment an event of the log carries.
type appointmentDoc struct {
	ID              string            `bson:"_id"`
	PatientID       string            `bson:"patient_id"`
	PatientName     string            `bson:"patient_name,omitempty"`
	ChartNumber     int64             `bson:"chart_number,omitempty"`
	ProviderID      string            `bson:"provider_id"`
	ChairID         string            `bson:"chair_id"`
	Start           time.Time         `bson:"start"`
	End             time.Time         `bson:"end"`
	Minutes         int32             `bson:"minutes"`
	TypeID          string            `bson:"type_id,omitempty"`
	PlannedEntryIDs []string          `bson:"planned_entry_ids,omitempty"`
	Note            string            `bson:"note,omitempty"`
	Status          string            `bson:"status"`
	CancelReason    string            `bson:"cancel_reason,omitempty"`
	Arrived         *time.Time        `bson:"arrived,omitempty"`
	Seated          *time.Time        `bson:"seated,omitempty"`
	Dismissed       *time.Time        `bson:"dismissed,omitempty"`
	History         []statusChangeDoc `bson:"history,omitempty"`
	Version         int64             `bson:"version"`
	Revision        int64             `bson:"revision"`
}

type statusChangeDoc struct {
	Status string    `bson:"status"`
	By     string    `bson:"by,omitempty"`
	At     time.Time `bson:"at"`
}

// blockoutDoc is the stored copy of a blockout in "blockouts" (a removed
// one stays, marked deleted), and the blockout an event carries.
type blockoutDoc struct {
	ID         string    `bson:"_id"`
	ProviderID string    `bson:"provider_id,omitempty"`
	ChairID    string    `bson:"chair_id,omitempty"`
	Start      time.Time `bson:"start"`
	End        time.Time `bson:"end"`
	Minutes    int32     `bson:"minutes"`
	Reason     string    `bson:"reason,omitempty"`
	Revision   int64     `bson:"revision"`
	Deleted    bool      `bson:"deleted,omitempty"`
}

type providerDoc struct {
	ID        string     `bson:"_id"`
	Name      string     `bson:"name"`
	StaffID   string     `bson:"staff_id,omitempty"`
	Color     string     `bson:"color,omitempty"`
	Hours     []hoursDoc `bson:"hours,omitempty"`
	DaysOff   []string   `bson:"days_off,omitempty"`
	Hygienist bool       `bson:"hygienist,omitempty"`
	Active    bool       `bson:"active"`
}

type hoursDoc struct {
	Weekday int32  `bson:"weekday"`
	Start   string `bson:"start"`
	End     string `bson:"end"`
}

type chairDoc struct {
	ID       string `bson:"_id"`
	Name     string `bson:"name"`
	Position int32  `bson:"position"`
	Active   bool   `bson:"active"`
}

type appointmentTypeDoc struct {
	ID             string `bson:"_id"`
	NameKo         string `bson:"name_ko"`
	NameEn         string `bson:"name_en"`
	DefaultMinutes int32  `bson:"default_minutes"`
	Color          string `bson:"color,omitempty"`
	Active         bool   `bson:"active"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromOptTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func appointmentStatus(name string) molarv1.AppointmentStatus {
	return molarv1.AppointmentStatus(molarv1.AppointmentStatus_value["APPOINTMENT_STATUS_"+name])
}

func toAppointmentDoc(a *molarv1.Appointment) appointmentDoc {
	start := bsonTime(a.GetStartTime())
	d := appointmentDoc{ID: a.GetId(), PatientID: a.GetPatientId(), PatientName: a.GetPatientName(), ChartNumber: a.GetChartNumber(),
		ProviderID: a.GetProviderId(), ChairID: a.GetChairId(), Start: start, End: start.Add(time.Duration(a.GetMinutes()) * time.Minute),
		Minutes: a.GetMinutes(), TypeID: a.GetTypeId(), PlannedEntryIDs: a.GetPlannedEntryIds(), Note: a.GetNote(),
		Status: enumName(a.GetStatus().String(), "APPOINTMENT_STATUS_"), CancelReason: a.GetCancelReason(),
		Arrived: optTime(bsonTime(a.GetArriveTime())), Seated: optTime(bsonTime(a.GetSeatTime())), Dismissed: optTime(bsonTime(a.GetDismissTime())),
		Version: a.GetVersion(), Revision: a.GetRevision()}
	for _, h := range a.GetHistory() {
		d.History = append(d.History, statusChangeDoc{Status: enumName(h.GetStatus().String(), "APPOINTMENT_STATUS_"), By: h.GetBy(), At: bsonTime(h.GetTime())})
	}
	return d
}

func (d appointmentDoc) appointment() *molarv1.Appointment {
	a := &molarv1.Appointment{Id: d.ID, PatientId: d.PatientID, PatientName: d.PatientName, ChartNumber: d.ChartNumber, ProviderId: d.ProviderID,
		ChairId: d.ChairID, StartTime: protoTime(d.Start), Minutes: d.Minutes, TypeId: d.TypeID, PlannedEntryIds: d.PlannedEntryIDs, Note: d.Note,
		Status: appointmentStatus(d.Status), CancelReason: d.CancelReason, ArriveTime: protoTime(fromOptTime(d.Arrived)),
		SeatTime: protoTime(fromOptTime(d.Seated)), DismissTime: protoTime(fromOptTime(d.Dismissed)), Version: d.Version, Revision: d.Revision}
	for _, h := range d.History {
		a.History = append(a.History, &molarv1.StatusChange{Status: appointmentStatus(h.Status), By: h.By, Time: protoTime(h.At)})
	}
	return a
}

func toBlockoutDoc(b *molarv1.Blockout) blockoutDoc {
	start := bsonTime(b.GetStartTime())
	return blockoutDoc{ID: b.GetId(), ProviderID: b.GetProviderId(), ChairID: b.GetChairId(), Start: start,
		End: start.Add(time.Duration(b.GetMinutes()) * time.Minute), Minutes: b.GetMinutes(), Reason: b.GetReason(), Revision: b.GetRevision(),
		Deleted: b.GetDeleted()}
}

func (d blockoutDoc) blockout() *molarv1.Blockout {
	return &molarv1.Blockout{Id: d.ID, ProviderId: d.ProviderID, ChairId: d.ChairID, StartTime: protoTime(d.Start), Minutes: d.Minutes,
		Reason: d.Reason, Revision: d.Revision, Deleted: d.Deleted}
}

func toProviderDoc(p *molarv1.Provider) providerDoc {
	d := providerDoc{ID: p.GetId(), Name: p.GetName(), StaffID: p.GetStaffId(), Color: p.GetColor(), DaysOff: p.GetDaysOff(),
		Hygienist: p.GetHygienist(), Active: p.GetActive()}
	for _, h := range p.GetHours() {
		d.Hours = append(d.Hours, hoursDoc{Weekday: h.GetWeekday(), Start: h.GetStartTime(), End: h.GetEndTime()})
	}
	return d
}

func (d providerDoc) provider() *molarv1.Provider {
	p := &molarv1.Provider{Id: d.ID, Name: d.Name, StaffId: d.StaffID, Color: d.Color, DaysOff: d.DaysOff, Hygienist: d.Hygienist, Active: d.Active}
	for _, h := range d.Hours {
		p.Hours = append(p.Hours, &molarv1.ProviderHours{Weekday: h.Weekday, StartTime: h.Start, EndTime: h.End})
	}
	return p
}

func toChairDoc(c *molarv1.Chair) chairDoc {
	return chairDoc{ID: c.GetId(), Name: c.GetName(), Position: c.GetPosition(), Active: c.GetActive()}
}

func (d chairDoc) chair() *molarv1.Chair {
	return &molarv1.Chair{Id: d.ID, Name: d.Name, Position: d.Position, Active: d.Active}
}

func toAppointmentTypeDoc(t *molarv1.AppointmentType) appointmentTypeDoc {
	return appointmentTypeDoc{ID: t.GetId(), NameKo: t.GetNameKo(), NameEn: t.GetNameEn(), DefaultMinutes: t.GetDefaultMinutes(), Color: t.GetColor(), Active: t.GetActive()}
}

func (d appointmentTypeDoc) appointmentType() *molarv1.AppointmentType {
	return &molarv1.AppointmentType{Id: d.ID, NameKo: d.NameKo, NameEn: d.NameEn, DefaultMinutes: d.DefaultMinutes, Color: d.Color, Active: d.Active}
}
