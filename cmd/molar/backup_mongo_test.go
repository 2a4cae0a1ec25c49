package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
)

// TestBackupRestoreOnMongo backs up a clinic on the MongoDB engine (here
// FerretDB, which has no snapshot reads, so the copy is taken collection
// by collection while nobody writes) and restores it into a new database:
// the same patients, invoices with their payments, appointments and
// images, each image opening with the bytes its record hashes. A restore
// into a database that holds anything is refused.
func TestBackupRestoreOnMongo(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole clinic on the MongoDB engine, backed up and restored")
	}
	t.Parallel()
	ctx := context.Background()
	work := t.TempDir()
	ts := startServer(t, onMongo(t))
	if _, err := seedDemo(ctx, ts.db, ts.app, time.Now); err != nil {
		t.Fatal(err)
	}
	admin := signIn(t, ts.URL, "admin@molar.test", "seoul-owner-2026")
	found, err := admin.patients.SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: "김", PageSize: 2}))
	if err != nil || len(found.Msg.GetPatients()) < 2 {
		t.Fatalf("demo patients: %v %v", found, err)
	}
	var patients []string
	for _, p := range found.Msg.GetPatients() {
		patients = append(patients, p.GetId())
	}
	invoices := admin.invoicesFor(t, patients)
	if _, err := admin.billing.RecordPayment(ctx, connect.NewRequest(&molarv1.RecordPaymentRequest{InvoiceId: invoices[0], IdempotencyKey: "mongo-drill-1",
		Parts: []*molarv1.PaymentPart{cash(5000)}})); err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(ts.app.schedule.Location()).Format(time.DateOnly)
	for n := range 3 {
		if _, err := admin.upload(t, patients[n%2], smallJPEG(t, 500+n), today); err != nil {
			t.Fatal(err)
		}
	}

	keyFile, recipient := backupKey(t, work)
	archive := filepath.Join(work, "clinic.tar.zst.age")
	// The commands run on a Config made here: the shared test engine may
	// listen on a Unix socket, whose URI the environment's check refuses.
	onDB := func(name, dir string) Config {
		return Config{Profile: "dev", MongoURI: mongotest.URI(t), Database: name, DataDir: dir, Backup: BackupConfig{Recipients: []string{recipient}}}
	}
	out, _ := molarCmd(t, onDB(ts.cfg.Database, ts.cfg.DataDir), backupCmd, "--out", archive)
	t.Log(strings.TrimSpace(out))
	out, _ = molarCLI(t, nil, "backup", "--verify", archive, "--identity", keyFile)
	if !strings.Contains(out, "mongodb engine") || !strings.Contains(out, "collection by collection") {
		t.Fatalf("verify: %s", out)
	}

	// Into a database that holds the clinic: refused.
	if _, err := molarCmdErr(onDB(ts.cfg.Database, t.TempDir()), restoreCmd, "--identity", keyFile, archive); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("a restore over the clinic: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "restored_" + hex.EncodeToString(b)
	restoredDir := filepath.Join(work, "restored")
	out, _ = molarCmd(t, onDB(name, restoredDir), restoreCmd, "--identity", keyFile, archive)
	t.Log(strings.TrimSpace(out))
	// A MongoDB archive does not restore into SQLite.
	if _, errs, code := molarCLIExit(map[string]string{"MOLAR_DATA_DIR": filepath.Join(work, "sqlite")}, "restore", "--identity", keyFile, archive); code == 0 ||
		!strings.Contains(errs, "of the mongodb engine") {
		t.Fatalf("a MongoDB archive restored into SQLite: exit %d: %s", code, errs)
	}

	rs := startServer(t, onMongo(t), func(c *Config) { c.Database, c.DataDir = name, restoredDir })
	radmin := signIn(t, rs.URL, "admin@molar.test", "seoul-owner-2026")
	if got, want := rs.app.patients.Count(), ts.app.patients.Count(); got != want {
		t.Fatalf("restored %d patients of %d", got, want)
	}
	checkAfterCrash(t, ctx, radmin.billing, radmin.schedule, invoices, []ack{{kind: "payment", invoice: invoices[0], key: "mongo-drill-1"}})
	for _, p := range patients {
		src, err := admin.images.ListImages(ctx, connect.NewRequest(&molarv1.ListImagesRequest{PatientId: p}))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := radmin.images.ListImages(ctx, connect.NewRequest(&molarv1.ListImagesRequest{PatientId: p}))
		if err != nil {
			t.Fatal(err)
		}
		if len(src.Msg.GetImages()) != len(dst.Msg.GetImages()) {
			t.Fatalf("patient %s: %d images restored of %d", p, len(dst.Msg.GetImages()), len(src.Msg.GetImages()))
		}
		for _, img := range dst.Msg.GetImages() {
			got, err := radmin.images.GetImage(ctx, connect.NewRequest(&molarv1.GetImageRequest{Id: img.GetId()}))
			if err != nil {
				t.Fatal(err)
			}
			body := fetch(t, rs.URL+got.Msg.GetLinks().GetOriginalUrl(), 200)
			if sum := sha256Hex(body); sum != img.GetSha256() {
				t.Fatalf("image %s: the file does not match its record", img.GetId())
			}
		}
	}
	for _, db := range []*mongo.DB{ts.db.mongo, rs.db.mongo} {
		if unfinished, err := mongo.RestoreUnfinished(ctx, db); err != nil || unfinished {
			t.Fatalf("restore mark: %v %v", unfinished, err)
		}
	}
}

// command is a subcommand of molar that writes to stdout and stderr.
type command func(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout, stderr io.Writer) error

// molarCmd runs a subcommand on cfg; an error fails t.
func molarCmd(t *testing.T, cfg Config, cmd command, args ...string) (string, string) {
	t.Helper()
	out, err := molarCmdErr(cfg, cmd, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out, ""
}

func molarCmdErr(cfg Config, cmd command, args ...string) (string, error) {
	var out, errs bytes.Buffer
	err := cmd(context.Background(), cfg, newLogger(&errs, slog.LevelWarn), args, &out, &errs)
	return out.String(), err
}
