package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/jobs"
)

// Renditions of an image and the longest side of each derived one.
const (
	RenditionOriginal = "original"
	RenditionPreview  = "preview"
	RenditionGrid     = "grid"
)

// JobKind is the kind of the background job that makes an image's
// thumbnails; its payload is the image id.
const JobKind = "thumbnail"

// LinkTTL is how long a link to an image's bytes works.
const LinkTTL = 10 * time.Minute

// RetentionYears is how long a radiograph is kept (의료법 시행규칙 §15).
const RetentionYears = 5

// Service holds the rules of a patient's images.
type Service struct {
	store    Store
	blobs    Blobs
	queue    Enqueuer
	patients Patients
	changes  Changes
	audit    *audit.Recorder
	signer   *URLSigner
	limits   Limits
	loc      func() *time.Location
	now      func() time.Time
	logger   *slog.Logger
	hub      *hub
}

// Deps are what a Service works with.
type Deps struct {
	Store    Store
	Blobs    Blobs
	Queue    Enqueuer
	Patients Patients
	Changes  Changes
	Audit    *audit.Recorder
	Signer   *URLSigner
	Limits   Limits
	// Location is the clinic's time zone, for the day an image was taken.
	Location func() *time.Location
	Now      func() time.Time
	Logger   *slog.Logger
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	return &Service{store: d.Store, blobs: d.Blobs, queue: d.Queue, patients: d.Patients, changes: d.Changes, audit: d.Audit,
		signer: d.Signer, limits: d.Limits, loc: d.Location, now: d.Now, logger: d.Logger, hub: newHub()}
}

// Limits returns the limits uploads are held to.
func (s *Service) Limits() Limits { return s.limits }

// UploadMeta is what the browser says about a file it uploads (the tus
// Upload-Metadata).
type UploadMeta struct {
	PatientID     string
	Kind          molarv1.ImageKind
	TakenOn       string
	Teeth         []int32
	FileName      string
	AppointmentID string
	ChartEntryID  string
	Note          string
}

