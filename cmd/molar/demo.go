package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services/chart"
)

// demoCatalog is a plausible clinic catalog with the clinic's own codes and
// round fees; it copies no licensed code set.
func demoCatalog() []*molarv1.Procedure {
	type p = molarv1.Procedure
	c := func(code, ko, en string, cat molarv1.ProcedureCategory, fee int64, insured, tooth, surfaces bool) *p {
		return &p{Code: code, NameKo: ko, NameEn: en, Category: cat, Fee: fee, Insured: insured, RequiresTooth: tooth, RequiresSurfaces: surfaces, Active: true}
	}
	const (
		dx    = molarv1.ProcedureCategory_PROCEDURE_CATEGORY_DIAGNOSTIC
		prev  = molarv1.ProcedureCategory_PROCEDURE_CATEGORY_PREVENTIVE
		rest  = molarv1.ProcedureCategory_PROCEDURE_CATEGORY_RESTORATIVE
		endo  = molarv1.ProcedureCategory_PROCEDURE_CATEGORY_ENDODONTIC
		perio = molarv1.ProcedureCategory_PROCEDURE_CATEGORY_PERIODONTIC
		pros  = molarv1.ProcedureCategory_PROCEDURE_CATEGORY_PROSTHETIC
		surg  = molarv1.ProcedureCategory_PROCEDURE_CATEGORY_SURGICAL
		orth  = molarv1.ProcedureCategory_PROCEDURE_CATEGORY_ORTHODONTIC
		impl  = molarv1.ProcedureCategory_PROCEDURE_CATEGORY_IMPLANT
	)
	return []*p{
		c("DX-EXAM", "구강검진", "Oral examination", dx, 12000, true, false, false),
		c("DX-PANO", "파노라마 촬영", "Panoramic radiograph", dx, 15000, true, false, false),
		c("DX-PA", "치근단 촬영", "Periapical radiograph", dx, 5000, true, true, false),
		c("DX-CT", "치과용 CT", "Cone-beam CT", dx, 150000, false, false, false),
		c("PV-SCAL", "스케일링", "Scaling", prev, 15000, true, false, false),
		c("PV-SEAL", "치아홈메우기", "Fissure sealant", prev, 20000, true, true, false),
		c("PV-FL", "불소도포", "Fluoride varnish", prev, 30000, false, false, false),
		c("RS-GI", "글래스아이오노머 충전", "Glass ionomer filling", rest, 25000, true, true, true),
		c("RS-CR", "레진 충전", "Composite resin filling", rest, 100000, false, true, true),
		c("RS-INL-G", "골드 인레이", "Gold inlay", rest, 400000, false, true, true),
		c("RS-INL-C", "세라믹 인레이", "Ceramic inlay", rest, 350000, false, true, true),
		c("EN-RCT", "근관치료", "Root canal treatment", endo, 60000, true, true, false),
		c("EN-RCT-R", "근관 재치료", "Root canal retreatment", endo, 90000, true, true, false),
		c("PE-SRP", "치근활택술", "Scaling and root planing", perio, 40000, true, true, false),
		c("PE-FLAP", "치은박리소파술", "Flap surgery", perio, 120000, true, true, false),
		c("PR-CR-Z", "지르코니아 크라운", "Zirconia crown", pros, 550000, false, true, false),
		c("PR-CR-G", "골드 크라운", "Gold crown", pros, 650000, false, true, false),
		c("PR-CR-P", "PFM 크라운", "Porcelain-fused-to-metal crown", pros, 450000, false, true, false),
		c("PR-DEN", "틀니", "Complete denture", pros, 1200000, true, false, false),
		c("SG-EXT", "발치", "Extraction", surg, 20000, true, true, false),
		c("SG-EXT-W", "사랑니 발치", "Wisdom tooth extraction", surg, 60000, true, true, false),
		c("OR-CONS", "교정 상담", "Orthodontic consultation", orth, 0, false, false, false),
		c("OR-FIX", "고정식 교정", "Fixed orthodontic appliance", orth, 4500000, false, false, false),
		c("IM-FIX", "임플란트 식립", "Implant placement", impl, 1200000, false, true, false),
		c("IM-CR", "임플란트 보철", "Implant crown", impl, 500000, false, true, false),
	}
}

var (
	surnames = []rune("김이박최정강조윤장임한오서신권황안송류홍")
	given    = []rune("민서지현수준우영하은도윤예진성호경태소연재희혜주")
	streets  = []string{"서울특별시 강남구 테헤란로", "서울특별시 송파구 올림픽로", "서울특별시 마포구 월드컵북로", "경기도 성남시 분당구 판교역로", "서울특별시 관악구 관악로"}
	allergy  = []string{"페니실린", "리도카인", "라텍스", "아스피린"}
	disease  = []string{"고혈압", "당뇨", "골다공증", "심장질환", "갑상선질환"}
	drugs    = []string{"와파린", "아스피린", "메트포르민", "비스포스포네이트"}
)

