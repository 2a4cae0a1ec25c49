package sqlite

import (
	"context"
	"database/sql"
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/schedule"
)

// ScheduleStore keeps the appointment book. Where the MongoDB repository
// builds every step from unique-key inserts (release marks, a sweep for
// releasers that vanished), here each step is one transaction: a claim
// takes all its cells or none, a release deletes exactly the claims it
// selects, and the event of a revision commits the change together with
// its audit record and the durable copy of what it changed.
type ScheduleStore struct {
	db *DB
}

var _ schedule.Store = (*ScheduleStore)(nil)

// NewScheduleStore returns the schedule store of db.
func NewScheduleStore(db *DB) *ScheduleStore { return &ScheduleStore{db: db} }

// Appointments, blockouts and resources are stored as JSON with the
// schema's field names, like invoices; the columns beside them serve the
// queries.
var (
	scheduleJSON   = protojson.MarshalOptions{UseProtoNames: true}
	scheduleUnJSON = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// ClaimSlots implements schedule.Store in one transaction: each cell is
// inserted, or, if held, judged, and a conflict rolls back every cell this
// call took (and every claim it took over). The transaction holds the
// write lock from its start, so judge sees the cells as they are until the
// commit; it may read the store meanwhile (readers are never blocked).
func (s *ScheduleStore) ClaimSlots(ctx context.Context, c schedule.Claim, slots []schedule.Slot, judge func(schedule.Holding) schedule.Hold) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		insert, err := tx.PrepareContext(ctx, `INSERT INTO schedule_cells (kind, resource, minute, day, owner, op, version, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, resource, minute) DO NOTHING`)
		if err != nil {
			return storeError(err, "slot")
		}
		defer insert.Close()
		held, err := tx.PrepareContext(ctx, `SELECT owner, op, version, at FROM schedule_cells WHERE kind = ? AND resource = ? AND minute = ?`)
		if err != nil {
			return storeError(err, "slot")
		}
		defer held.Close()
		at := c.At.UnixMilli()
		for _, sl := range slots {
			res, err := insert.ExecContext(ctx, int32(sl.Kind), sl.Resource, sl.Minute, sl.Day, c.Owner, c.Op, c.Version, at)
			if err != nil {
				return storeError(err, "slot")
			}
			n, err := res.RowsAffected()
			if err != nil {
				return storeError(err, "slot")
			}
			if n == 1 {
				continue // it was free
			}
			h := schedule.Holding{Slot: sl}
			var heldAt int64
			if err := held.QueryRowContext(ctx, int32(sl.Kind), sl.Resource, sl.Minute).Scan(&h.Claim.Owner, &h.Claim.Op, &h.Claim.Version, &heldAt); err != nil {
				return storeError(err, "slot")
			}
			h.Claim.At = time.UnixMilli(heldAt)
			switch judge(h) {
			case schedule.HeldByMe:
			case schedule.HeldByNobody:
				if _, err := tx.ExecContext(ctx, `UPDATE schedule_cells SET day = ?, owner = ?, op = ?, version = ?, at = ?
					WHERE kind = ? AND resource = ? AND minute = ?`,
					sl.Day, c.Owner, c.Op, c.Version, at, int32(sl.Kind), sl.Resource, sl.Minute); err != nil {
					return storeError(err, "slot")
				}
			default:
				return &schedule.ConflictError{Slot: sl, Holder: h.Claim}
			}
		}
		return nil
	})
}

