package main

import (
	"context"
	"errors"
	"strings"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/clinic"
)

// demoAccount is a staff account of the demo clinic; the README lists them.
type demoAccount struct {
	email, name, password string
	role                  molarv1.Role
}

var demoAccounts = []demoAccount{
	{"admin@molar.test", "김하늘 (원장)", "seoul-owner-2026", molarv1.Role_ROLE_ADMIN},
	{"dentist@molar.test", "박서준", "seoul-dr-2026", molarv1.Role_ROLE_DENTIST},
	{"hygienist@molar.test", "이지은", "seoul-hyg-2026", molarv1.Role_ROLE_HYGIENIST},
	{"frontdesk@molar.test", "최민지", "seoul-desk-2026", molarv1.Role_ROLE_FRONT_DESK},
}

// seedDemo fills an empty database with a plausible clinic and one account
// per role. Anything already there is left as it is, so running it twice
// changes nothing.
func seedDemo(ctx context.Context, db *database, a *app, now func() time.Time) (string, error) {
	var report []string
	for _, d := range demoAccounts {
		_, err := a.auth.CreateAccount(ctx, d.email, d.name, []molarv1.Role{d.role}, d.password, false)
		switch {
		case err == nil:
			report = append(report, "demo data: account "+d.email)
		case emailTaken(err):
			// The account exists already.
		default:
			return "", err
		}
	}
	r, err := seedClinic(ctx, db, now)
	if err != nil {
		return "", err
	}
	report = append(report, r)
	more, err := seedClinical(ctx, db, a, 300, now())
	return strings.Join(append(report, more...), "\n"), err
}

func seedClinic(ctx context.Context, db *database, now func() time.Time) (string, error) {
	svc := clinic.NewService(db.clinic, now)
	current, err := svc.Get(ctx)
	if err != nil {
		return "", err
	}
	if current.GetVersion() > 0 {
		return "demo data: clinic already set up, left unchanged", nil
	}
	c := clinic.Default()
	c.Name = "서울미소치과의원"
	c.Address = "서울특별시 강남구 테헤란로 123, 4층"
	c.Phone = "02-555-2875"
	c.BusinessRegistrationNumber = "220-81-62517"
	c.ClosedDays = []*molarv1.ClosedDay{
		{Date: "2026-12-25", Reason: "성탄절"},
		{Date: "2027-01-01", Reason: "신정"},
	}
	if _, err := svc.Update(ctx, c); err != nil {
		if services.ErrorCode(err) == services.Aborted {
			return "demo data: clinic set up concurrently, left unchanged", nil
		}
		return "", err
	}
	return "demo data: clinic profile loaded", nil
}

// emailTaken reports whether err says an account with the email exists.
func emailTaken(err error) bool {
	var de *services.Error
	if !errors.As(err, &de) {
		return false
	}
	for _, v := range de.Violations {
		if v.Rule == "staff.email.taken" {
			return true
		}
	}
	return false
}
