package chart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// Service holds the charting, notes and catalog rules.
type Service struct {
	store    Store
	catalog  Catalog
	patients Patients
	changes  Changes
	audit    *audit.Recorder
	now      func() time.Time
	newID    func() string
	logger   *slog.Logger

	mu    sync.Mutex
	procs []*molarv1.Procedure
	etag  string
	// reads counts catalog reads begun; kept is the number of the read
	// whose result procs holds. A read that began earlier than the kept
	// one saw an older catalog and is dropped.
	reads, kept uint64
}

// Deps are what a Service works with.
type Deps struct {
	Store    Store
	Catalog  Catalog
	Patients Patients
	Changes  Changes
	Audit    *audit.Recorder
	Now      func() time.Time
	NewID    func() string
	Logger   *slog.Logger
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	return &Service{store: d.Store, catalog: d.Catalog, patients: d.Patients, changes: d.Changes, audit: d.Audit,
		now: d.Now, newID: d.NewID, logger: d.Logger}
}

func (s *Service) latest(ctx context.Context, patientID string) (Record, error) {
	if err := s.patients.Exists(ctx, patientID); err != nil {
		return Record{}, err
	}
	return s.store.Latest(ctx, patientID)
}

// modify applies change to the newest version and saves the result as the
// next one, carrying the audit event change returns. If another writer saved
// first it starts again from theirs: chart changes are independent of each
// other, so nobody's work is lost. Once the version is stored the change
// stands: projecting its event cannot fail it.
func (s *Service) modify(ctx context.Context, patientID string, change func(*Record) (audit.Event, error)) (Record, error) {
	wait := services.NewContention()
	for attempt := 0; attempt < 20; attempt++ {
		cur, err := s.latest(ctx, patientID)
		if err != nil {
			return Record{}, err
		}
		next := cur.clone()
		next.PatientID = patientID
		e, err := change(&next)
		if err != nil {
			return Record{}, err
		}
		next.Version = cur.Version + 1
		e.TargetType, e.TargetID = "patient", patientID
		ev := s.audit.Stamp(ctx, e)
		err = s.store.Insert(ctx, ChangeFrom(cur, next), ev)
		if services.ErrorCode(err) == services.AlreadyExists {
			// Another writer took this version: decide again on theirs.
			if !wait.Wait(ctx) {
				break
			}
			continue
		}
		if err != nil {
			return Record{}, err
		}
		if err := s.changes.Publish(ctx, ChangeKindRecord, patientID, next.Version); err != nil {
			s.logger.Warn("chart change not published", "patient_id", patientID, "error", err.Error())
		}
		if s.audit.Project(ctx, ev) == nil {
			if err := s.store.AuditProjected(context.WithoutCancel(ctx), patientID, next.Version); err != nil {
				s.logger.Warn("chart audit mark not cleared", "patient_id", patientID, "error", err.Error())
			}
		}
		return next, nil
	}
	return Record{}, services.Errorf(services.Aborted, "the chart is being changed by others; try again")
}

// actor is the caller's staff id and the name colleagues know them by.
func actor(ctx context.Context) (string, string) {
	if p := services.PrincipalFrom(ctx); p != nil {
		if p.Name != "" {
			return p.StaffID, p.Name
		}
		return p.StaffID, p.Email
	}
	return "", ""
}

// Chart returns the chart now or at asOf, with every change made to it.
func (s *Service) Chart(ctx context.Context, patientID string, asOf time.Time) ([]Entry, int, []Event, error) {
	r, err := s.latest(ctx, patientID)
	if err != nil {
		return nil, 0, nil, err
	}
	if err := s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_CHART_VIEWED, TargetType: "patient", TargetID: patientID}); err != nil {
		return nil, 0, nil, err
	}
	entries, n := r.ChartAt(asOf)
	return entries, n, r.Events, nil
}

// AddEntryInput is what is charted.
type AddEntryInput struct {
	Tooth         int32
	Surfaces      []molarv1.Surface
	Condition     molarv1.Condition
	ProcedureCode string
	Status        molarv1.EntryStatus
}

