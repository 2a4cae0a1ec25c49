package storetest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo/blob"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/images"
	"github.com/molar-dental/molar/services/jobs"
)

// Images is what an engine gives the images service: a fresh, empty
// database's image record store and audit trail, both on one database,
// dropped when the test ends.
type Images struct {
	Store images.Store
	Audit audit.Store
	// AuditInCommit says the store writes a version's audit record into the
	// trail inside the version's own commit (see Auth.AuditInCommit).
	AuditInCommit bool
	// CommitOnly, if set, commits a version as Store.Save does and stops
	// right after the commit, leaving what derives from it to recovery (a
	// process that died there). Nil for an engine whose save commits the
	// derived state with the version: Save stands in for it.
	CommitOnly func(ctx context.Context, img *molarv1.Image, ev audit.Event) error
}

// ImagesEngine opens a fresh Images for a test.
type ImagesEngine func(t *testing.T) Images

// TestImages runs the image record contract against an engine.
func TestImages(t *testing.T, open ImagesEngine) {
	runSuite(t, open, withTrailFaults(map[string]func(*testing.T, ImagesEngine){
		"round trip":                      imagesRoundTrip,
		"save is one winner":              imageSaveIsOneWinner,
		"recovery finishes derived state": imageRecoveryFinishes,
	}, func(t *testing.T, open ImagesEngine) *imagesWorld { return newImagesWorld(t, open(t)) }, imageChanges))
}

// imagesNow is the clock of the image tests, to the millisecond.
var imagesNow = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// storedImage is version 1 of image id of a patient, uploaded at, as the
// service saves it.
func storedImage(id, patientID string, at time.Time) *molarv1.Image {
	return &molarv1.Image{Id: id, PatientId: patientID, Kind: molarv1.ImageKind_IMAGE_KIND_PERIAPICAL, TakenOn: "2026-11-01",
		Teeth: []int32{36, 37}, ChartEntryId: "entry-1", AppointmentId: "visit-1", Note: "근관 치료 전", FileName: "pa-36.jpg",
		MediaType: "image/jpeg", Width: 1200, Height: 900, SizeBytes: 182_344, Sha256: "9f2c", UploadedBy: "dentist-1",
		UploadedByName: "김치과", UploadTime: timestamppb.New(at), Version: 1,
		ThumbnailStatus: molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED}
}

// imageEvent is the stamped event a save of an image of patientID carries.
func imageEvent(action molarv1.AuditAction, patientID string) audit.Event {
	return audit.Event{ID: newTestID(), Time: imagesNow, Action: action, ActorID: "dentist-1", TargetType: "patient", TargetID: patientID}
}

// saveImage saves img with an upload event, failing the test on error.
func saveImage(t *testing.T, st images.Store, img *molarv1.Image) {
	t.Helper()
	if err := st.Save(context.Background(), img, imageEvent(molarv1.AuditAction_AUDIT_ACTION_IMAGE_UPLOADED, img.GetPatientId())); err != nil {
		t.Fatalf("save %s version %d: %v", img.GetId(), img.GetVersion(), err)
	}
}