// ParseMeta reads and checks upload metadata; a bad value is Invalid with
// a violation naming its key.
func (s *Service) ParseMeta(m map[string]string) (UploadMeta, error) {
	var v []services.Violation
	bad := func(field, rule, msg string) {
		v = append(v, services.Violation{Field: field, Rule: rule, Message: msg})
	}
	meta := UploadMeta{PatientID: m["patient_id"], TakenOn: m["taken_on"], FileName: m["filename"], AppointmentID: m["appointment_id"],
		ChartEntryID: m["chart_entry_id"], Note: m["note"]}
	if meta.PatientID == "" || len(meta.PatientID) > 64 {
		bad("patient_id", "image.patient_id.required", "the patient is required")
	}
	k, ok := molarv1.ImageKind_value[m["kind"]]
	if !ok || k == 0 {
		bad("kind", "image.kind.defined", "the kind must be one of the image kinds")
	}
	meta.Kind = molarv1.ImageKind(k)
	day, err := time.ParseInLocation(time.DateOnly, meta.TakenOn, s.loc())
	switch {
	case err != nil:
		bad("taken_on", "image.taken_on.date", "the day taken must be a date YYYY-MM-DD")
	case day.After(s.now().In(s.loc())):
		bad("taken_on", "image.taken_on.past", "the day taken cannot be in the future")
	}
	if t := strings.TrimSpace(m["teeth"]); t != "" {
		for _, part := range strings.Split(t, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || !fdi(int32(n)) {
				bad("teeth", "image.teeth.fdi", "not an FDI tooth number (11-48, 51-85)")
				break
			}
			if !slices.Contains(meta.Teeth, int32(n)) {
				meta.Teeth = append(meta.Teeth, int32(n))
			}
		}
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{{"filename", meta.FileName, 255}, {"note", meta.Note, 500}, {"appointment_id", meta.AppointmentID, 64}, {"chart_entry_id", meta.ChartEntryID, 64}} {
		if len(f.value) > f.max {
			bad(f.name, "image."+f.name+".max_len", fmt.Sprintf("at most %d bytes", f.max))
		}
	}
	if len(v) > 0 {
		return meta, services.InvalidFields(v...)
	}
	return meta, nil
}

// fdi tells whether n is an FDI tooth number.
func fdi(n int32) bool {
	q, t := n/10, n%10
	return (q >= 1 && q <= 4 && t >= 1 && t <= 8) || (q >= 5 && q <= 8 && t >= 1 && t <= 5)
}

// CheckUpload is the check made when an upload is created, before any
// byte is sent: the metadata, the patient and the declared size.
func (s *Service) CheckUpload(ctx context.Context, m map[string]string, size int64) (UploadMeta, error) {
	meta, err := s.ParseMeta(m)
	if err != nil {
		return meta, err
	}
	if s.limits.MaxBytes > 0 && size > s.limits.MaxBytes {
		return meta, refuse(RuleTooLarge, "the file is %d bytes; at most %d are accepted", size, s.limits.MaxBytes)
	}
	return meta, s.patients.Exists(ctx, meta.PatientID)
}

func originalKey(id string) string { return "images/" + id + "/original" }
func renditionKey(id, r string) string {
	return "images/" + id + "/" + r + ".jpg"
}

// Accept stores a completed upload as a new image: its content is checked
// (Inspect), its bytes are put in the blob store under the image's key,
// and the image record, version 1 with its upload's audit event, is saved:
// that save is the commit point. If the process stops before it, the
// upload is not an image (its bytes, if stored, are overwritten by the
// retry that finishes it); after it, the image stands and its thumbnail
// job is queued now or by the next sweep. The image id is the upload's, so
// finishing the same upload twice stores one image.
func (s *Service) Accept(ctx context.Context, uploadID string, meta UploadMeta, r io.ReaderAt, size int64) (*molarv1.Image, error) {
	info, err := Inspect(r, size, s.limits)
	if err != nil {
		return nil, err
	}
	if err := s.patients.Exists(ctx, meta.PatientID); err != nil {
		return nil, err
	}
	id := uploadID
	if prior, err := s.store.Get(ctx, id); err == nil {
		return prior, nil
	}
	blob, err := s.blobs.Put(ctx, originalKey(id), io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	p := services.PrincipalFrom(ctx)
	img := &molarv1.Image{
		Id: id, PatientId: meta.PatientID, Kind: meta.Kind, TakenOn: meta.TakenOn, Teeth: meta.Teeth, ChartEntryId: meta.ChartEntryID,
		AppointmentId: meta.AppointmentID, Note: meta.Note, FileName: meta.FileName, MediaType: string(info.Format),
		Width: int32(info.Width), Height: int32(info.Height), SizeBytes: blob.Size, Sha256: blob.SHA256,
		ThumbnailStatus: molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED, UploadTime: timestamppb.New(s.now()), Version: 1,
	}
	if p != nil {
		img.UploadedBy, img.UploadedByName = p.StaffID, p.Name
	}
	ev := s.audit.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_IMAGE_UPLOADED, TargetType: "patient", TargetID: img.GetPatientId(),
		Detail: fmt.Sprintf("image %s %s %s %dx%d", id, kindName(img.GetKind()), info.Format, info.Width, info.Height)})
	if err := s.store.Save(ctx, img, ev); err != nil {
		if services.ErrorCode(err) == services.AlreadyExists {
			return s.store.Get(ctx, id)
		}
		return nil, err
	}
	s.committed(ctx, img, ev)
	if err := s.queue.Enqueue(ctx, thumbnailJob(id, s.now())); err != nil {
		s.logger.Warn("thumbnail job not queued; the sweep queues it", "image_id", id, "error", err.Error())
	}
	return img, nil
}

func thumbnailJob(id string, now time.Time) jobs.Job {
	return jobs.Job{ID: JobKind + ":" + id, Kind: JobKind, Payload: []byte(id), CreateTime: now}
}

func kindName(k molarv1.ImageKind) string { return strings.TrimPrefix(k.String(), "IMAGE_KIND_") }

// committed finishes a saved change: the trail, other processes, watchers.
func (s *Service) committed(ctx context.Context, img *molarv1.Image, ev audit.Event) {
	if s.audit.Project(ctx, ev) == nil {
		if err := s.store.AuditProjected(context.WithoutCancel(ctx), img.GetId(), img.GetVersion()); err != nil {
			s.logger.Warn("image audit mark not cleared", "image_id", img.GetId(), "error", err.Error())
		}
	}
	s.announce(ctx, img.GetPatientId())
}