// AddEntry charts a condition or a procedure from the catalog.
func (s *Service) AddEntry(ctx context.Context, patientID string, in AddEntryInput) (Entry, error) {
	e := Entry{ID: s.newID(), Tooth: in.Tooth, Surfaces: in.Surfaces}
	if in.ProcedureCode != "" {
		proc, err := s.procedure(ctx, in.ProcedureCode)
		if err != nil {
			return Entry{}, err
		}
		var vs []services.Violation
		if proc.GetRequiresTooth() && in.Tooth == 0 {
			vs = append(vs, services.Violation{Field: "tooth", Rule: "chart.tooth.required", Message: "this procedure is charted on a tooth"})
		}
		if proc.GetRequiresSurfaces() && len(in.Surfaces) == 0 {
			vs = append(vs, services.Violation{Field: "surfaces", Rule: "chart.surfaces.required", Message: "this procedure needs the surfaces"})
		}
		if in.Status == molarv1.EntryStatus_ENTRY_STATUS_UNSPECIFIED {
			vs = append(vs, services.Violation{Field: "status", Rule: "chart.status.required", Message: "say whether it is planned, completed or existing"})
		}
		if len(vs) > 0 {
			return Entry{}, services.InvalidFields(vs...)
		}
		e.ProcedureCode, e.ProcedureName, e.Fee, e.Status = proc.GetCode(), proc.GetNameKo(), proc.GetFee(), in.Status
	} else {
		e.Condition = in.Condition
	}
	id, name := actor(ctx)
	now := s.now()
	e.CreatedBy, e.Created, e.UpdatedBy, e.Updated = name, now, name, now
	if e.Status == molarv1.EntryStatus_ENTRY_STATUS_COMPLETED {
		e.Completed = now
	}
	if _, err := s.modify(ctx, patientID, func(r *Record) (audit.Event, error) {
		r.Events = append(r.Events, Event{Type: EventAdd, At: now, By: id, ByName: name, Entry: e})
		return audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_CHART_CHANGED, Detail: fmt.Sprintf("added %s on %d", describe(e), e.Tooth)}, nil
	}); err != nil {
		return Entry{}, err
	}
	return e, nil
}

func describe(e Entry) string {
	if e.ProcedureCode != "" {
		return e.ProcedureCode + " (" + strings.TrimPrefix(e.Status.String(), "ENTRY_STATUS_") + ")"
	}
	return strings.TrimPrefix(e.Condition.String(), "CONDITION_")
}

// SetStatus moves a procedure to another status.
func (s *Service) SetStatus(ctx context.Context, patientID, entryID string, status molarv1.EntryStatus) (Entry, error) {
	id, name := actor(ctx)
	now := s.now()
	r, err := s.modify(ctx, patientID, func(r *Record) (audit.Event, error) {
		entries, _ := r.ChartAt(time.Time{})
		i := slices.IndexFunc(entries, func(x Entry) bool { return x.ID == entryID })
		if i < 0 {
			return audit.Event{}, services.Errorf(services.NotFound, "no such entry on the chart")
		}
		if entries[i].ProcedureCode == "" {
			return audit.Event{}, services.Errorf(services.FailedPrecondition, "conditions have no status")
		}
		r.Events = append(r.Events, Event{Type: EventStatus, At: now, By: id, ByName: name, EntryID: entryID, Status: status})
		return audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_CHART_CHANGED,
			Detail: fmt.Sprintf("%s on %d now %s", entries[i].ProcedureCode, entries[i].Tooth, strings.TrimPrefix(status.String(), "ENTRY_STATUS_"))}, nil
	})
	if err != nil {
		return Entry{}, err
	}
	entries, _ := r.ChartAt(time.Time{})
	return entries[slices.IndexFunc(entries, func(x Entry) bool { return x.ID == entryID })], nil
}

// RemoveEntry takes an entry off the chart; the history keeps it.
func (s *Service) RemoveEntry(ctx context.Context, patientID, entryID, reason string) error {
	id, name := actor(ctx)
	now := s.now()
	_, err := s.modify(ctx, patientID, func(r *Record) (audit.Event, error) {
		entries, _ := r.ChartAt(time.Time{})
		if !slices.ContainsFunc(entries, func(x Entry) bool { return x.ID == entryID }) {
			return audit.Event{}, services.Errorf(services.NotFound, "no such entry on the chart")
		}
		r.Events = append(r.Events, Event{Type: EventRemove, At: now, By: id, ByName: name, EntryID: entryID, Reason: reason})
		return audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_CHART_CHANGED, Detail: "removed an entry: " + reason}, nil
	})
	return err
}

