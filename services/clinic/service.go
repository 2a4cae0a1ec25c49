// Package clinic keeps the clinic's profile, opening hours and closed days.
package clinic

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
)

// DefaultTimeZone is where Molar's first clinics work.
const DefaultTimeZone = "Asia/Seoul"

// Service applies the clinic rules that the schema cannot express.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store; now is the clock.
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now}
}

// Get returns the clinic profile, or the default profile of a new clinic
// (version 0) if none has been saved yet.
func (s *Service) Get(ctx context.Context) (*molarv1.Clinic, error) {
	c, err := s.store.Get(ctx)
	if services.ErrorCode(err) == services.NotFound {
		return Default(), nil
	}
	return c, err
}

// Update checks c against the rules beyond the schema and saves it, without
// an audit record (the set-up of demo data).
func (s *Service) Update(ctx context.Context, c *molarv1.Clinic) (*molarv1.Clinic, error) {
	return s.UpdateRecorded(ctx, c, nil)
}

// UpdateRecorded is Update for a person: the revision that commits the
// change carries its audit event, which rec then projects into the trail.
// Once the revision is stored the change stands; projecting cannot fail it.
func (s *Service) UpdateRecorded(ctx context.Context, c *molarv1.Clinic, rec *audit.Recorder) (*molarv1.Clinic, error) {
	if err := Check(c); err != nil {
		return nil, err
	}
	c = proto.CloneOf(c)
	c.UpdateTime = timestamppb.New(s.now())
	var ev audit.Event
	if rec != nil {
		ev = rec.Stamp(ctx, audit.Event{Action: molarv1.AuditAction_AUDIT_ACTION_CLINIC_UPDATED, TargetType: "clinic", TargetID: "clinic",
			Detail: fmt.Sprintf("version %d", c.GetVersion()+1)})
	}
	saved, err := s.store.Save(ctx, c, ev)
	if err != nil || rec == nil {
		return saved, err
	}
	if rec.Project(ctx, ev) == nil {
		_ = s.store.AuditProjected(context.WithoutCancel(ctx), saved.GetVersion()) // a mark left only means one more projection at start
	}
	return saved, nil
}

// Default is the profile of a clinic nobody has set up yet: open on weekdays
// 09:00-18:00 with lunch 13:00-14:00, Saturday mornings.
func Default() *molarv1.Clinic {
	c := &molarv1.Clinic{TimeZone: DefaultTimeZone}
	for d := molarv1.Weekday_WEEKDAY_MONDAY; d <= molarv1.Weekday_WEEKDAY_FRIDAY; d++ {
		c.OpeningHours = append(c.OpeningHours, &molarv1.OpeningHours{
			Weekday: d, OpenTime: "09:00", CloseTime: "18:00", LunchStart: "13:00", LunchEnd: "14:00",
		})
	}
	c.OpeningHours = append(c.OpeningHours, &molarv1.OpeningHours{
		Weekday: molarv1.Weekday_WEEKDAY_SATURDAY, OpenTime: "09:00", CloseTime: "13:00",
	})
	return c
}

// Check applies the rules the schema cannot: a real time zone, real dates,
// and a business registration number whose check digit is right.
func Check(c *molarv1.Clinic) error {
	var vs []services.Violation
	if _, err := time.LoadLocation(c.GetTimeZone()); err != nil || c.GetTimeZone() == "Local" {
		vs = append(vs, services.Violation{
			Field: "clinic.time_zone", Rule: "clinic.time_zone.known",
			Message: "unknown time zone",
		})
	}
	if n := c.GetBusinessRegistrationNumber(); n != "" && !ValidBusinessNumber(n) {
		vs = append(vs, services.Violation{
			Field: "clinic.business_registration_number", Rule: "clinic.business_registration_number.checksum",
			Message: "check digit does not match; please check the number",
		})
	}
	for i, d := range c.GetClosedDays() {
		if _, err := time.Parse(time.DateOnly, d.GetDate()); err != nil {
			vs = append(vs, services.Violation{
				Field: fmt.Sprintf("clinic.closed_days[%d].date", i), Rule: "clinic.closed_days.date.valid",
				Message: "not a calendar date",
			})
		}
	}
	if len(vs) > 0 {
		return services.InvalidFields(vs...)
	}
	return nil
}

// ValidBusinessNumber reports whether n (NNN-NN-NNNNN) carries the right check
// digit under the National Tax Service's weighting.
func ValidBusinessNumber(n string) bool {
	var d []int
	for _, r := range n {
		switch {
		case r >= '0' && r <= '9':
			d = append(d, int(r-'0'))
		case r != '-':
			return false
		}
	}
	if len(d) != 10 {
		return false
	}
	weights := [9]int{1, 3, 7, 1, 3, 7, 1, 3, 5}
	sum := 0
	for i, w := range weights {
		sum += d[i] * w
	}
	sum += d[8] * 5 / 10
	return (10-sum%10)%10 == d[9]
}