// wantGet checks, field for field, what Get reads of want's image.
func wantGet(t *testing.T, st images.Store, what string, want *molarv1.Image) {
	t.Helper()
	got, err := st.Get(context.Background(), want.GetId())
	if err != nil {
		t.Fatalf("Get %s: %v", what, err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Get %s (-want +got):\n%s", what, diff)
	}
}

// wantStored checks, field for field, what Get reads of want's image and
// what List reads of its patient's images.
func wantStored(t *testing.T, st images.Store, what string, want *molarv1.Image, list ...*molarv1.Image) {
	t.Helper()
	wantGet(t, st, what, want)
	got, err := st.List(context.Background(), want.GetPatientId())
	if err != nil {
		t.Fatalf("List %s: %v", what, err)
	}
	if diff := cmp.Diff(list, got, protocmp.Transform()); diff != "" {
		t.Errorf("List %s, newest upload first (-want +got):\n%s", what, diff)
	}
}

// unfinished returns the store's unfinished image ids, sorted.
func unfinished(t *testing.T, st images.Store) []string {
	t.Helper()
	ids, err := st.Unfinished(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// imagesRoundTrip saves images of two patients and reads them back field
// for field: one by id, a patient's newest upload first; a new version
// replaces what is read; thumbnails move out of the unfinished list once
// done.
func imagesRoundTrip(t *testing.T, open ImagesEngine) {
	ctx := context.Background()
	st := open(t).Store

	a := storedImage("img-a", "p1", imagesNow)
	b := storedImage("img-b", "p1", imagesNow.Add(time.Minute))
	b.Kind, b.Teeth, b.ChartEntryId, b.AppointmentId, b.Note = molarv1.ImageKind_IMAGE_KIND_INTRAORAL_PHOTO, nil, "", "", ""
	c := storedImage("img-c", "p1", imagesNow.Add(2*time.Minute))
	other := storedImage("img-z", "p2", imagesNow.Add(3*time.Minute))
	for _, img := range []*molarv1.Image{a, b, c, other} {
		saveImage(t, st, img)
	}

	wantStored(t, st, "saved, without other patients' images", a, c, b, a)
	if list, err := st.List(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Errorf("List of a patient without images: %v, %v", list, err)
	}

	a2 := proto.CloneOf(a)
	a2.Version, a2.Note, a2.Teeth = 2, "근관 치료 후", []int32{36}
	if err := st.Save(ctx, a2, imageEvent(molarv1.AuditAction_AUDIT_ACTION_IMAGE_CHANGED, "p1")); err != nil {
		t.Fatal(err)
	}
	wantStored(t, st, "after version 2", a2, c, b, a2)

	if diff := cmp.Diff([]string{"img-a", "img-b", "img-c", "img-z"}, unfinished(t, st)); diff != "" {
		t.Errorf("Unfinished, all queued (-want +got):\n%s", diff)
	}
	for id, s := range map[string]molarv1.ThumbnailStatus{
		"img-a": molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE,
		"img-b": molarv1.ThumbnailStatus_THUMBNAIL_STATUS_RUNNING,
		"img-z": molarv1.ThumbnailStatus_THUMBNAIL_STATUS_FAILED,
	} {
		if err := st.SetThumbnail(ctx, id, images.Thumbnail{Status: s, UpdateTime: imagesNow.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"img-b", "img-c"}, unfinished(t, st)); diff != "" {
		t.Errorf("Unfinished: queued and running only (-want +got):\n%s", diff)
	}
	a2.ThumbnailStatus = molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE
	b.ThumbnailStatus = molarv1.ThumbnailStatus_THUMBNAIL_STATUS_RUNNING
	wantStored(t, st, "with thumbnails under way and done", a2, c, b, a2)

	if _, err := st.Get(ctx, "unknown"); services.ErrorCode(err) != services.NotFound {
		t.Errorf("Get of an unknown image: %v, want NotFound", err)
	}
}

// imageSaveIsOneWinner races saves of the same next version of an image:
// exactly one wins and every other is told AlreadyExists; a save that skips
// a version is refused.
func imageSaveIsOneWinner(t *testing.T, open ImagesEngine) {
	ctx := context.Background()
	st := open(t).Store
	base := storedImage("img-1", "p1", imagesNow)
	saveImage(t, st, base)

	winner := oneWinner(t, 20, services.AlreadyExists, func(i int) (string, error) {
		next := proto.CloneOf(base)
		next.Version, next.Note = 2, fmt.Sprintf("writer %d", i)
		return next.Note, st.Save(ctx, next, imageEvent(molarv1.AuditAction_AUDIT_ACTION_IMAGE_CHANGED, "p1"))
	})
	got, err := st.Get(ctx, "img-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetVersion() != 2 || got.GetNote() != winner {
		t.Fatalf("image %q at version %d, want %q at 2", got.GetNote(), got.GetVersion(), winner)
	}

	skip := proto.CloneOf(base)
	skip.Version, skip.Note = 4, "skipped a version"
	if err := st.Save(ctx, skip, imageEvent(molarv1.AuditAction_AUDIT_ACTION_IMAGE_CHANGED, "p1")); services.ErrorCode(err) != services.AlreadyExists {
		t.Fatalf("saving version 4 at version 2: %v, want AlreadyExists", err)
	}
	if got, _ := st.Get(ctx, "img-1"); got.GetVersion() != 2 {
		t.Fatalf("a refused save left the image at version %d", got.GetVersion())
	}
}

// imageRecoveryFinishes commits versions and stops right after each commit
// (on an engine with derived state outside the commit): the committed
// version is the image at once for Get, and the recovery pass at start
// finishes the rest (the newest copy for List, the thumbnail entry for the
// sweep) and puts each event in the trail once, however often it runs.
func imageRecoveryFinishes(t *testing.T, open ImagesEngine) {
	ctx := context.Background()
	e := open(t)
	st := e.Store
	commit := e.CommitOnly
	if commit == nil {
		commit = st.Save
	}
	recoverTwice := func() {
		t.Helper()
		for range 2 {
			if err := st.ReprojectAudit(ctx, func(ev audit.Event) error { return e.Audit.Append(ctx, ev) }); err != nil {
				t.Fatalf("recovery: %v", err)
			}
		}
	}
	events := func(action molarv1.AuditAction) int { return len(trailEvents(t, e.Audit, "p1", action)) }

	img := storedImage("img-1", "p1", imagesNow)
	if err := commit(ctx, img, imageEvent(molarv1.AuditAction_AUDIT_ACTION_IMAGE_UPLOADED, "p1")); err != nil {
		t.Fatal(err)
	}
	// Finishing the same upload again (Accept) is told the version exists,
	// and then reads the image.
	if err := st.Save(ctx, img, imageEvent(molarv1.AuditAction_AUDIT_ACTION_IMAGE_UPLOADED, "p1")); services.ErrorCode(err) != services.AlreadyExists {
		t.Fatalf("saving the committed version again: %v, want AlreadyExists", err)
	}
	wantGet(t, st, "of a committed version before recovery", img)

	recoverTwice()
	wantStored(t, st, "after recovery", img, img)
	if diff := cmp.Diff([]string{"img-1"}, unfinished(t, st), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Unfinished after recovery (-want +got):\n%s", diff)
	}
	if n := events(molarv1.AuditAction_AUDIT_ACTION_IMAGE_UPLOADED); n != 1 {
		t.Errorf("%d upload events in the trail after recovery, want 1", n)
	}

	// A later version stopped after its commit: recovery makes it the
	// newest copy, and leaves the thumbnails made meanwhile as they are.
	if err := st.SetThumbnail(ctx, "img-1", images.Thumbnail{Status: molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE, UpdateTime: imagesNow}); err != nil {
		t.Fatal(err)
	}
	v2 := proto.CloneOf(img)
	v2.Version, v2.Note, v2.ThumbnailStatus = 2, "교정됨", molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE
	if err := commit(ctx, v2, imageEvent(molarv1.AuditAction_AUDIT_ACTION_IMAGE_CHANGED, "p1")); err != nil {
		t.Fatal(err)
	}
	recoverTwice()
	wantStored(t, st, "of version 2 after recovery", v2, v2)
	if ids := unfinished(t, st); len(ids) != 0 {
		t.Errorf("Unfinished after recovery of version 2: %v, want none", ids)
	}
	if n := events(molarv1.AuditAction_AUDIT_ACTION_IMAGE_CHANGED); n != 1 {
		t.Errorf("%d change events in the trail after recovery, want 1", n)
	}
}

// imagesPatient is the one patient the image service knows in the fault
// cases.
const imagesPatient = "patient-1"

// knownPatient is the images service's view of the patient register: it
// knows one patient.
type knownPatient string

func (p knownPatient) Exists(_ context.Context, id string) error {
	if id != string(p) {
		return services.Errorf(services.NotFound, "patient %s not found", id)
	}
	return nil
}

// jobQueue records the jobs enqueued.
type jobQueue struct {
	mu   sync.Mutex
	jobs []jobs.Job
}

func (q *jobQueue) Enqueue(_ context.Context, j jobs.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, j)
	return nil
}

// quietChanges announces nothing: one process watches nothing here.
type quietChanges struct{}

func (quietChanges) Publish(context.Context, string, string, int64) error { return nil }

// imagesWorld is a server process's images service over one database, with
// its files on the disk, seen through a trail that can fail or hold appends.
type imagesWorld struct {
	e     Images
	r     *trailRig
	blobs images.Blobs
	queue *jobQueue
	svc   *images.Service
}

func newImagesWorld(t *testing.T, e Images) *imagesWorld {
	t.Helper()
	fs, err := blob.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return openImagesWorld(e, fs)
}

// openImagesWorld starts the service of a process over e and its files.
func openImagesWorld(e Images, blobs images.Blobs) *imagesWorld {
	now := func() time.Time { return imagesNow }
	w := &imagesWorld{e: e, r: newTrailRig(e.Audit, e.AuditInCommit, now, e.Store), blobs: blobs, queue: &jobQueue{}}
	w.svc = images.NewService(images.Deps{Store: e.Store, Blobs: blobs, Queue: w.queue, Patients: knownPatient(imagesPatient),
		Changes: quietChanges{}, Audit: w.r.rec, Signer: images.NewURLSigner([]byte("storetest-media-key-of-32-bytes!!"), now),
		Limits: images.DefaultLimits, Location: func() *time.Location { return time.UTC }, Now: now, Logger: slog.New(slog.DiscardHandler)})
	return w
}

func (w *imagesWorld) rig() *trailRig { return w.r }

func (w *imagesWorld) restart(*testing.T) *imagesWorld { return openImagesWorld(w.e, w.blobs) }

// upload accepts a small JPEG as image id of the patient.
func (w *imagesWorld) upload(ctx context.Context, id string, kind molarv1.ImageKind) (*molarv1.Image, error) {
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for x := range 24 {
		img.Set(x, x%16, color.RGBA{R: 200, G: 180, B: 160, A: 255})
	}
	var file bytes.Buffer
	if err := jpeg.Encode(&file, img, nil); err != nil {
		return nil, err
	}
	meta := images.UploadMeta{PatientID: imagesPatient, Kind: kind, TakenOn: "2026-11-01", Teeth: []int32{11, 21}, FileName: id + ".jpg"}
	return w.svc.Accept(ctx, id, meta, bytes.NewReader(file.Bytes()), int64(file.Len()))
}

// stored reads an image from the store (not the service, whose reads are
// recorded in the trail).
func (w *imagesWorld) stored(t *testing.T, id string) *molarv1.Image {
	t.Helper()
	img, err := w.e.Store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// imageChanges lists the changes of images, each carrying its audit event
// about the patient.
func imageChanges() []trailCase[*imagesWorld] {
	ctx := staffAdmin("dentist-1")
	uploaded := func(t *testing.T, w *imagesWorld, kind molarv1.ImageKind) *molarv1.Image {
		t.Helper()
		img, err := w.upload(ctx, "upload-1", kind)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	return []trailCase[*imagesWorld]{
		{"upload", molarv1.AuditAction_AUDIT_ACTION_IMAGE_UPLOADED, func(t *testing.T, w *imagesWorld) func() (string, error) {
			return func() (string, error) {
				img, err := w.upload(ctx, "upload-1", molarv1.ImageKind_IMAGE_KIND_PANORAMIC)
				return img.GetPatientId(), err
			}
		}, func(t *testing.T, w *imagesWorld, _ string) {
			img := w.stored(t, "upload-1")
			if img.GetVersion() != 1 || img.GetWidth() != 24 || img.GetHeight() != 16 || img.GetMediaType() != "image/jpeg" ||
				img.GetThumbnailStatus() != molarv1.ThumbnailStatus_THUMBNAIL_STATUS_QUEUED {
				t.Errorf("uploaded image %v", img)
			}
			if _, b, err := w.blobs.Open(context.Background(), "images/upload-1/original"); err != nil || b.SHA256 != img.GetSha256() {
				t.Errorf("its file: %+v, %v; want the one of sha256 %s", b, err, img.GetSha256())
			} else if b.Size != img.GetSizeBytes() {
				t.Errorf("its file is %d bytes, the record says %d", b.Size, img.GetSizeBytes())
			}
			if ids := unfinished(t, w.e.Store); !slices.Contains(ids, "upload-1") {
				t.Errorf("unfinished %v, want the new image among them for the sweep", ids)
			}
		}},
		{"correct", molarv1.AuditAction_AUDIT_ACTION_IMAGE_CHANGED, func(t *testing.T, w *imagesWorld) func() (string, error) {
			img := uploaded(t, w, molarv1.ImageKind_IMAGE_KIND_PANORAMIC)
			return func() (string, error) {
				got, err := w.svc.Update(ctx, &molarv1.UpdateImageRequest{Id: img.GetId(), Kind: molarv1.ImageKind_IMAGE_KIND_PERIAPICAL,
					TakenOn: "2026-10-30", Teeth: []int32{46}, Note: "촬영일 정정", Version: img.GetVersion()})
				return got.GetPatientId(), err
			}
		}, func(t *testing.T, w *imagesWorld, _ string) {
			img := w.stored(t, "upload-1")
			if img.GetVersion() != 2 || img.GetKind() != molarv1.ImageKind_IMAGE_KIND_PERIAPICAL || img.GetTakenOn() != "2026-10-30" ||
				!slices.Equal(img.GetTeeth(), []int32{46}) || img.GetNote() != "촬영일 정정" {
				t.Errorf("corrected image %v", img)
			}
		}},
		{"remove a photo", molarv1.AuditAction_AUDIT_ACTION_IMAGE_REMOVED, func(t *testing.T, w *imagesWorld) func() (string, error) {
			img := uploaded(t, w, molarv1.ImageKind_IMAGE_KIND_INTRAORAL_PHOTO)
			return func() (string, error) {
				got, err := w.svc.Remove(ctx, img.GetId(), "다른 환자 사진", img.GetVersion())
				return got.GetPatientId(), err
			}
		}, func(t *testing.T, w *imagesWorld, _ string) {
			if img := w.stored(t, "upload-1"); img.GetVersion() != 2 || !img.GetRemoved() || img.GetRemovedReason() != "다른 환자 사진" {
				t.Errorf("removed image %v", img)
			}
		}},
	}
}
