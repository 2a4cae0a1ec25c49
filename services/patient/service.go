// Package patient keeps patients' records and finds them from one search box.
package patient

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// Service holds the patient rules and the in-memory copy of every record
// that searches and reads are served from.
type Service struct {
	store   Store
	changes Changes
	sealer  *Sealer
	audit   *audit.Recorder
	now     func() time.Time
	newID   func() string
	logger  *slog.Logger

	index *Index
	mu    sync.RWMutex
	cache map[string]Record
}

// Deps are what a Service works with.
type Deps struct {
	Store   Store
	Changes Changes
	Sealer  *Sealer
	Audit   *audit.Recorder
	Now     func() time.Time
	NewID   func() string
	Logger  *slog.Logger
}

// NewService returns a Service; call Load before serving.
func NewService(d Deps) *Service {
	return &Service{store: d.Store, changes: d.Changes, sealer: d.Sealer, audit: d.Audit, now: d.Now, newID: d.NewID,
		logger: d.Logger, index: NewIndex(), cache: map[string]Record{}}
}

// Load reads every record into memory.
func (s *Service) Load(ctx context.Context) error {
	all, err := s.store.All(ctx)
	if err != nil {
		return err
	}
	for _, r := range all {
		s.remember(r)
	}
	return nil
}

// Refresh rereads the records whose keys another process announced.
func (s *Service) Refresh(ctx context.Context, ids []string) {
	for _, id := range ids {
		r, err := s.store.Get(ctx, id)
		if err != nil {
			s.logger.Warn("patient not refreshed", "patient_id", id, "error", err.Error())
			continue
		}
		s.remember(r)
	}
}

func (s *Service) remember(r Record) {
	s.mu.Lock()
	if old, ok := s.cache[r.ID]; !ok || old.Version <= r.Version {
		s.cache[r.ID] = r
	}
	s.mu.Unlock()
	s.index.Put(r)
}

func (s *Service) cached(id string) (Record, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.cache[id]
	return r, ok
}

// Count is the number of patients known.
func (s *Service) Count() int { return s.index.Len() }

// Summary is a search result.
type Summary struct {
	ID          string
	ChartNumber int64
	Name        string
	Sex         molarv1.Sex
	BirthDate   string
	PhoneTail   string
	Alerts      []string
	Active      bool
}

func summaryOf(e *entry) Summary {
	tail := e.phone
	if len(tail) > 4 {
		tail = tail[len(tail)-4:]
	}
	alerts := e.alerts
	if len(alerts) > 3 {
		alerts = alerts[:3]
	}
	return Summary{ID: e.id, ChartNumber: e.chart, Name: e.displayName, Sex: e.sex, BirthDate: e.birth, PhoneTail: tail, Alerts: alerts, Active: e.active}
}

// Search finds patients; see Index.Search.
func (s *Service) Search(_ context.Context, q string, includeInactive bool, pageToken string, size int) ([]Summary, string, error) {
	if size <= 0 {
		size = 20
	}
	es, next, err := s.index.Search(q, includeInactive, pageToken, size)
	if err != nil {
		return nil, "", services.InvalidFields(services.Violation{Field: "page_token", Rule: "page_token.valid", Message: "not a page token from this search"})
	}
	out := make([]Summary, len(es))
	for i, e := range es {
		out[i] = summaryOf(e)
	}
	return out, next, nil
}

// Get returns a patient and records the read.
func (s *Service) Get(ctx context.Context, id string) (Record, error) {
	r, ok := s.cached(id)
	if !ok {
		var err error
		if r, err = s.store.Get(ctx, id); err != nil {
			return Record{}, err
		}
		s.remember(r)
	}
	return r, s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_PATIENT_VIEWED, TargetType: "patient", TargetID: id})
}

// Exists reports whether a patient exists, without recording a read.
func (s *Service) Exists(ctx context.Context, id string) error {
	if _, ok := s.cached(id); ok {
		return nil
	}
	r, err := s.store.Get(ctx, id)
	if err == nil {
		s.remember(r)
	}
	return err
}

// Duplicates lists patients a new one with these details may duplicate.
func (s *Service) Duplicates(name, birth, phone string) []Summary {
	var out []Summary
	for _, e := range s.index.duplicates(name, birth, phone) {
		out = append(out, summaryOf(e))
	}
	return out
}