// announce tells this process's watchers and the other processes that a
// patient's images changed.
func (s *Service) announce(ctx context.Context, patientID string) {
	if err := s.changes.Publish(context.WithoutCancel(ctx), ChangeKind, patientID, s.now().UnixMilli()); err != nil {
		s.logger.Warn("image change not published", "patient_id", patientID, "error", err.Error())
	}
	s.Refresh(context.WithoutCancel(ctx), []string{patientID})
}

// List returns a patient's images, newest first, filtered, each DONE one
// with a link to its grid thumbnail for the caller. The view is recorded
// before the answer is sent.
func (s *Service) List(ctx context.Context, patientID string, kind molarv1.ImageKind, tooth int32, includeRemoved bool) ([]*molarv1.Image, error) {
	if err := s.patients.Exists(ctx, patientID); err != nil {
		return nil, err
	}
	all, err := s.store.List(ctx, patientID)
	if err != nil {
		return nil, err
	}
	out := make([]*molarv1.Image, 0, len(all))
	for _, img := range all {
		if (img.GetRemoved() && !includeRemoved) || (kind != 0 && img.GetKind() != kind) || (tooth != 0 && !slices.Contains(img.GetTeeth(), tooth)) {
			continue
		}
		out = append(out, s.withGrid(ctx, img))
	}
	if err := s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_IMAGES_VIEWED, TargetType: "patient", TargetID: patientID,
		Detail: fmt.Sprintf("%d images", len(out))}); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) withGrid(ctx context.Context, img *molarv1.Image) *molarv1.Image {
	out := proto.CloneOf(img)
	if img.GetThumbnailStatus() == molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE {
		out.GridUrl = s.link(ctx, img.GetId(), RenditionGrid)
	}
	return out
}

// link is the caller's short-lived link to a rendition of an image.
func (s *Service) link(ctx context.Context, id, rendition string) string {
	user := ""
	if p := services.PrincipalFrom(ctx); p != nil {
		user = p.StaffID
	}
	q := url.Values{"u": {user}, "t": {s.signer.Sign(id, rendition, user, LinkTTL)}}
	return "/media/" + url.PathEscape(id) + "/" + rendition + "?" + q.Encode()
}

// Get returns an image and the caller's links to its bytes; the view is
// recorded before the answer is sent.
func (s *Service) Get(ctx context.Context, id string) (*molarv1.Image, *molarv1.ImageLinks, error) {
	img, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if err := s.audit.Record(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_IMAGE_VIEWED, TargetType: "patient", TargetID: img.GetPatientId(),
		Detail: "image " + id}); err != nil {
		return nil, nil, err
	}
	links := &molarv1.ImageLinks{OriginalUrl: s.link(ctx, id, RenditionOriginal), ExpireTime: timestamppb.New(s.now().Add(LinkTTL))}
	if img.GetThumbnailStatus() == molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE {
		links.PreviewUrl, links.GridUrl = s.link(ctx, id, RenditionPreview), s.link(ctx, id, RenditionGrid)
	}
	return img, links, nil
}

// Open checks a link (the rendition of image id, given to user, with its
// token) and opens the bytes it leads to, with their media type.
func (s *Service) Open(ctx context.Context, id, rendition, user, token string) (io.ReadSeekCloser, string, *molarv1.Image, error) {
	if err := s.signer.Verify(token, id, rendition, user); err != nil {
		return nil, "", nil, err
	}
	img, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, "", nil, err
	}
	key, media := originalKey(id), img.GetMediaType()
	switch rendition {
	case RenditionOriginal:
	case RenditionPreview, RenditionGrid:
		key, media = renditionKey(id, rendition), "image/jpeg"
	default:
		return nil, "", nil, services.Errorf(services.NotFound, "no rendition %s", rendition)
	}
	r, _, err := s.blobs.Open(ctx, key)
	if err != nil {
		return nil, "", nil, err
	}
	return r, media, img, nil
}

