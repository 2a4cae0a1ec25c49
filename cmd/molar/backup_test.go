package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services/backup"
	"github.com/molar-dental/molar/services/jobs"
)

// backupKey makes an age identity file in dir and returns its path and
// public key, as `molar keygen --backup` does.
func backupKey(t *testing.T, dir string) (file, recipient string) {
	t.Helper()
	file = filepath.Join(dir, "backup-key.txt")
	out, errs := molarCLI(t, nil, "keygen", "--backup", file)
	recipient, ok := strings.CutPrefix(strings.TrimSpace(out), "MOLAR_BACKUP_RECIPIENT=")
	if !ok {
		t.Fatalf("keygen: %q %q", out, errs)
	}
	return file, recipient
}

// molarCLI runs the molar command line in this process with vars as its
// whole environment and returns its output; a non-zero exit fails t.
func molarCLI(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errs, code := molarCLIExit(vars, args...)
	if code != 0 {
		t.Fatalf("molar %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out, errs
}

func molarCLIExit(vars map[string]string, args ...string) (stdout, stderr string, code int) {
	var out, errs bytes.Buffer
	v := map[string]string{"MOLAR_LOG_LEVEL": "warn", "MOLAR_ADMIN_ADDR": "off"}
	for k, val := range vars {
		v[k] = val
	}
	code = run(context.Background(), args, env(v), strings.NewReader(""), &out, &errs)
	return out.String(), errs.String(), code
}

// smallJPEG is a 64×48 grey JPEG whose content depends on n.
func smallJPEG(t *testing.T, n int) []byte {
	t.Helper()
	m := image.NewGray(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			m.SetGray(x, y, color.Gray{Y: uint8(x*3 + y*n + n)})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// written is a write the server acknowledged, and when.
type written struct {
	kind    string // "payment", "booking", "image", "note"
	key     string // idempotency key, appointment id, image id, note id
	invoice string // the invoice paid
	patient string
	sha256  string // an image's bytes
	at      time.Time
}

// clinicClients are one signed-in admin's clients of a server.
type clinicClients struct {
	url, token string
	billing    molarv1connect.BillingServiceClient
	schedule   molarv1connect.ScheduleServiceClient
	chart      molarv1connect.ChartServiceClient
	images     molarv1connect.ImageServiceClient
	patients   molarv1connect.PatientServiceClient
	backups    molarv1connect.BackupServiceClient
}

func signIn(t *testing.T, url, email, password string) clinicClients {
	t.Helper()
	res, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, url).Login(context.Background(),
		connect.NewRequest(&molarv1.LoginRequest{Email: email, Password: password}))
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	tok := res.Msg.GetAccessToken()
	o := bearer(tok)
	return clinicClients{url: url, token: tok,
		billing: molarv1connect.NewBillingServiceClient(http.DefaultClient, url, o), schedule: molarv1connect.NewScheduleServiceClient(http.DefaultClient, url, o),
		chart: molarv1connect.NewChartServiceClient(http.DefaultClient, url, o), images: molarv1connect.NewImageServiceClient(http.DefaultClient, url, o),
		patients: molarv1connect.NewPatientServiceClient(http.DefaultClient, url, o), backups: molarv1connect.NewBackupServiceClient(http.DefaultClient, url, o)}
}

// upload sends data as one image of patient through the resumable upload
// and returns its id.
func (c clinicClients) upload(t *testing.T, patient string, data []byte, today string) (string, error) {
	up := tusClient{base: c.url, token: c.token}
	loc, res := up.create(t, len(data), map[string]string{"patient_id": patient, "kind": "IMAGE_KIND_INTRAORAL_PHOTO", "taken_on": today, "filename": "photo.jpg"})
	if loc == "" {
		return "", fmt.Errorf("create upload: %d", res.StatusCode)
	}
	res = up.patch(t, loc, 0, data)
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Molar-Image-Id") == "" {
		return "", fmt.Errorf("upload: %d", res.StatusCode)
	}
	return res.Header.Get("Molar-Image-Id"), nil
}

// invoicesFor charts a completed filling for each patient and issues an
// invoice for it.
func (c clinicClients) invoicesFor(t *testing.T, patients []string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, p := range patients {
		if _, err := c.chart.AddChartEntry(ctx, connect.NewRequest(&molarv1.AddChartEntryRequest{PatientId: p, Tooth: 36,
			Surfaces: []molarv1.Surface{molarv1.Surface_SURFACE_O}, ProcedureCode: "RS-CR", Status: molarv1.EntryStatus_ENTRY_STATUS_COMPLETED})); err != nil {
			t.Fatal(err)
		}
		inv, err := c.billing.CreateInvoice(ctx, connect.NewRequest(&molarv1.CreateInvoiceRequest{PatientId: p}))
		if err != nil {
			t.Fatal(err)
		}
		issued, err := c.billing.IssueInvoice(ctx, connect.NewRequest(&molarv1.IssueInvoiceRequest{Id: inv.Msg.GetInvoice().GetId(), Version: inv.Msg.GetInvoice().GetVersion()}))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, issued.Msg.GetInvoice().GetId())
	}
	return out
}

// TestRestoreDrill is the drill a clinic should run: a real server on the
// embedded engine with the demo clinic takes bookings, payments, image
// uploads and notes from nine writers while `molar backup` copies it. The
// archive verifies; altered, opened with another key, or restored into a
// directory that holds anything, it is refused. Restored into a fresh
// directory and served, the clinic has every write acknowledged before the
// backup began, its ledgers add up, every live appointment holds its
// cells in both columns, and every image opens with the bytes its record
// hashes.
func TestRestoreDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole clinic, backed up and restored")
	}
	t.Parallel()
	ctx := context.Background()
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	molarCLI(t, map[string]string{"MOLAR_DATA_DIR": dataDir}, "seed", "--demo")
	ts := startServer(t, func(c *Config) { c.DataDir = dataDir })
	keyFile, recipient := backupKey(t, work)
	admin := signIn(t, ts.URL, "admin@molar.test", "seoul-owner-2026")
	today := time.Now().In(ts.app.schedule.Location()).Format(time.DateOnly)

	found, err := admin.patients.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: "김", PageSize: 4}))
	if err != nil || len(found.Msg.GetPatients()) < 4 {
		t.Fatalf("demo patients: %v %v", found, err)
	}
	var patients []string
	for _, p := range found.Msg.GetPatients() {
		patients = append(patients, p.GetId())
	}
	invoices := admin.invoicesFor(t, patients)
	res, err := admin.schedule.ListResources(ctx, connect.NewRequest(&molarv1.ListResourcesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	providers, chairs := res.Msg.GetProviders(), res.Msg.GetChairs()
	loc := ts.app.schedule.Location()
	var mu sync.Mutex
	slot := 0
	nextSlot := func() (time.Time, string, string) {
		mu.Lock()
		defer mu.Unlock()
		slot++
		day := time.Now().In(loc).AddDate(0, 0, 14+slot/12)
		for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			day = day.AddDate(0, 0, 1)
		}
		at := time.Date(day.Year(), day.Month(), day.Day(), 9, 30, 0, 0, loc).Add(time.Duration(slot%12) * 10 * time.Minute)
		return at, providers[slot%len(providers)].GetId(), chairs[slot%len(chairs)].GetId()
	}

	// The burst: each writer goes on until stop, noting every write the
	// server acknowledges with the time the answer came.
	var acked []written
	count := 0
	note := func(w written) {
		w.at = time.Now()
		mu.Lock()
		defer mu.Unlock()
		acked = append(acked, w)
		count++
	}
	acks := func() int {
		mu.Lock()
		defer mu.Unlock()
		return count
	}
	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { // a desk taking payments until the invoice is paid
			for n := 0; !stopped(); n++ {
				key := fmt.Sprintf("drill-%d-%d", w, n)
				if _, err := admin.billing.RecordPayment(ctx, connect.NewRequest(&molarv1.RecordPaymentRequest{InvoiceId: invoices[w], IdempotencyKey: key,
					Parts: []*molarv1.PaymentPart{cash(1000)}})); err != nil {
					return
				}
				note(written{kind: "payment", key: key, invoice: invoices[w]})
			}
		})
	}
	for w := range 2 {
		wg.Go(func() { // a desk booking
			for !stopped() {
				at, provider, chair := nextSlot()
				got, err := admin.schedule.BookAppointment(ctx, connect.NewRequest(&molarv1.BookAppointmentRequest{PatientId: patients[w], ProviderId: provider,
					ChairId: chair, StartTime: timestamppb.New(at), Minutes: 10}))
				if err == nil {
					note(written{kind: "booking", key: got.Msg.GetAppointment().GetId()})
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() { // a camera uploading photos
			for n := 1; !stopped(); n++ {
				data := smallJPEG(t, w*1000+n)
				id, err := admin.upload(t, patients[2+w], data, today)
				if err != nil {
					t.Error(err)
					return
				}
				note(written{kind: "image", key: id, patient: patients[2+w], sha256: sha256Hex(data)})
			}
		})
	}
	wg.Go(func() { // a dentist writing notes
		for n := 0; n < 90 && !stopped(); n++ {
			got, err := admin.chart.AddNote(ctx, connect.NewRequest(&molarv1.AddNoteRequest{PatientId: patients[n%4], Title: fmt.Sprintf("경과 %d", n),
				Content: "통증 없음, 경과 관찰"}))
			if err != nil {
				t.Error(err)
				return
			}
			note(written{kind: "note", key: got.Msg.GetNote().GetId(), patient: patients[n%4]})
		}
	})
	waitUntil(t, "three writes of each kind acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		kinds := map[string]int{}
		for _, w := range acked {
			kinds[w.kind]++
		}
		return kinds["payment"] >= 3 && kinds["booking"] >= 3 && kinds["image"] >= 3 && kinds["note"] >= 3
	})

	// `molar backup` beside the server, on the same data directory.
	archive := filepath.Join(work, "clinic.tar.zst.age")
	cli := map[string]string{"MOLAR_DATA_DIR": dataDir, "MOLAR_BACKUP_RECIPIENT": recipient}
	out, _ := molarCLI(t, cli, "backup", "--out", archive)
	doneAt := acks()
	waitUntil(t, "20 writes acknowledged after the backup", func() bool { return acks() >= doneAt+20 })
	close(stop)
	wg.Wait()
	t.Log(strings.TrimSpace(out))

	// The archive verifies; the snapshot began at or after its start.
	out, _ = molarCLI(t, nil, "backup", "--verify", archive, "--identity", keyFile)
	if !strings.Contains(out, ": ok:") {
		t.Fatalf("verify: %s", out)
	}
	m := readManifest(t, archive, keyFile)
	var before, after []written
	for _, w := range acked {
		if w.at.Before(m.Started) {
			before = append(before, w)
		} else {
			after = append(after, w)
		}
	}
	if len(before) == 0 || len(after) == 0 {
		t.Fatalf("%d writes acknowledged before the backup began, %d after: the burst did not run across it", len(before), len(after))
	}
	t.Logf("%d writes acknowledged before the backup began, %d after; the archive holds %d files, %d images", len(before), len(after), len(m.Files), m.Images)

	// The server recorded the backup made beside it.
	st, err := admin.backups.GetBackupStatus(ctx, connect.NewRequest(&molarv1.GetBackupStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if last := st.Msg.GetLastSuccess(); last.GetFile() != filepath.Base(archive) || last.GetTrigger() != molarv1.BackupTrigger_BACKUP_TRIGGER_MANUAL ||
		last.GetImages() != int32(m.Images) {
		t.Fatalf("status after the backup: %v", st.Msg)
	}

	checkArchiveRefusals(t, work, archive, keyFile, dataDir)

	// Restore into a fresh directory and serve it.
	restored := filepath.Join(work, "restored")
	out, _ = molarCLI(t, map[string]string{"MOLAR_DATA_DIR": restored}, "restore", "--identity", keyFile, archive)
	t.Log(strings.TrimSpace(out))
	_, errs, code := molarCLIExit(map[string]string{"MOLAR_DATA_DIR": restored}, "restore", "--identity", keyFile, archive)
	if code == 0 || !strings.Contains(errs, "is not empty") || !strings.Contains(errs, "molar.db") {
		t.Fatalf("a second restore into the same directory: exit %d: %s", code, errs)
	}
	rs := startServer(t, func(c *Config) { c.DataDir = restored })
	radmin := signIn(t, rs.URL, "admin@molar.test", "seoul-owner-2026")
	checkRestoredClinic(t, rs, radmin, invoices, patients, before, after)
}

// readManifest reads an archive's manifest.
func readManifest(t *testing.T, archive, keyFile string) backup.Manifest {
	t.Helper()
	ids, err := readIdentities(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := backup.Read(f, ids, backup.Visitor{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkArchiveRefusals: an altered archive, another key, and a restore into
// a directory that holds a clinic are each refused with a message saying so.
func checkArchiveRefusals(t *testing.T, work, archive, keyFile, dataDir string) {
	t.Helper()
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	altered := filepath.Join(work, "altered.age")
	data[len(data)*2/3] ^= 0x40
	if err := os.WriteFile(altered, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := molarCLIExit(nil, "backup", "--verify", altered, "--identity", keyFile); code == 0 || !strings.Contains(errs, "damaged or was altered") {
		t.Fatalf("an altered archive verified: exit %d: %s", code, errs)
	}
	other, _ := backupKey(t, t.TempDir())
	if _, errs, code := molarCLIExit(nil, "backup", "--verify", archive, "--identity", other); code == 0 || !strings.Contains(errs, "the key does not open this backup") {
		t.Fatalf("another key opened the archive: exit %d: %s", code, errs)
	}
	into := filepath.Join(work, "attempt")
	if _, errs, code := molarCLIExit(map[string]string{"MOLAR_DATA_DIR": into}, "restore", "--identity", keyFile, altered); code == 0 || !strings.Contains(errs, "damaged") {
		t.Fatalf("an altered archive restored: exit %d: %s", code, errs)
	} else if entries, _ := os.ReadDir(into); len(entries) != 0 {
		t.Fatalf("a refused restore left %v", entries)
	}
	if _, errs, code := molarCLIExit(map[string]string{"MOLAR_DATA_DIR": dataDir}, "restore", "--identity", keyFile, archive); code == 0 || !strings.Contains(errs, "is not empty") {
		t.Fatalf("a restore over the live clinic: exit %d: %s", code, errs)
	}
}

// checkRestoredClinic checks a restored clinic against the writes
// acknowledged before its backup began (all there) and after (there or
// not, but whole), and its invariants.
func checkRestoredClinic(t *testing.T, rs *testServer, c clinicClients, invoices, patients []string, before, after []written) {
	t.Helper()
	ctx := context.Background()
	var payments []ack
	for _, w := range before {
		if w.kind == "payment" {
			payments = append(payments, ack{kind: "payment", invoice: w.invoice, key: w.key})
		}
	}
	// Payments acknowledged before are there, each invoice adds up, and
	// no two live appointments share a column's time.
	checkAfterCrash(t, ctx, c.billing, c.schedule, invoices, payments)

	notes := map[string]bool{}
	for _, p := range patients {
		got, err := c.chart.ListNotes(ctx, connect.NewRequest(&molarv1.ListNotesRequest{PatientId: p, PageSize: 100}))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range got.Msg.GetNotes() {
			notes[n.GetId()] = true
		}
	}
	for _, w := range before {
		switch w.kind {
		case "booking":
			if _, err := rs.db.schedule.Appointment(ctx, w.key); err != nil {
				t.Fatalf("appointment %s acknowledged before the backup: %v", w.key, err)
			}
		case "note":
			if !notes[w.key] {
				t.Fatalf("note %s acknowledged before the backup is not restored", w.key)
			}
		case "image":
			img, err := c.images.GetImage(ctx, connect.NewRequest(&molarv1.GetImageRequest{Id: w.key}))
			if err != nil {
				t.Fatalf("image %s acknowledged before the backup: %v", w.key, err)
			}
			if img.Msg.GetImage().GetSha256() != w.sha256 {
				t.Fatalf("image %s: record sha256 %s, uploaded %s", w.key, img.Msg.GetImage().GetSha256(), w.sha256)
			}
		}
	}

	// Every image of the restored clinic opens with the bytes its record
	// hashes, those uploaded after the backup began included if they are in.
	n := 0
	for _, p := range patients {
		list, err := c.images.ListImages(ctx, connect.NewRequest(&molarv1.ListImagesRequest{PatientId: p}))
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range list.Msg.GetImages() {
			got, err := c.images.GetImage(ctx, connect.NewRequest(&molarv1.GetImageRequest{Id: img.GetId()}))
			if err != nil {
				t.Fatal(err)
			}
			body := fetch(t, c.url+got.Msg.GetLinks().GetOriginalUrl(), http.StatusOK)
			if sha256Hex(body) != img.GetSha256() || int64(len(body)) != img.GetSizeBytes() {
				t.Fatalf("image %s: the file does not match its record", img.GetId())
			}
			n++
		}
	}

	// Every live appointment in the weeks booked holds its cells in its
	// provider's and its chair's columns.
	holdings, err := rs.db.schedule.Holdings(ctx, time.Now().In(rs.app.schedule.Location()).Format(time.DateOnly))
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]string{}
	for _, h := range holdings {
		held[fmt.Sprintf("%d/%s/%d", h.Slot.Kind, h.Slot.Resource, h.Slot.Minute)] = h.Claim.Owner
	}
	loc := rs.app.schedule.Location()
	live := 0
	for week := range 8 {
		start := time.Now().In(loc).AddDate(0, 0, 7*week)
		got, err := c.schedule.ListSchedule(ctx, connect.NewRequest(&molarv1.ListScheduleRequest{StartDate: start.Format(time.DateOnly),
			EndDate: start.AddDate(0, 0, 6).Format(time.DateOnly)}))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range got.Msg.GetAppointments() {
			if s := a.GetStatus(); s == molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED || s == molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW ||
				a.GetStartTime().AsTime().Before(time.Now()) {
				continue
			}
			live++
			first := a.GetStartTime().AsTime().Unix() / 60
			for m := first; m < first+int64(a.GetMinutes()); m += 5 {
				for kind, res := range map[molarv1.ResourceKind]string{molarv1.ResourceKind_RESOURCE_KIND_PROVIDER: a.GetProviderId(), molarv1.ResourceKind_RESOURCE_KIND_CHAIR: a.GetChairId()} {
					if owner := held[fmt.Sprintf("%d/%s/%d", kind, res, m)]; owner != a.GetId() {
						t.Fatalf("appointment %s at %v: its %v cell at minute %d is held by %q", a.GetId(), a.GetStartTime().AsTime(), kind, m, owner)
					}
				}
			}
		}
	}
	kinds := map[string]int{}
	for _, w := range before {
		kinds[w.kind]++
	}
	t.Logf("restored: every one of %v acknowledged before the backup is there; %d images open and match; %d live appointments hold their cells", kinds, n, live)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// waitUntil waits, up to three minutes, for cond.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not in 3 minutes: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScheduledBackupOncePerWindow starts two servers on one clinic (one
// data directory, or one MongoDB database), both keeping the schedule
// into one backup directory: the window's backup is taken once, by one of
// them, recorded once, and shown by both.
func TestScheduledBackupOncePerWindow(t *testing.T) {
	t.Parallel()
	for name, engine := range map[string][]func(*Config){"sqlite": nil, "mongodb": {onMongo(t)}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			work := t.TempDir()
			keyFile, recipient := backupKey(t, work)
			dir := filepath.Join(work, "backups")
			schedule := func(c *Config) {
				c.Backup = BackupConfig{Dir: dir, Every: 24 * time.Hour, Keep: 3, Recipients: []string{recipient}}
			}
			first := startServer(t, append(engine, schedule)...)
			second := startServer(t, first.same(), schedule)
			for _, ts := range []*testServer{first, second} {
				ts.addStaff(t, fmt.Sprintf("owner-%p@clinic.test", ts), "staff-password-99", molarv1.Role_ROLE_ADMIN)
			}
			window := backup.Window(time.Now(), 24*time.Hour, first.app.schedule.Location())
			jobID := backup.JobKind + ":" + window.UTC().Format(time.RFC3339)
			waitUntil(t, "the window's backup job done", func() bool {
				done, err := first.db.jobs.List(ctx, jobs.Done, 100)
				if err != nil {
					t.Fatal(err)
				}
				for _, j := range done {
					if j.ID == jobID {
						return true
					}
				}
				return false
			})
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Fatalf("backup directory holds %v, want one archive", entries)
			}
			for _, ts := range []*testServer{first, second} {
				c := signIn(t, ts.URL, fmt.Sprintf("owner-%p@clinic.test", ts), "staff-password-99")
				st, err := c.backups.GetBackupStatus(ctx, connect.NewRequest(&molarv1.GetBackupStatusRequest{}))
				if err != nil {
					t.Fatal(err)
				}
				if len(st.Msg.GetRecent()) != 1 || st.Msg.GetLastSuccess().GetFile() != entries[0].Name() || !st.Msg.GetSchedule().GetEnabled() ||
					st.Msg.GetLastSuccess().GetTrigger() != molarv1.BackupTrigger_BACKUP_TRIGGER_SCHEDULED {
					t.Fatalf("status on %s: %v", ts.URL, st.Msg)
				}
				if next := st.Msg.GetSchedule().GetNextTime().AsTime(); !next.Equal(window.Add(24 * time.Hour)) {
					t.Fatalf("next backup %v, want %v", next, window.Add(24*time.Hour))
				}
			}
			out, _ := molarCLI(t, nil, "backup", "--verify", filepath.Join(dir, entries[0].Name()), "--identity", keyFile)
			if !strings.Contains(out, ": ok:") {
				t.Fatalf("verify: %s", out)
			}
		})
	}
}

// TestBackupGaugeFollowsTheLastSuccess scrapes
// molar_backup_last_success_timestamp_seconds: 0 before any backup, the
// end of the scheduled backup once it is taken, and, on a process started
// afterwards that keeps no schedule, the same from the record.
func TestBackupGaugeFollowsTheLastSuccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	work := t.TempDir()
	_, recipient := backupKey(t, work)
	plain := startServer(t, withAdmin)
	if v := backupGauge(t, plain); v != 0 {
		t.Fatalf("gauge %v before any backup", v)
	}
	ts := startServer(t, withAdmin, func(c *Config) {
		c.Backup = BackupConfig{Dir: filepath.Join(work, "backups"), Every: 24 * time.Hour, Keep: 3, Recipients: []string{recipient}}
	})
	var last backup.Run
	waitUntil(t, "the scheduled backup recorded", func() bool {
		r, err := ts.db.runs.LastSuccess(ctx)
		last = r
		return err == nil
	})
	want := float64(last.End.UnixMilli()) / 1000
	// The record keeps milliseconds; the process that took it knows more.
	near := func(v float64) bool { return v > want-0.002 && v < want+0.002 }
	waitUntil(t, "the gauge set", func() bool { return near(backupGauge(t, ts)) })
	later := startServer(t, ts.same(), withAdmin)
	if v := backupGauge(t, later); !near(v) {
		t.Fatalf("a process started later: gauge %v, want %v", v, want)
	}
}

// backupGauge scrapes a server's molar_backup_last_success_timestamp_seconds.
func backupGauge(t *testing.T, ts *testServer) float64 {
	t.Helper()
	body := string(fetch(t, "http://"+ts.AdminAddr()+"/metrics", http.StatusOK))
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "molar_backup_last_success_timestamp_seconds "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no molar_backup_last_success_timestamp_seconds in\n%s", body)
	return 0
}
