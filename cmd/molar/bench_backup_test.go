package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"filippo.io/age"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo/blob"
	"github.com/molar-dental/molar/services/audit"
)

// seedImages stores n image files of 300 KiB each with their records, as
// uploads leave them, for the patients of a clinic in dir. Their bytes are
// random: a JPEG's entropy-coded data no more compresses than these, and
// files alike would be compressed away, which real radiographs are not.
func seedImages(b *testing.B, dir string, n int) int64 {
	b.Helper()
	ctx := context.Background()
	cfg := Config{Profile: "dev", DataDir: dir, JWTKeys: testKeySpec}
	logger := newLogger(io.Discard, 8)
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer db.close(ctx)
	a, err := newApp(cfg, db, logger, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.patients.Load(ctx); err != nil {
		b.Fatal(err)
	}
	blobs, err := blob.Open(ctx, "", dir)
	if err != nil {
		b.Fatal(err)
	}
	ids := a.patients.IDs()
	rng := rand.NewChaCha8([32]byte{7})
	data := make([]byte, 300<<10)
	var total int64
	for i := range n {
		_, _ = rng.Read(data)
		id := newID()
		stored, err := blobs.Put(ctx, "images/"+id+"/original", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		img := &molarv1.Image{Id: id, PatientId: ids[i%len(ids)], Kind: molarv1.ImageKind_IMAGE_KIND_PANORAMIC, TakenOn: "2024-05-01", MediaType: "image/jpeg",
			Width: 3000, Height: 1500, SizeBytes: stored.Size, Sha256: stored.SHA256, UploadTime: timestamppb.Now(), Version: 1}
		if err := db.images.Save(ctx, img, audit.Event{ID: newID(), Time: time.Now(), Action: molarv1.AuditAction_AUDIT_ACTION_IMAGE_UPLOADED}); err != nil {
			b.Fatal(err)
		}
		total += stored.Size
	}
	return total
}

// BenchmarkBackup measures `molar backup`, `molar backup --verify` and
// `molar restore` on the embedded engine at five clinic-years of the demo
// clinic (15,000 patients with charts and notes, the book), with
// MOLAR_BENCH_IMAGES image files (default 1,000) of 300 KiB each:
// the time of each, the database's size and the archive's.
//
//	go test -run '^$' -bench Backup -benchtime 3x -timeout 60m ./cmd/molar/
func BenchmarkBackup(b *testing.B) {
	nImages := 1000
	if v := os.Getenv("MOLAR_BENCH_IMAGES"); v != "" {
		nImages, _ = strconv.Atoi(v)
	}
	ctx := context.Background()
	dir := b.TempDir()
	t0 := time.Now()
	patients, appts := seedClinicYears(b, filepath.Join(dir, "data"), 5)
	imageBytes := seedImages(b, filepath.Join(dir, "data"), nImages)
	b.Logf("5 clinic-years: %d patients, %d appointments, %d images (%.0f MB), seeded in %v", patients, appts, nImages, float64(imageBytes)/1e6,
		time.Since(t0).Round(time.Second))
	dbInfo, err := os.Stat(filepath.Join(dir, "data", sqliteFile))
	if err != nil {
		b.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	keyFile := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := Config{Profile: "dev", DataDir: filepath.Join(dir, "data"), JWTKeys: testKeySpec, Backup: BackupConfig{Recipients: []string{id.Recipient().String()}}}
	logger := newLogger(io.Discard, 8)
	var backupS, verifyS, restoreS []float64
	var size int64
	for i := 0; b.Loop(); i++ {
		archive := filepath.Join(dir, fmt.Sprintf("clinic-%d.tar.zst.age", i))
		start := time.Now()
		if err := backupCmd(ctx, cfg, logger, []string{"--out", archive}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
		backupS = append(backupS, time.Since(start).Seconds())
		st, err := os.Stat(archive)
		if err != nil {
			b.Fatal(err)
		}
		size = st.Size()

		start = time.Now()
		if err := verifyCmd(ctx, archive, keyFile, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
		verifyS = append(verifyS, time.Since(start).Seconds())

		into := cfg
		into.DataDir = filepath.Join(dir, fmt.Sprintf("restored-%d", i))
		start = time.Now()
		if err := restoreCmd(ctx, into, logger, []string{"--identity", keyFile, archive}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
		restoreS = append(restoreS, time.Since(start).Seconds())
		_ = os.RemoveAll(into.DataDir)
		_ = os.Remove(archive)
	}
	b.ReportMetric(median(backupS), "backup-s")
	b.ReportMetric(median(verifyS), "verify-s")
	b.ReportMetric(median(restoreS), "restore-s")
	b.ReportMetric(float64(dbInfo.Size())/1e6, "db-MB")
	b.ReportMetric(float64(imageBytes)/1e6, "images-MB")
	b.ReportMetric(float64(size)/1e6, "archive-MB")
}