// Update corrects what can be corrected of an image.
func (s *Service) Update(ctx context.Context, req *molarv1.UpdateImageRequest) (*molarv1.Image, error) {
	return s.change(ctx, req.GetId(), req.GetVersion(), molarv1.AuditAction_AUDIT_ACTION_IMAGE_CHANGED, func(img *molarv1.Image) (string, error) {
		if img.GetRemoved() {
			return "", services.Errorf(services.FailedPrecondition, "a removed image cannot be changed")
		}
		day, err := time.ParseInLocation(time.DateOnly, req.GetTakenOn(), s.loc())
		if err != nil || day.After(s.now().In(s.loc())) {
			return "", services.InvalidFields(services.Violation{Field: "taken_on", Rule: "image.taken_on.past", Message: "the day taken must be a date not in the future"})
		}
		img.Kind, img.TakenOn, img.Teeth = req.GetKind(), req.GetTakenOn(), req.GetTeeth()
		img.ChartEntryId, img.AppointmentId, img.Note = req.GetChartEntryId(), req.GetAppointmentId(), req.GetNote()
		return fmt.Sprintf("image %s %s %s", img.GetId(), kindName(img.GetKind()), img.GetTakenOn()), nil
	})
}

// Remove removes an image with a reason; a radiograph is kept five years
// from the day it was taken.
func (s *Service) Remove(ctx context.Context, id, reason string, version int64) (*molarv1.Image, error) {
	return s.change(ctx, id, version, molarv1.AuditAction_AUDIT_ACTION_IMAGE_REMOVED, func(img *molarv1.Image) (string, error) {
		if img.GetRemoved() {
			return "", services.Errorf(services.FailedPrecondition, "the image is already removed")
		}
		if until, kept := s.keptUntil(img); kept {
			return "", services.Refuse(services.FailedPrecondition,
				&molarv1.Problem{Reason: molarv1.ProblemReason_PROBLEM_REASON_RADIOGRAPH_RETENTION, Date: until, SubjectId: img.GetId()},
				"a radiograph is kept five years: it can be removed from %s", until)
		}
		img.Removed, img.RemovedReason = true, strings.TrimSpace(reason)
		return fmt.Sprintf("image %s: %s", img.GetId(), img.GetRemovedReason()), nil
	})
}

// keptUntil says whether img is a radiograph still within its retention,
// and the first day it may be removed.
func (s *Service) keptUntil(img *molarv1.Image) (string, bool) {
	switch img.GetKind() {
	case molarv1.ImageKind_IMAGE_KIND_PANORAMIC, molarv1.ImageKind_IMAGE_KIND_PERIAPICAL, molarv1.ImageKind_IMAGE_KIND_BITEWING, molarv1.ImageKind_IMAGE_KIND_CBCT:
	default:
		return "", false
	}
	taken, err := time.ParseInLocation(time.DateOnly, img.GetTakenOn(), s.loc())
	if err != nil {
		// A radiograph without a readable day is kept.
		return "", true
	}
	until := taken.AddDate(RetentionYears, 0, 0)
	return until.Format(time.DateOnly), s.now().In(s.loc()).Before(until)
}

// change saves the next version of an image as edit leaves it, if the
// caller read the newest one.
func (s *Service) change(ctx context.Context, id string, version int64, action molarv1.AuditAction, edit func(*molarv1.Image) (string, error)) (*molarv1.Image, error) {
	cur, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if cur.GetVersion() != version {
		return nil, errImageChanged
	}
	next := proto.CloneOf(cur)
	detail, err := edit(next)
	if err != nil {
		return nil, err
	}
	next.Version = cur.GetVersion() + 1
	next.GridUrl = ""
	ev := s.audit.Stamp(ctx, audit.Event{Action: action, TargetType: "patient", TargetID: cur.GetPatientId(), Detail: detail})
	if err := s.store.Save(ctx, next, ev); err != nil {
		if services.ErrorCode(err) == services.AlreadyExists {
			return nil, errImageChanged
		}
		return nil, err
	}
	s.committed(ctx, next, ev)
	return s.withGrid(ctx, next), nil
}

var errImageChanged = services.Errorf(services.Aborted, "the image was changed by someone else; reload and try again")

// Sweep queues the thumbnail job of every image whose thumbnails are not
// made yet (a process that stopped between saving an image and queueing its
// job); queueing is idempotent.
func (s *Service) Sweep(ctx context.Context) error {
	ids, err := s.store.Unfinished(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, s.queue.Enqueue(ctx, thumbnailJob(id, s.now())))
	}
	return errors.Join(errs...)
}
