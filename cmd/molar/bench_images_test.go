package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/image/bmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// BenchmarkImageUpload compares sending a 36 MB radiograph (an uncompressed
// BMP, 4000×3000) through the resumable upload, in the browser's 8 MiB
// pieces, into local storage with the content check and the record's
// commit, against copying the same file on the same disk (cp). It reports
// MB/s for both; the ratio is what the upload costs over the disk.
func BenchmarkImageUpload(b *testing.B) {
	m := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
	for y := range 3000 {
		for x := range 4000 {
			m.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := bmp.Encode(&buf, m); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	mb := float64(len(data)) / 1e6

	b.Run("cp", func(b *testing.B) {
		dir := b.TempDir()
		src := filepath.Join(dir, "src.bmp")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			b.Fatal(err)
		}
		var total time.Duration
		for i := 0; b.Loop(); i++ {
			start := time.Now()
			in, err := os.Open(src)
			if err != nil {
				b.Fatal(err)
			}
			out, err := os.Create(filepath.Join(dir, "dst.bmp"))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(out, in); err != nil {
				b.Fatal(err)
			}
			in.Close()
			if err := out.Close(); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		b.ReportMetric(mb*float64(b.N)/total.Seconds(), "MB/s")
	})

	b.Run("upload", func(b *testing.B) {
		ts := startServer(&testing.T{}, func(c *Config) { c.MaxUploadBytes = 100 << 20 })
		defer func() { _ = ts.Shutdown(context.Background()) }()
		ctx := context.Background()
		if _, err := ts.app.auth.CreateAccount(ctx, "dr@clinic.test", "dr", []molarv1.Role{molarv1.Role_ROLE_DENTIST}, "dentist-password-1", false); err != nil {
			b.Fatal(err)
		}
		res, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL).Login(ctx,
			connect.NewRequest(&molarv1.LoginRequest{Email: "dr@clinic.test", Password: "dentist-password-1"}))
		if err != nil {
			b.Fatal(err)
		}
		token := res.Msg.GetAccessToken()
		p, err := ts.app.patients.Create(ctx, &molarv1.PatientInput{Name: "김영상", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1990-01-01"}, false)
		if err != nil {
			b.Fatal(err)
		}
		created := p
		up := tusClient{base: ts.URL, token: token}
		meta := map[string]string{"patient_id": created.ID, "kind": "IMAGE_KIND_PANORAMIC",
			"taken_on": time.Now().In(ts.app.schedule.Location()).Format(time.DateOnly), "filename": "pano.bmp"}
		const piece = 8 << 20
		var total time.Duration
		for b.Loop() {
			start := time.Now()
			loc, res := up.create(b, len(data), meta)
			if loc == "" {
				b.Fatalf("create: %d", res.StatusCode)
			}
			for off := 0; off < len(data); off += piece {
				res := up.patch(b, loc, off, data[off:min(off+piece, len(data))])
				if res.StatusCode != http.StatusNoContent {
					b.Fatalf("piece at %d: %d", off, res.StatusCode)
				}
			}
			total += time.Since(start)
		}
		b.ReportMetric(mb*float64(b.N)/total.Seconds(), "MB/s")
	})
}