// Create registers a patient under the next free chart number.
func (s *Service) Create(ctx context.Context, in *molarv1.PatientInput, allowDuplicate bool) (Record, error) {
	in = s.normalize(in)
	if err := checkInput(in, s.now()); err != nil {
		return Record{}, err
	}
	if dups := s.Duplicates(in.GetName(), in.GetBirthDate(), in.GetMobilePhone()); len(dups) > 0 && !allowDuplicate {
		return Record{}, services.Errorf(services.FailedPrecondition, "%d existing patient(s) may be the same person; check them or register anyway", len(dups))
	}
	now := s.now()
	r := Record{ID: s.newID(), Active: true, Created: now, Updated: now, Version: 1}
	if in.GetFirstVisitDate() == "" {
		in.FirstVisitDate = now.Format(time.DateOnly)
	}
	if err := s.seal(&r, in); err != nil {
		return Record{}, err
	}
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_PATIENT_CREATED, TargetType: "patient", TargetID: r.ID})
	r, err := s.store.Create(ctx, r, ev)
	if err != nil {
		return Record{}, err
	}
	s.committed(ctx, r, ev)
	return r, nil
}

// committed follows a committed change: this process's copy, the other
// processes, and the audit trail. None of it can fail the change, which
// stands; what does not happen here is caught up by the others' change-log
// polls and by the store's audit recovery.
func (s *Service) committed(ctx context.Context, r Record, ev audit.Event) {
	s.remember(r)
	s.publish(ctx, r)
	if err := s.audit.Project(ctx, ev); err != nil {
		return // logged by the recorder; the event stays pending in the store
	}
	if err := s.store.AuditProjected(context.WithoutCancel(ctx), r.ID, r.Version); err != nil {
		s.logger.Warn("patient audit mark not cleared", "patient_id", r.ID, "error", err.Error())
	}
}

// Update replaces a patient's details. An empty registration number keeps
// the stored one.
func (s *Service) Update(ctx context.Context, id string, in *molarv1.PatientInput, version int64) (Record, error) {
	in = s.normalize(in)
	if err := checkInput(in, s.now()); err != nil {
		return Record{}, err
	}
	r, err := s.store.Get(ctx, id)
	if err != nil {
		return Record{}, err
	}
	if r.Version != version {
		return Record{}, services.Errorf(services.Aborted, "the patient was changed by someone else; reload and try again")
	}
	if in.GetRrn() == "" {
		in.Rrn = ""
		keep := r
		r.Details = in
		r.RRNKeyID, r.RRNSealed, r.RRNMasked = keep.RRNKeyID, keep.RRNSealed, keep.RRNMasked
	} else if err := s.seal(&r, in); err != nil {
		return Record{}, err
	}
	r.Updated = s.now()
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_PATIENT_UPDATED, TargetType: "patient", TargetID: id})
	saved, err := s.store.Save(ctx, r, ev)
	if err != nil {
		return Record{}, err
	}
	s.committed(ctx, saved, ev)
	return saved, nil
}

// SetActive deactivates (with a reason) or reactivates a patient.
func (s *Service) SetActive(ctx context.Context, id string, active bool, reason string) (Record, error) {
	r, err := s.store.Get(ctx, id)
	if err != nil {
		return Record{}, err
	}
	if r.Active == active {
		return r, nil
	}
	r.Active, r.DeactivationReason, r.Updated = active, strings.TrimSpace(reason), s.now()
	if active {
		r.DeactivationReason = ""
	}
	action := molarv1.AuditAction_AUDIT_ACTION_PATIENT_REACTIVATED
	if !active {
		action = molarv1.AuditAction_AUDIT_ACTION_PATIENT_DEACTIVATED
	}
	ev := s.audit.Stamp(ctx, audit.Event{Action: action, TargetType: "patient", TargetID: id, Detail: r.DeactivationReason})
	saved, err := s.store.Save(ctx, r, ev)
	if err != nil {
		return Record{}, err
	}
	s.committed(ctx, saved, ev)
	return saved, nil
}

// RevealRRN decrypts a patient's registration number and records that it
// was seen.
func (s *Service) RevealRRN(ctx context.Context, id string) (string, error) {
	r, err := s.store.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if len(r.RRNSealed) == 0 {
		return "", services.Errorf(services.NotFound, "no registration number on record")
	}
	if err := s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_RRN_REVEALED, TargetType: "patient", TargetID: id}); err != nil {
		return "", err
	}
	return s.sealer.Open(id, r.RRNKeyID, r.RRNSealed)
}

