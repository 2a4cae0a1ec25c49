package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/images"
	"github.com/molar-dental/molar/services/jobs"
)

// tusClient speaks the tus 1.0 core protocol to the server, as the browser
// does, with a bearer token, through hc (http.DefaultClient if nil).
type tusClient struct {
	base, token string
	hc          *http.Client
}

func (c tusClient) do(t testing.TB, method, url string, body []byte, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	hc := c.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// create starts an upload of size bytes with meta and returns its URL, or
// the refusal.
func (c tusClient) create(t testing.TB, size int, meta map[string]string) (string, *http.Response) {
	t.Helper()
	var pairs []string
	for k, v := range meta {
		pairs = append(pairs, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	res := c.do(t, http.MethodPost, c.base+images.UploadPath, nil, map[string]string{
		"Upload-Length": strconv.Itoa(size), "Upload-Metadata": strings.Join(pairs, ","),
	})
	if res.StatusCode != http.StatusCreated {
		return "", res
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return c.base + loc.Path, res
}

func (c tusClient) patch(t testing.TB, upload string, offset int, chunk []byte) *http.Response {
	t.Helper()
	return c.do(t, http.MethodPatch, upload, chunk, map[string]string{
		"Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream",
	})
}

func (c tusClient) offset(t testing.TB, upload string) int {
	t.Helper()
	res := c.do(t, http.MethodHead, upload, nil, nil)
	n, err := strconv.Atoi(res.Header.Get("Upload-Offset"))
	if err != nil {
		t.Fatalf("HEAD %s: %d %q", upload, res.StatusCode, res.Header.Get("Upload-Offset"))
	}
	return n
}

// refusal decodes the JSON error of a refused upload.
func refusal(t *testing.T, res *http.Response) (code, rule string) {
	t.Helper()
	var body struct {
		Code       string `json:"code"`
		Violations []struct {
			Rule string `json:"rule"`
		} `json:"violations"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("%d with no JSON error: %v", res.StatusCode, err)
	}
	if len(body.Violations) > 0 {
		rule = body.Violations[0].Rule
	}
	return body.Code, rule
}

// panoramic is a 3000×1500 JPEG with distinct corners.
func panoramic(t *testing.T) []byte {
	t.Helper()
	m := image.NewGray(image.Rect(0, 0, 3000, 1500))
	for y := range 1500 {
		for x := range 3000 {
			m.SetGray(x, y, color.Gray{Y: uint8((x/30 + y/30) % 256)})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestImageUploadWorkflow uploads a panoramic radiograph in two pieces with
// a pause between (resumed from the offset the server reports), watches its
// thumbnails being made, opens it through its links, and checks what is
// refused: content that is not an image, someone without the permission,
// removing a recent radiograph, and links that are tampered with or
// borrowed.
func TestImageUploadWorkflow(t *testing.T) {
	t.Parallel()
	for name, engine := range map[string][]func(*Config){"sqlite": nil, "mongodb": {onMongo(t)}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			imageWorkflow(t, startServer(t, append(engine, func(c *Config) { c.MaxUploadBytes = 8 << 20 })...))
		})
	}
}

func imageWorkflow(t *testing.T, ts *testServer) {
	ctx := context.Background()
	staff := clinicStaff(t, ts)
	dentist := staff[molarv1.Role_ROLE_DENTIST]
	desk := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	created, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: "임준하", Sex: molarv1.Sex_SEX_MALE, BirthDate: "1985-07-01", MobilePhone: "01024681357"}}))
	if err != nil {
		t.Fatal(err)
	}
	patientID := created.Msg.GetPatient().GetId()
	imgs := molarv1connect.NewImageServiceClient(http.DefaultClient, ts.URL, bearer(dentist))
	today := time.Now().In(ts.app.schedule.Location()).Format(time.DateOnly)
	meta := map[string]string{"patient_id": patientID, "kind": "IMAGE_KIND_PANORAMIC", "taken_on": today, "teeth": "36,37", "filename": "pano.jpg"}

	// Watch the patient's images before anything is uploaded.
	watchCtx, stopWatch := context.WithTimeout(ctx, 2*time.Minute)
	defer stopWatch()
	stream, err := imgs.WatchImages(watchCtx, connect.NewRequest(&molarv1.WatchImagesRequest{PatientId: patientID}))
	if err != nil {
		t.Fatal(err)
	}
	statuses := make(chan molarv1.ThumbnailStatus, 16)
	go func() {
		for stream.Receive() {
			if img := stream.Msg().GetImage(); img != nil {
				statuses <- img.GetThumbnailStatus()
			}
		}
		close(statuses)
	}()

	// Upload in two pieces; the second starts where the server says the
	// first ended, as after a dropped connection.
	data := panoramic(t)
	up := tusClient{base: ts.URL, token: dentist}
	loc, res := up.create(t, len(data), meta)
	if loc == "" {
		t.Fatalf("create: %d", res.StatusCode)
	}
	half := len(data) / 2
	if res := up.patch(t, loc, 0, data[:half]); res.StatusCode != http.StatusNoContent {
		t.Fatalf("first piece: %d", res.StatusCode)
	}
	at := up.offset(t, loc)
	if at != half {
		t.Fatalf("offset after the first piece %d, want %d", at, half)
	}
	res = up.patch(t, loc, at, data[at:])
	if res.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("last piece: %d %s", res.StatusCode, b)
	}
	id := res.Header.Get("Molar-Image-Id")
	if id == "" {
		t.Fatal("no image id")
	}

	// The thumbnails are made in the background; the watcher sees them done.
	for done := false; !done; {
		select {
		case s, ok := <-statuses:
			if !ok {
				t.Fatalf("watch ended: %v", stream.Err())
			}
			done = s == molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE
			if s == molarv1.ThumbnailStatus_THUMBNAIL_STATUS_FAILED {
				t.Fatal("thumbnail failed")
			}
		case <-watchCtx.Done():
			for _, st := range []jobs.State{jobs.Queued, jobs.Running, jobs.Done, jobs.Dead} {
				js, _ := ts.db.jobs.List(ctx, st, 10)
				t.Logf("%s: %+v", st, js)
			}
			img, err := ts.db.images.Get(ctx, id)
			t.Logf("image %v %v", img, err)
			t.Fatal("the thumbnails were never reported done")
		}
	}

	list, err := imgs.ListImages(ctx, connect.NewRequest(&molarv1.ListImagesRequest{PatientId: patientID}))
	if err != nil || len(list.Msg.GetImages()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	img := list.Msg.GetImages()[0]
	if img.GetId() != id || img.GetWidth() != 3000 || img.GetHeight() != 1500 || img.GetMediaType() != "image/jpeg" ||
		img.GetSizeBytes() != int64(len(data)) || img.GetGridUrl() == "" || img.GetUploadedByName() == "" {
		t.Fatalf("listed %v", img)
	}
	grid := fetch(t, ts.URL+img.GetGridUrl(), http.StatusOK)
	cfg, format, err := image.DecodeConfig(bytes.NewReader(grid))
	if err != nil || format != "jpeg" || cfg.Width != 320 || cfg.Height != 160 {
		t.Fatalf("grid thumbnail %v %s %v", cfg, format, err)
	}

	got, err := imgs.GetImage(ctx, connect.NewRequest(&molarv1.GetImageRequest{Id: id}))
	if err != nil {
		t.Fatal(err)
	}
	links := got.Msg.GetLinks()
	if orig := fetch(t, ts.URL+links.GetOriginalUrl(), http.StatusOK); !bytes.Equal(orig, data) {
		t.Error("the original came back different")
	}
	preview := fetch(t, ts.URL+links.GetPreviewUrl(), http.StatusOK)
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(preview)); err != nil || cfg.Width != 1600 || cfg.Height != 800 {
		t.Errorf("preview %v %v", cfg, err)
	}
	// A link works only as given: not for another user, not altered.
	borrowed := strings.Replace(links.GetOriginalUrl(), "u=", "u=x", 1)
	fetch(t, ts.URL+borrowed, http.StatusForbidden)
	fetch(t, ts.URL+strings.Replace(links.GetOriginalUrl(), "/original", "/preview", 1), http.StatusForbidden)

	// Content decides: a text file named .jpg is refused when it completes,
	// and nothing is stored.
	text := []byte("this is a letter, not a radiograph")
	loc, _ = up.create(t, len(text), map[string]string{"patient_id": patientID, "kind": "IMAGE_KIND_PERIAPICAL", "taken_on": today, "filename": "x.jpg"})
	res = up.patch(t, loc, 0, text)
	if code, rule := refusal(t, res); res.StatusCode != http.StatusUnprocessableEntity || code != "invalid_argument" || rule != images.RuleUnsupported {
		t.Errorf("a text file: %d %s %s", res.StatusCode, code, rule)
	}
	// Bad metadata and missing permission are refused before any byte.
	if _, res := up.create(t, 10, map[string]string{"patient_id": patientID, "kind": "IMAGE_KIND_XRAY", "taken_on": today}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("unknown kind: %d", res.StatusCode)
	} else if _, rule := refusal(t, res); rule != "image.kind.defined" {
		t.Errorf("unknown kind: rule %s", rule)
	}
	if _, res := up.create(t, 100<<20, meta); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("over the limit: %d", res.StatusCode)
	}
	if _, res := (tusClient{base: ts.URL, token: staff[molarv1.Role_ROLE_FRONT_DESK]}).create(t, len(data), meta); res.StatusCode != http.StatusForbidden {
		t.Errorf("front desk upload: %d", res.StatusCode)
	}
	if _, res := (tusClient{base: ts.URL}).create(t, len(data), meta); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed-out upload: %d", res.StatusCode)
	}
	if list, err := imgs.ListImages(ctx, connect.NewRequest(&molarv1.ListImagesRequest{PatientId: patientID})); err != nil || len(list.Msg.GetImages()) != 1 {
		t.Errorf("after refusals: %v %v", list, err)
	}

	// A radiograph taken today is kept five years.
	_, err = imgs.RemoveImage(ctx, connect.NewRequest(&molarv1.RemoveImageRequest{Id: id, Reason: "잘못 올림", Version: 1}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeFailedPrecondition {
		t.Fatalf("removing a new radiograph: %v", err)
	}
	if p := problemIn(ce); p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_RADIOGRAPH_RETENTION || p.GetDate() != addYears(today, 5) {
		t.Errorf("retention problem %v", p)
	}
	// Corrected as a photo, it can be removed with a reason.
	upd, err := imgs.UpdateImage(ctx, connect.NewRequest(&molarv1.UpdateImageRequest{Id: id, Kind: molarv1.ImageKind_IMAGE_KIND_INTRAORAL_PHOTO,
		TakenOn: today, Teeth: []int32{36}, Version: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := imgs.UpdateImage(ctx, connect.NewRequest(&molarv1.UpdateImageRequest{Id: id, Kind: molarv1.ImageKind_IMAGE_KIND_DOCUMENT,
		TakenOn: today, Version: 1})); codeOf(err) != connect.CodeAborted {
		t.Errorf("a stale update: %v", err)
	}
	if _, err := imgs.RemoveImage(ctx, connect.NewRequest(&molarv1.RemoveImageRequest{Id: id, Reason: "다른 환자 사진", Version: upd.Msg.GetImage().GetVersion()})); err != nil {
		t.Fatal(err)
	}
	if list, err := imgs.ListImages(ctx, connect.NewRequest(&molarv1.ListImagesRequest{PatientId: patientID})); err != nil || len(list.Msg.GetImages()) != 0 {
		t.Errorf("a removed image is listed: %v %v", list, err)
	}
	kept, err := imgs.ListImages(ctx, connect.NewRequest(&molarv1.ListImagesRequest{PatientId: patientID, IncludeRemoved: true}))
	if err != nil || len(kept.Msg.GetImages()) != 1 || kept.Msg.GetImages()[0].GetRemovedReason() != "다른 환자 사진" {
		t.Errorf("the removed image is not kept: %v %v", kept, err)
	}

	// Every view is in the trail, by the dentist, about the patient.
	events, _, err := ts.db.audit.List(ctx, audit.Filter{TargetID: patientID}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[molarv1.AuditAction]int{}
	for _, e := range events {
		seen[e.Action]++
	}
	for _, a := range []molarv1.AuditAction{molarv1.AuditAction_AUDIT_ACTION_IMAGE_UPLOADED, molarv1.AuditAction_AUDIT_ACTION_IMAGES_VIEWED,
		molarv1.AuditAction_AUDIT_ACTION_IMAGE_VIEWED, molarv1.AuditAction_AUDIT_ACTION_IMAGE_CHANGED, molarv1.AuditAction_AUDIT_ACTION_IMAGE_REMOVED} {
		if seen[a] == 0 {
			t.Errorf("no %s in the trail: %v", a, seen)
		}
	}
}

func fetch(t *testing.T, u string, want int) []byte {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d (%s)", u, res.StatusCode, want, b)
	}
	return b
}

func addYears(day string, n int) string {
	d, _ := time.Parse(time.DateOnly, day)
	return d.AddDate(n, 0, 0).Format(time.DateOnly)
}

// problemIn returns the Problem detail of a Connect error, or nil.
func problemIn(ce *connect.Error) *molarv1.Problem {
	for _, d := range ce.Details() {
		if m, err := d.Value(); err == nil {
			if p, ok := m.(*molarv1.Problem); ok {
				return p
			}
		}
	}
	return nil
}

// TestThumbnailJobOutlivesItsProcess stops a process in the middle of an
// image's thumbnail job: the job is claimed and marked running, and nothing
// more happens (as after kill -9). Another process on the same database
// takes the job once the claim's lease has passed and makes the
// thumbnails; the image is never left RUNNING.
func TestThumbnailJobOutlivesItsProcess(t *testing.T) {
	t.Parallel()
	for name, engine := range map[string][]func(*Config){"sqlite": nil, "mongodb": {onMongo(t)}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			jobOutlivesProcess(t, startServer(t, engine...))
		})
	}
}

func jobOutlivesProcess(t *testing.T, first *testServer) {
	ctx := context.Background()
	// The first process runs no jobs: it stops before it can.
	if err := first.app.jobs.Close(); err != nil {
		t.Fatal(err)
	}
	staff := clinicStaff(t, first)
	desk := molarv1connect.NewPatientServiceClient(http.DefaultClient, first.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	created, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: "조영상", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1991-04-05"}}))
	if err != nil {
		t.Fatal(err)
	}
	data := panoramic(t)
	up := tusClient{base: first.URL, token: staff[molarv1.Role_ROLE_DENTIST]}
	loc, res := up.create(t, len(data), map[string]string{"patient_id": created.Msg.GetPatient().GetId(), "kind": "IMAGE_KIND_PANORAMIC",
		"taken_on": time.Now().In(first.app.schedule.Location()).Format(time.DateOnly)})
	if loc == "" {
		t.Fatalf("create: %d", res.StatusCode)
	}
	res = up.patch(t, loc, 0, data)
	id := res.Header.Get("Molar-Image-Id")
	if id == "" {
		t.Fatalf("upload: %d", res.StatusCode)
	}
	// The job is claimed for a short lease by a worker that then dies, with
	// the thumbnail marked running as the handler does first.
	job, err := first.db.jobs.Claim(ctx, "killed-process/1", []string{images.JobKind}, time.Now(), 2*time.Second)
	if err != nil || job == nil || string(job.Payload) != id {
		t.Fatalf("claim: %v %v", job, err)
	}
	if err := first.db.images.SetThumbnail(ctx, id, images.Thumbnail{Status: molarv1.ThumbnailStatus_THUMBNAIL_STATUS_RUNNING, UpdateTime: time.Now()}); err != nil {
		t.Fatal(err)
	}

	second := startServer(t, first.same())
	deadline := time.Now().Add(2 * time.Minute)
	for {
		img, err := second.db.images.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if img.GetThumbnailStatus() == molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the thumbnail is still %s", img.GetThumbnailStatus())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The handler marks the thumbnail done before the runner completes the
	// job: wait for that too.
	for {
		done, err := second.db.jobs.List(ctx, jobs.Done, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(done) == 1 {
			if done[0].Attempts != 2 {
				t.Errorf("the job after the restart: %+v", done[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job is not done: %+v", done)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestUploadLeftByAStoppedProcess leaves in the uploads directory what a
// process killed between an upload's last byte and the save of its image
// leaves: a complete upload and no image. The sweep saves the image, as
// its uploader, once; a partial upload is kept for its client to resume
// until it is a week old.
func TestUploadLeftByAStoppedProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	staff := clinicStaff(t, ts)
	desk := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	created, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: "한사진", Sex: molarv1.Sex_SEX_MALE, BirthDate: "1979-09-09"}}))
	if err != nil {
		t.Fatal(err)
	}
	patientID := created.Msg.GetPatient().GetId()
	dentistID := ""
	if me, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_DENTIST])).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{})); err == nil {
		dentistID = me.Msg.GetMe().GetStaff().GetId()
	} else {
		t.Fatal(err)
	}
	data := panoramic(t)
	store := filestore.New(filepath.Join(ts.cfg.DataDir, "uploads"))
	leave := func(id string, written []byte, size int) {
		up, err := store.NewUpload(ctx, tusd.FileInfo{ID: id, Size: int64(size), MetaData: tusd.MetaData{
			"patient_id": patientID, "kind": "IMAGE_KIND_PANORAMIC", "taken_on": "2026-01-02", "filename": id + ".jpg",
			"uploaded_by": dentistID, "uploaded_by_name": "치과의사"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := up.WriteChunk(ctx, 0, bytes.NewReader(written)); err != nil {
			t.Fatal(err)
		}
	}
	leave("complete0001", data, len(data))
	leave("partial00001", data[:1000], len(data))

	now := time.Now()
	for range 2 {
		if _, err := ts.uploads.FinishAbandoned(ctx, now.Add(time.Minute), now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	img, err := ts.db.images.Get(ctx, "complete0001")
	if err != nil {
		t.Fatalf("the completed upload has no image: %v", err)
	}
	if img.GetUploadedBy() != dentistID || img.GetSizeBytes() != int64(len(data)) || img.GetPatientId() != patientID {
		t.Errorf("image %v", img)
	}
	if list, err := ts.db.images.List(ctx, patientID); err != nil || len(list) != 1 {
		t.Errorf("images %d %v", len(list), err)
	}
	events, _, err := ts.db.audit.List(ctx, audit.Filter{TargetID: patientID, Actions: []molarv1.AuditAction{molarv1.AuditAction_AUDIT_ACTION_IMAGE_UPLOADED}}, "", 10)
	if err != nil || len(events) != 1 || events[0].ActorID != dentistID {
		t.Errorf("upload events %+v %v", events, err)
	}
	left, _ := filepath.Glob(filepath.Join(ts.cfg.DataDir, "uploads", "*"))
	if len(left) != 2 || !strings.Contains(strings.Join(left, " "), "partial00001") {
		t.Errorf("left in the uploads directory: %v", left)
	}
	// A week on, the partial one is gone.
	if _, err := ts.uploads.FinishAbandoned(ctx, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(ts.cfg.DataDir, "uploads", "*")); len(left) != 0 {
		t.Errorf("still left: %v", left)
	}
}