// demoPatients makes n fictional Korean patients, the same ones for a seed.
func demoPatients(n int, seed uint64, today time.Time) []*molarv1.PatientInput {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]*molarv1.PatientInput, n)
	for i := range out {
		name := string(surnames[rng.IntN(len(surnames))]) + string(given[rng.IntN(len(given))]) + string(given[rng.IntN(len(given))])
		birth := time.Date(1940+rng.IntN(80), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		sex := molarv1.Sex(1 + rng.IntN(2))
		in := &molarv1.PatientInput{
			Name: name, Sex: sex, BirthDate: birth.Format(time.DateOnly),
			MobilePhone:    fmt.Sprintf("010-%04d-%04d", rng.IntN(10000), rng.IntN(10000)),
			Address:        fmt.Sprintf("%s %d", streets[rng.IntN(len(streets))], 1+rng.IntN(500)),
			InsuranceType:  molarv1.InsuranceType_INSURANCE_TYPE_NATIONAL_HEALTH,
			SmsConsent:     rng.IntN(10) < 8,
			FirstVisitDate: today.AddDate(0, 0, -rng.IntN(3650)).Format(time.DateOnly),
			Alerts:         &molarv1.MedicalAlerts{},
		}
		if rng.IntN(20) == 0 {
			in.InsuranceType = molarv1.InsuranceType_INSURANCE_TYPE_MEDICAL_AID
		}
		if rng.IntN(10) < 6 {
			sexDigit := 1 + int(sex) - 1
			if birth.Year() >= 2000 {
				sexDigit += 2
			}
			in.Rrn = fmt.Sprintf("%s-%d%06d", birth.Format("060102"), sexDigit, rng.IntN(1000000))
		}
		if rng.IntN(8) == 0 {
			in.Alerts.Allergies = []string{allergy[rng.IntN(len(allergy))]}
		}
		if rng.IntN(5) == 0 {
			in.Alerts.Conditions = []string{disease[rng.IntN(len(disease))]}
			in.Alerts.Medications = []string{drugs[rng.IntN(len(drugs))]}
		}
		if rng.IntN(15) == 0 {
			in.Tags = []string{"교정"}
		}
		out[i] = in
	}
	return out
}

// demoCharts gives each patient a few findings, existing work, plans and a
// note, dated over the last year.
func demoCharts(ids []string, seed uint64, now time.Time, procs []*molarv1.Procedure) []chart.Record {
	rng := rand.New(rand.NewPCG(seed, 7))
	byCode := map[string]*molarv1.Procedure{}
	for _, p := range procs {
		byCode[p.GetCode()] = p
	}
	teeth := []int32{11, 12, 13, 14, 15, 16, 17, 21, 22, 23, 24, 25, 26, 27, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 47}
	surfaces := []molarv1.Surface{molarv1.Surface_SURFACE_M, molarv1.Surface_SURFACE_O, molarv1.Surface_SURFACE_D, molarv1.Surface_SURFACE_B, molarv1.Surface_SURFACE_L}
	var out []chart.Record
	for _, id := range ids {
		r := chart.Record{PatientID: id, Version: 1}
		at := now.AddDate(0, 0, -rng.IntN(365))
		by := "박서준"
		for range rng.IntN(5) {
			at = at.Add(time.Duration(rng.IntN(72)) * time.Hour)
			if at.After(now) {
				at = now
			}
			tooth := teeth[rng.IntN(len(teeth))]
			e := chart.Entry{ID: newID(), Tooth: tooth, CreatedBy: by, Created: at, UpdatedBy: by, Updated: at}
			switch rng.IntN(4) {
			case 0:
				e.Condition = molarv1.Condition_CONDITION_CARIES
				e.Surfaces = []molarv1.Surface{surfaces[rng.IntN(5)]}
			default:
				code := []string{"RS-CR", "RS-GI", "EN-RCT", "PR-CR-Z", "SG-EXT", "RS-INL-G"}[rng.IntN(6)]
				p := byCode[code]
				e.ProcedureCode, e.ProcedureName, e.Fee = code, p.GetNameKo(), p.GetFee()
				e.Status = molarv1.EntryStatus(1 + rng.IntN(3))
				if p.GetRequiresSurfaces() {
					e.Surfaces = []molarv1.Surface{surfaces[rng.IntN(5)]}
				}
				if e.Status == molarv1.EntryStatus_ENTRY_STATUS_COMPLETED {
					e.Completed = at
				}
			}
			r.Events = append(r.Events, chart.Event{Type: chart.EventAdd, At: at, By: by, ByName: by, Entry: e})
		}
		if rng.IntN(2) == 0 {
			r.Notes = append(r.Notes, chart.Note{ID: id + "." + newID(), Title: "정기 검진", Content: "구강위생 상태 양호. 6개월 후 재내원 권고.",
				Tags: []string{"검진"}, AuthorName: "박서준", Created: at, Updated: at, UpdatedBy: "박서준", Version: 1})
		}
		if len(r.Events) > 0 || len(r.Notes) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// seedClinical loads the catalog and demo patients into an empty clinic.
func seedClinical(ctx context.Context, db *database, a *app, patients int, now time.Time) ([]string, error) {
	var report []string
	procs, _, err := a.chart.Procedures(ctx)
	if err != nil {
		return nil, err
	}
	if len(procs) == 0 {
		for _, p := range demoCatalog() {
			if err := a.chart.SaveProcedure(ctx, p); err != nil {
				return nil, err
			}
		}
		report = append(report, fmt.Sprintf("demo data: %d procedures", len(demoCatalog())))
	}
	if err := a.patients.Load(ctx); err != nil {
		return nil, err
	}
	if a.patients.Count() > 0 || patients == 0 {
		return report, nil
	}
	if err := a.patients.Import(ctx, demoPatients(patients, 2026, now), db.patients.InsertMany); err != nil {
		return nil, err
	}
	procs, _, err = a.chart.Procedures(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.clinical.InsertMany(ctx, demoCharts(a.patients.IDs(), 2026, now, procs)); err != nil {
		return nil, err
	}
	report = append(report, fmt.Sprintf("demo data: %d patients with charts and notes", patients))
	r, err := seedSchedule(ctx, db, a, now)
	if r != "" {
		report = append(report, r)
	}
	return report, err
}