// Notes lists a patient's notes newest first, a page at a time. The page
// token is the id of the last note shown.
func (s *Service) Notes(ctx context.Context, patientID, tag string, includeRemoved bool, after string, size int) ([]Note, string, error) {
	r, err := s.latest(ctx, patientID)
	if err != nil {
		return nil, "", err
	}
	if err := s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_NOTES_VIEWED, TargetType: "patient", TargetID: patientID}); err != nil {
		return nil, "", err
	}
	if size <= 0 {
		size = 20
	}
	var out []Note
	started := after == ""
	for i := len(r.Notes) - 1; i >= 0; i-- {
		n := r.Notes[i]
		if !started {
			started = n.ID == after
			continue
		}
		if (n.Removed && !includeRemoved) || (tag != "" && !slices.Contains(n.Tags, tag)) {
			continue
		}
		if len(out) == size {
			return out, out[size-1].ID, nil
		}
		out = append(out, n)
	}
	if !started {
		return nil, "", services.InvalidFields(services.Violation{Field: "page_token", Rule: "page_token.valid", Message: "not a page token from this list"})
	}
	return out, "", nil
}

// AddNote writes a note.
func (s *Service) AddNote(ctx context.Context, patientID, title, content string, tags []string) (Note, error) {
	id, name := actor(ctx)
	now := s.now()
	n := Note{ID: patientID + "." + s.newID(), Title: strings.TrimSpace(title), Content: content, Tags: tags, AuthorID: id, AuthorName: name,
		Created: now, Updated: now, UpdatedBy: name, Version: 1}
	if _, err := s.modify(ctx, patientID, func(r *Record) (audit.Event, error) {
		r.Notes = append(r.Notes, n)
		return audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_NOTE_ADDED, Detail: "note " + n.ID}, nil
	}); err != nil {
		return Note{}, err
	}
	return n, nil
}

// AmendNote replaces a note's text, keeping the earlier version. It fails
// with Aborted if the note was amended since version.
func (s *Service) AmendNote(ctx context.Context, noteID, title, content string, tags []string, version int64) (Note, error) {
	return s.changeNote(ctx, noteID, molarv1.AuditAction_AUDIT_ACTION_NOTE_AMENDED, func(n *Note) error {
		if n.Version != version {
			return services.Errorf(services.Aborted, "the note was amended by someone else; reload and try again")
		}
		if n.Removed {
			return services.Errorf(services.FailedPrecondition, "the note was removed")
		}
		if err := mayChangeNote(ctx, n); err != nil {
			return err
		}
		_, name := actor(ctx)
		n.Revisions = append(n.Revisions, NoteRevision{Title: n.Title, Content: n.Content, Tags: n.Tags, AuthorName: n.UpdatedBy, Time: n.Updated})
		n.Title, n.Content, n.Tags, n.Version = strings.TrimSpace(title), content, tags, n.Version+1
		n.UpdatedBy, n.Updated = name, s.now()
		return nil
	})
}

// RemoveNote hides a note with a reason.
func (s *Service) RemoveNote(ctx context.Context, noteID, reason string) error {
	_, err := s.changeNote(ctx, noteID, molarv1.AuditAction_AUDIT_ACTION_NOTE_REMOVED, func(n *Note) error {
		if err := mayChangeNote(ctx, n); err != nil {
			return err
		}
		n.Removed, n.RemovedReason = true, reason
		return nil
	})
	return err
}

// mayChangeNote lets a note be amended or removed by its author or by a
// dentist only: the record's author answers for it (의료법 §22).
func mayChangeNote(ctx context.Context, n *Note) error {
	p := services.PrincipalFrom(ctx)
	if p == nil || p.StaffID == n.AuthorID || slices.Contains(p.Roles, molarv1.Role_ROLE_DENTIST) {
		return nil
	}
	return services.Errorf(services.PermissionDenied, "only the note's author or a dentist may change it")
}