// ReleaseSlots implements schedule.Store in one transaction. Each delete
// names the claim it removes (owner, and operation or versions), so it
// never removes a claim someone else has taken meanwhile.
func (s *ScheduleStore) ReleaseSlots(ctx context.Context, r schedule.Release, slots []schedule.Slot) error {
	if len(slots) == 0 {
		return nil
	}
	q := `DELETE FROM schedule_cells WHERE kind = ? AND resource = ? AND minute = ? AND owner = ?`
	var extra []any
	if r.Op != "" {
		q, extra = q+` AND op = ?`, append(extra, r.Op)
	}
	if r.UpTo > 0 {
		q, extra = q+` AND version <= ?`, append(extra, r.UpTo)
	}
	return s.db.write(ctx, func(tx *sql.Tx) error {
		del, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return storeError(err, "slots")
		}
		defer del.Close()
		for _, sl := range slots {
			if _, err := del.ExecContext(ctx, append([]any{int32(sl.Kind), sl.Resource, sl.Minute, r.Owner}, extra...)...); err != nil {
				return storeError(err, "slots")
			}
		}
		return nil
	})
}

// Holdings implements schedule.Store.
func (s *ScheduleStore) Holdings(ctx context.Context, fromDay string) ([]schedule.Holding, error) {
	rows, err := s.db.sql.QueryContext(ctx, `SELECT day, kind, resource, minute, owner, op, version, at FROM schedule_cells WHERE day >= ?`, fromDay)
	if err != nil {
		return nil, storeError(err, "slots")
	}
	defer rows.Close()
	var out []schedule.Holding
	for rows.Next() {
		var h schedule.Holding
		var kind int32
		var at int64
		if err := rows.Scan(&h.Slot.Day, &kind, &h.Slot.Resource, &h.Slot.Minute, &h.Claim.Owner, &h.Claim.Op, &h.Claim.Version, &at); err != nil {
			return nil, storeError(err, "slots")
		}
		h.Slot.Kind, h.Claim.At = molarv1.ResourceKind(kind), time.UnixMilli(at)
		out = append(out, h)
	}
	return out, storeError(rows.Err(), "slots")
}

// SweepReleases implements schedule.Store: there is nothing to sweep. A
// release is one transaction, so no releaser can vanish halfway and leave
// a claim marked but not deleted; claims whose operation died are freed by
// the service's Recover, which releases them.
func (s *ScheduleStore) SweepReleases(context.Context, time.Time) error { return nil }

