package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services/patient"
)

// benchPatients is five clinic-years of patients (15,000), each with a
// sealed registration number, about a third with medical alerts.
func benchPatientRecords(n int) []patient.Record {
	rng := rand.New(rand.NewPCG(7, 2026))
	family := []string{"김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"}
	given := []string{"민지", "서연", "지훈", "도윤", "하은", "예준", "수아", "시우", "지아", "주원"}
	start := time.Date(2021, 1, 4, 9, 0, 0, 0, time.UTC)
	recs := make([]patient.Record, n)
	for i := range recs {
		at := start.Add(time.Duration(i) * 2 * time.Hour)
		sealed := make([]byte, 48)
		for j := range sealed {
			sealed[j] = byte(rng.UintN(256))
		}
		in := &molarv1.PatientInput{Name: family[rng.IntN(len(family))] + given[rng.IntN(len(given))], Sex: molarv1.Sex(1 + rng.IntN(2)),
			BirthDate:   fmt.Sprintf("%04d-%02d-%02d", 1940+rng.IntN(80), 1+rng.IntN(12), 1+rng.IntN(28)),
			MobilePhone: fmt.Sprintf("010-%04d-%04d", rng.IntN(10000), rng.IntN(10000)), Address: "서울특별시 강남구 테헤란로 " + fmt.Sprint(1+rng.IntN(500)),
			SmsConsent: rng.IntN(2) == 0, FirstVisitDate: at.Format(time.DateOnly), Memo: "정기 검진"}
		if i%3 == 0 {
			in.Alerts = &molarv1.MedicalAlerts{Allergies: []string{"페니실린"}, Conditions: []string{"고혈압"}}
		}
		recs[i] = patient.Record{ID: fmt.Sprintf("patient-%05d", i), ChartNumber: int64(i + 1), Details: in, RRNKeyID: "k1", RRNSealed: sealed,
			RRNMasked: "900315-2******", Active: i%40 != 0, Created: at, Updated: at, Version: 1}
	}
	return recs
}

// BenchmarkPatientsSQLite measures what a server process asks of the
// patient store at 15,000 patients: a patient by id (a card opened, a
// change from another process followed), and every patient at start-up.
func BenchmarkPatientsSQLite(b *testing.B) {
	const patients = 15000
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "molar.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	store := sqlite.NewPatientStore(db)
	recs := benchPatientRecords(patients)
	t0 := time.Now()
	if err := store.InsertMany(ctx, recs); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d patients with InsertMany in %v", patients, time.Since(t0))

	b.Run("get", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		var lat []time.Duration
		for b.Loop() {
			id := recs[rng.IntN(patients)].ID
			t0 := time.Now()
			r, err := store.Get(ctx, id)
			if err != nil || r.ID != id {
				b.Fatalf("get %s: %v", id, err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
	})
	b.Run("all", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			t0 := time.Now()
			all, err := store.All(ctx)
			if err != nil || len(all) != patients {
				b.Fatalf("all: %d patients, %v", len(all), err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
	})
}