func (s *Service) changeNote(ctx context.Context, noteID string, action molarv1.AuditAction, change func(*Note) error) (Note, error) {
	// A note's id starts with its patient's id.
	patientID, _, ok := strings.Cut(noteID, ".")
	if !ok {
		return Note{}, services.Errorf(services.NotFound, "note not found")
	}
	var out Note
	if _, err := s.modify(ctx, patientID, func(r *Record) (audit.Event, error) {
		i := slices.IndexFunc(r.Notes, func(n Note) bool { return n.ID == noteID })
		if i < 0 {
			return audit.Event{}, services.Errorf(services.NotFound, "note not found")
		}
		if err := change(&r.Notes[i]); err != nil {
			return audit.Event{}, err
		}
		out = r.Notes[i]
		return audit.Event{Action: action, Detail: "note " + noteID}, nil
	}); err != nil {
		return Note{}, err
	}
	return out, nil
}

// Procedures returns the catalog by code and its entity tag.
func (s *Service) Procedures(ctx context.Context) ([]*molarv1.Procedure, string, error) {
	s.mu.Lock()
	procs, etag := s.procs, s.etag
	s.mu.Unlock()
	if procs != nil {
		return procs, etag, nil
	}
	return s.ReloadCatalog(ctx)
}

// CatalogETag is the entity tag of the catalog as this process has it.
func (s *Service) CatalogETag(ctx context.Context) (string, error) {
	_, etag, err := s.Procedures(ctx)
	return etag, err
}

// ReloadCatalog rereads the catalog (after a change anywhere).
func (s *Service) ReloadCatalog(ctx context.Context) ([]*molarv1.Procedure, string, error) {
	s.mu.Lock()
	s.reads++
	read := s.reads
	s.mu.Unlock()
	procs, err := s.catalog.List(ctx)
	if err != nil {
		return nil, "", err
	}
	slices.SortFunc(procs, func(a, b *molarv1.Procedure) int { return strings.Compare(a.GetCode(), b.GetCode()) })
	h := sha256.New()
	for _, p := range procs {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		h.Write(b)
	}
	etag := `"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
	s.mu.Lock()
	defer s.mu.Unlock()
	if read < s.kept {
		return s.procs, s.etag, nil
	}
	s.procs, s.etag, s.kept = procs, etag, read
	return procs, etag, nil
}

// SaveProcedure creates or replaces a catalog entry. Once stored the change
// stands: reloading, announcing and projecting its audit event cannot fail it.
func (s *Service) SaveProcedure(ctx context.Context, p *molarv1.Procedure) error {
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_CATALOG_CHANGED, TargetType: "procedure", TargetID: p.GetCode()})
	if err := s.catalog.Save(ctx, p, ev); err != nil {
		return err
	}
	if _, _, err := s.ReloadCatalog(ctx); err != nil {
		s.logger.Warn("catalog not reloaded", "error", err.Error())
	}
	if err := s.changes.Publish(ctx, ChangeKindCatalog, p.GetCode(), 0); err != nil {
		s.logger.Warn("catalog change not published", "error", err.Error())
	}
	if s.audit.Project(ctx, ev) == nil {
		if err := s.catalog.CatalogAuditProjected(context.WithoutCancel(ctx), ev.ID); err != nil {
			s.logger.Warn("catalog audit mark not cleared", "error", err.Error())
		}
	}
	return nil
}

func (s *Service) procedure(ctx context.Context, code string) (*molarv1.Procedure, error) {
	procs, _, err := s.Procedures(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range procs {
		if p.GetCode() == code {
			if !p.GetActive() {
				return nil, services.InvalidFields(services.Violation{Field: "procedure_code", Rule: "chart.procedure_code.active", Message: "this procedure is no longer offered"})
			}
			return p, nil
		}
	}
	return nil, services.InvalidFields(services.Violation{Field: "procedure_code", Rule: "chart.procedure_code.known", Message: "no such procedure in the catalog"})
}

// Completed lists a patient's completed procedures with what billing needs.
func (s *Service) Completed(ctx context.Context, patientID string) ([]Entry, error) {
	r, err := s.latest(ctx, patientID)
	if err != nil {
		return nil, err
	}
	entries, _ := r.ChartAt(time.Time{})
	return slices.DeleteFunc(entries, func(e Entry) bool {
		return e.ProcedureCode == "" || e.Status != molarv1.EntryStatus_ENTRY_STATUS_COMPLETED
	}), nil
}

// Insured reports whether a catalog procedure is covered by insurance.
func (s *Service) Insured(ctx context.Context, code string) bool {
	procs, _, err := s.Procedures(ctx)
	if err != nil {
		return false
	}
	for _, p := range procs {
		if p.GetCode() == code {
			return p.GetInsured()
		}
	}
	return false
}