// AppendEvent implements schedule.Store: the commit point of a change. The
// event row (its primary key is the revision, so AlreadyExists if taken),
// the change's audit record and the durable copy of the appointment or
// blockout are one transaction, so after it nothing is left to project;
// the service's later SaveAppointment and audit projection find their work
// done.
func (s *ScheduleStore) AppendEvent(ctx context.Context, e schedule.Event) error {
	var appt, block sql.NullString
	if e.Appointment != nil {
		b, err := scheduleJSON.Marshal(e.Appointment)
		if err != nil {
			return err
		}
		appt = sql.NullString{String: string(b), Valid: true}
	}
	if e.Blockout != nil {
		b, err := scheduleJSON.Marshal(e.Blockout)
		if err != nil {
			return err
		}
		block = sql.NullString{String: string(b), Valid: true}
	}
	var at int64
	if !e.Audit.Time.IsZero() {
		at = e.Audit.Time.UnixMilli()
	}
	return s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO schedule_events (revision, at, op, appointment, blockout, audit_id) VALUES (?, ?, ?, ?, ?, ?)`,
			e.Revision, at, e.Op, appt, block, e.Audit.ID); err != nil {
			return storeError(err, "schedule event")
		}
		if err := appendAudit(ctx, tx, e.Audit); err != nil {
			return err
		}
		if e.Appointment != nil {
			if err := saveAppointment(ctx, tx, e.Appointment, appt.String); err != nil {
				return err
			}
		}
		if e.Blockout != nil {
			return saveBlockout(ctx, tx, e.Blockout, block.String)
		}
		return nil
	})
}

// Event implements schedule.Store. The audit record is read from the trail,
// where the commit put it.
func (s *ScheduleStore) Event(ctx context.Context, revision int64) (schedule.Event, error) {
	e := schedule.Event{Revision: revision}
	var appt, block, auditID, actorID, actorEmail, ip, targetType, targetID, detail, requestID sql.NullString
	var auditAt sql.NullInt64
	var action sql.NullInt32
	err := s.db.sql.QueryRowContext(ctx, `SELECT e.op, e.appointment, e.blockout,
			a.id, a.at, a.action, a.actor_id, a.actor_email, a.ip, a.target_type, a.target_id, a.detail, a.request_id
		FROM schedule_events e LEFT JOIN audit_events a ON e.audit_id != '' AND a.id = e.audit_id
		WHERE e.revision = ?`, revision).Scan(&e.Op, &appt, &block,
		&auditID, &auditAt, &action, &actorID, &actorEmail, &ip, &targetType, &targetID, &detail, &requestID)
	if err != nil {
		return schedule.Event{}, storeError(err, "schedule event")
	}
	if auditID.Valid {
		e.Audit = audit.Event{ID: auditID.String, Time: time.UnixMilli(auditAt.Int64).UTC(), Action: molarv1.AuditAction(action.Int32),
			ActorID: actorID.String, ActorEmail: actorEmail.String, IP: ip.String, TargetType: targetType.String, TargetID: targetID.String,
			Detail: detail.String, RequestID: requestID.String}
	}
	if appt.Valid {
		e.Appointment = &molarv1.Appointment{}
		if err := scheduleUnJSON.Unmarshal([]byte(appt.String), e.Appointment); err != nil {
			return schedule.Event{}, err
		}
	}
	if block.Valid {
		e.Blockout = &molarv1.Blockout{}
		if err := scheduleUnJSON.Unmarshal([]byte(block.String), e.Blockout); err != nil {
			return schedule.Event{}, err
		}
	}
	return e, nil
}

// LastRevision implements schedule.Store.
func (s *ScheduleStore) LastRevision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.db.sql.QueryRowContext(ctx, `SELECT COALESCE(MAX(revision), 0) FROM schedule_events`).Scan(&rev)
	return rev, storeError(err, "schedule events")
}

// OldestRevision implements schedule.Store.
func (s *ScheduleStore) OldestRevision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.db.sql.QueryRowContext(ctx, `SELECT COALESCE(MIN(revision), 0) FROM schedule_events`).Scan(&rev)
	return rev, storeError(err, "schedule events")
}

// PruneEvents implements schedule.Store.
func (s *ScheduleStore) PruneEvents(ctx context.Context, below int64) error {
	_, err := s.db.sql.ExecContext(ctx, `DELETE FROM schedule_events WHERE revision < ?`, below)
	return storeError(err, "schedule events")
}

// AuditMark implements schedule.Store.
func (s *ScheduleStore) AuditMark(ctx context.Context) (int64, error) {
	var rev int64
	err := s.db.sql.QueryRowContext(ctx, `SELECT revision FROM schedule_marks WHERE name = 'audit'`).Scan(&rev)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return rev, storeError(err, "audit mark")
}

// SetAuditMark implements schedule.Store: one statement, and a mark lower
// than the stored one changes nothing.
func (s *ScheduleStore) SetAuditMark(ctx context.Context, rev int64) error {
	_, err := s.db.sql.ExecContext(ctx, `INSERT INTO schedule_marks (name, revision) VALUES ('audit', ?)
		ON CONFLICT (name) DO UPDATE SET revision = excluded.revision WHERE excluded.revision > schedule_marks.revision`, rev)
	return storeError(err, "audit mark")
}

// saveAppointment upserts the durable copy of a, whose JSON is doc, unless
// a copy of the same or a newer revision is there.
func saveAppointment(ctx context.Context, x execer, a *molarv1.Appointment, doc string) error {
	_, err := x.ExecContext(ctx, `INSERT INTO appointments (id, provider_id, chair_id, patient_id, start, minutes, status, revision, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET provider_id = excluded.provider_id, chair_id = excluded.chair_id, patient_id = excluded.patient_id,
			start = excluded.start, minutes = excluded.minutes, status = excluded.status, revision = excluded.revision, doc = excluded.doc
		WHERE excluded.revision > appointments.revision`,
		a.GetId(), a.GetProviderId(), a.GetChairId(), a.GetPatientId(), a.GetStartTime().AsTime().UnixMilli(), a.GetMinutes(),
		a.GetStatus().String(), a.GetRevision(), doc)
	return storeError(err, "appointment")
}

// saveBlockout upserts the durable copy of b likewise.
func saveBlockout(ctx context.Context, x execer, b *molarv1.Blockout, doc string) error {
	_, err := x.ExecContext(ctx, `INSERT INTO blockouts (id, provider_id, chair_id, start, minutes, deleted, revision, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET provider_id = excluded.provider_id, chair_id = excluded.chair_id, start = excluded.start,
			minutes = excluded.minutes, deleted = excluded.deleted, revision = excluded.revision, doc = excluded.doc
		WHERE excluded.revision > blockouts.revision`,
		b.GetId(), b.GetProviderId(), b.GetChairId(), b.GetStartTime().AsTime().UnixMilli(), b.GetMinutes(), b.GetDeleted(), b.GetRevision(), doc)
	return storeError(err, "blockout")
}

// SaveAppointment implements schedule.Store. It never overwrites a newer
// copy with an older one; after AppendEvent it usually finds its copy
// stored already.
func (s *ScheduleStore) SaveAppointment(ctx context.Context, a *molarv1.Appointment) error {
	doc, err := scheduleJSON.Marshal(a)
	if err != nil {
		return err
	}
	return saveAppointment(ctx, s.db.sql, a, string(doc))
}

// SaveBlockout implements schedule.Store likewise.
func (s *ScheduleStore) SaveBlockout(ctx context.Context, b *molarv1.Blockout) error {
	doc, err := scheduleJSON.Marshal(b)
	if err != nil {
		return err
	}
	return saveBlockout(ctx, s.db.sql, b, string(doc))
}

// SaveAppointments stores many appointments at once (demo data, imports),
// in one transaction.
func (s *ScheduleStore) SaveAppointments(ctx context.Context, as []*molarv1.Appointment) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		for _, a := range as {
			doc, err := scheduleJSON.Marshal(a)
			if err != nil {
				return err
			}
			if err := saveAppointment(ctx, tx, a, string(doc)); err != nil {
				return err
			}
		}
		return nil
	})
}

// InsertSlots claims many cells at once for demo data and imports, in one
// transaction; claims[i] holds slots[i]. AlreadyExists if a cell is held.
func (s *ScheduleStore) InsertSlots(ctx context.Context, slots []schedule.Slot, claims []schedule.Claim) error {
	return s.db.write(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO schedule_cells (kind, resource, minute, day, owner, op, version, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return storeError(err, "slots")
		}
		defer ins.Close()
		for i, sl := range slots {
			c := claims[i]
			if _, err := ins.ExecContext(ctx, int32(sl.Kind), sl.Resource, sl.Minute, sl.Day, c.Owner, c.Op, c.Version, c.At.UnixMilli()); err != nil {
				return storeError(err, "slot")
			}
		}
		return nil
	})
}

// Range implements schedule.Store.
func (s *ScheduleStore) Range(ctx context.Context, from, to time.Time) ([]*molarv1.Appointment, []*molarv1.Blockout, error) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = from.UnixMilli()
	}
	if !to.IsZero() {
		hi = to.UnixMilli()
	}
	appts, err := loadDocs(ctx, s.db.sql, func() *molarv1.Appointment { return &molarv1.Appointment{} },
		`SELECT doc FROM appointments WHERE start >= ? AND start < ? ORDER BY start, id`, lo, hi)
	if err != nil {
		return nil, nil, err
	}
	blocks, err := loadDocs(ctx, s.db.sql, func() *molarv1.Blockout { return &molarv1.Blockout{} },
		`SELECT doc FROM blockouts WHERE deleted = 0 AND start >= ? AND start < ? ORDER BY start, id`, lo, hi)
	return appts, blocks, err
}

// Appointment implements schedule.Store.
func (s *ScheduleStore) Appointment(ctx context.Context, id string) (*molarv1.Appointment, error) {
	return loadOne(ctx, s.db.sql, "appointment", func() *molarv1.Appointment { return &molarv1.Appointment{} }, `SELECT doc FROM appointments WHERE id = ?`, id)
}

// Blockout implements schedule.Store.
func (s *ScheduleStore) Blockout(ctx context.Context, id string) (*molarv1.Blockout, error) {
	return loadOne(ctx, s.db.sql, "blockout", func() *molarv1.Blockout { return &molarv1.Blockout{} }, `SELECT doc FROM blockouts WHERE id = ?`, id)
}

// PatientAppointments implements schedule.Store.
func (s *ScheduleStore) PatientAppointments(ctx context.Context, patientID string) ([]*molarv1.Appointment, error) {
	return loadDocs(ctx, s.db.sql, func() *molarv1.Appointment { return &molarv1.Appointment{} },
		`SELECT doc FROM appointments WHERE patient_id = ? ORDER BY start, id`, patientID)
}

// loadOne reads the one JSON document a query selects; NotFound if none.
func loadOne[T proto.Message](ctx context.Context, db *sql.DB, what string, mk func() T, query string, args ...any) (T, error) {
	docs, err := loadDocs(ctx, db, mk, query, args...)
	if err != nil || len(docs) == 0 {
		var zero T
		if err == nil {
			err = services.Errorf(services.NotFound, "%s not found", what)
		}
		return zero, err
	}
	return docs[0], nil
}

// Resources implements schedule.Store.
func (s *ScheduleStore) Resources(ctx context.Context) ([]*molarv1.Provider, []*molarv1.Chair, []*molarv1.AppointmentType, error) {
	ps, err := loadDocs(ctx, s.db.sql, func() *molarv1.Provider { return &molarv1.Provider{} }, `SELECT doc FROM providers ORDER BY id`)
	if err != nil {
		return nil, nil, nil, err
	}
	cs, err := loadDocs(ctx, s.db.sql, func() *molarv1.Chair { return &molarv1.Chair{} }, `SELECT doc FROM chairs ORDER BY id`)
	if err != nil {
		return nil, nil, nil, err
	}
	ts, err := loadDocs(ctx, s.db.sql, func() *molarv1.AppointmentType { return &molarv1.AppointmentType{} }, `SELECT doc FROM appointment_types ORDER BY id`)
	return ps, cs, ts, err
}

// loadDocs reads the JSON documents a query selects.
func loadDocs[T proto.Message](ctx context.Context, db *sql.DB, mk func() T, query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, storeError(err, "schedule")
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, storeError(err, "schedule")
		}
		m := mk()
		if err := scheduleUnJSON.Unmarshal([]byte(doc), m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, storeError(rows.Err(), "schedule")
}

// saveResource creates or replaces a provider, chair or type by id. The
// table is one of the three resource tables, never input.
func (s *ScheduleStore) saveResource(ctx context.Context, table, id string, m proto.Message, rec audit.Event) error {
	doc, err := scheduleJSON.Marshal(m)
	if err != nil {
		return err
	}
	return s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, id, string(doc)); err != nil {
			return storeError(err, table)
		}
		return appendAudit(ctx, tx, rec)
	})
}

// SaveProvider implements schedule.Store.
func (s *ScheduleStore) SaveProvider(ctx context.Context, p *molarv1.Provider, rec audit.Event) error {
	return s.saveResource(ctx, "providers", p.GetId(), p, rec)
}

// SaveChair implements schedule.Store.
func (s *ScheduleStore) SaveChair(ctx context.Context, c *molarv1.Chair, rec audit.Event) error {
	return s.saveResource(ctx, "chairs", c.GetId(), c, rec)
}

// SaveType implements schedule.Store.
func (s *ScheduleStore) SaveType(ctx context.Context, t *molarv1.AppointmentType, rec audit.Event) error {
	return s.saveResource(ctx, "appointment_types", t.GetId(), t, rec)
}
