package main

import (
	"context"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/clinic"
)

// seedDemo fills an empty database with a plausible clinic. Anything already
// there is left as it is, so running it twice changes nothing.
func seedDemo(ctx context.Context, db *mongo.DB, now func() time.Time) (string, error) {
	svc := clinic.NewService(mongo.NewClinicRepo(db), now)
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