func (s *Service) seal(r *Record, in *molarv1.PatientInput) error {
	rrn := in.GetRrn()
	in.Rrn = ""
	r.Details = in
	r.RRNKeyID, r.RRNSealed, r.RRNMasked = "", nil, ""
	if rrn == "" {
		return nil
	}
	rrn = normalizeRRN(rrn)
	kid, sealed, err := s.sealer.Seal(r.ID, rrn)
	if err != nil {
		return err
	}
	r.RRNKeyID, r.RRNSealed, r.RRNMasked = kid, sealed, MaskRRN(rrn)
	return nil
}

func (s *Service) publish(ctx context.Context, r Record) {
	if err := s.changes.Publish(ctx, ChangeKind, r.ID, r.Version); err != nil {
		s.logger.Warn("patient change not published", "patient_id", r.ID, "error", err.Error())
	}
}

// normalize trims text and formats the phone as 010-1234-5678.
func (s *Service) normalize(in *molarv1.PatientInput) *molarv1.PatientInput {
	in = proto.CloneOf(in)
	in.Name = strings.Join(strings.Fields(in.GetName()), " ")
	in.Address = strings.TrimSpace(in.GetAddress())
	in.Email = strings.ToLower(strings.TrimSpace(in.GetEmail()))
	in.Memo = strings.TrimSpace(in.GetMemo())
	if d := digits(in.GetMobilePhone()); len(d) == 11 {
		in.MobilePhone = d[:3] + "-" + d[3:7] + "-" + d[7:]
	} else if len(d) == 10 {
		in.MobilePhone = d[:3] + "-" + d[3:6] + "-" + d[6:]
	}
	return in
}

// checkInput applies the rules the schema cannot: real dates, not in the
// future, and a registration number that agrees with the birth date.
func checkInput(in *molarv1.PatientInput, now time.Time) error {
	var vs []services.Violation
	birth, err := time.Parse(time.DateOnly, in.GetBirthDate())
	if err != nil {
		vs = append(vs, services.Violation{Field: "details.birth_date", Rule: "patient.birth_date.valid", Message: "not a calendar date"})
	} else if birth.After(now) {
		vs = append(vs, services.Violation{Field: "details.birth_date", Rule: "patient.birth_date.past", Message: "birth date is in the future"})
	}
	if fv := in.GetFirstVisitDate(); fv != "" {
		if _, err := time.Parse(time.DateOnly, fv); err != nil {
			vs = append(vs, services.Violation{Field: "details.first_visit_date", Rule: "patient.first_visit_date.valid", Message: "not a calendar date"})
		}
	}
	if rrn := normalizeRRN(in.GetRrn()); rrn != "" && err == nil && rrn[:6] != birth.Format("060102") {
		vs = append(vs, services.Violation{Field: "details.rrn", Rule: "patient.rrn.birth_date", Message: "the first six digits must be the birth date"})
	}
	if len(vs) > 0 {
		return services.InvalidFields(vs...)
	}
	return nil
}

// Import registers many patients at once (demo data, or a migration from
// another system) under consecutive chart numbers, through insert, which
// stores them in bulk. No duplicate check is made.
func (s *Service) Import(ctx context.Context, ins []*molarv1.PatientInput, insert func(context.Context, []Record) error) error {
	n, err := s.store.MaxChartNumber(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	recs := make([]Record, 0, len(ins))
	for _, in := range ins {
		in = s.normalize(in)
		if err := checkInput(in, now); err != nil {
			return err
		}
		n++
		r := Record{ID: s.newID(), ChartNumber: n, Active: true, Created: now, Updated: now, Version: 1}
		if in.GetFirstVisitDate() == "" {
			in.FirstVisitDate = now.Format(time.DateOnly)
		}
		if err := s.seal(&r, in); err != nil {
			return err
		}
		recs = append(recs, r)
	}
	if err := insert(ctx, recs); err != nil {
		return err
	}
	for _, r := range recs {
		s.remember(r)
	}
	return nil
}

// IDs returns the ids of every patient known, in chart-number order.
func (s *Service) IDs() []string {
	es, _, _ := s.index.Search("", true, "", s.index.Len()+1)
	out := make([]string, len(es))
	for i := range es {
		out[len(es)-1-i] = es[i].id
	}
	return out
}

// Label returns a patient's name and chart number, for the appointment book.
func (s *Service) Label(ctx context.Context, id string) (string, int64, error) {
	if err := s.Exists(ctx, id); err != nil {
		return "", 0, err
	}
	r, _ := s.cached(id)
	return r.Details.GetName(), r.ChartNumber, nil
}
