package clinic_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/clinic"
)

func TestValidBusinessNumber(t *testing.T) {
	t.Parallel()
	// Check digits computed by hand with the National Tax Service weighting
	// 1,3,7,1,3,7,1,3,5 plus floor(9th digit × 5 / 10).
	cases := []struct {
		name string
		n    string
		want bool
	}{
		{"demo clinic's number", "220-81-62517", true},
		{"valid", "123-45-67891", true},
		{"valid", "101-86-12346", true},
		{"valid", "104-81-45671", true},
		{"valid, check digit 8", "214-87-00008", true},
		{"valid, ninth digit 9 carries into the sum", "999-99-99997", true},
		{"all zeros pass the arithmetic", "000-00-00000", true},
		{"digits without hyphens (the schema's pattern requires them)", "2208162517", true},

		{"wrong check digit", "123-45-67890", false},
		{"demo number off by one", "220-81-62516", false},
		{"ninth digit's carry ignored", "999-99-99991", false},
		{"transposed digits", "202-81-62517", false},
		{"empty", "", false},
		{"nine digits", "220-81-6251", false},
		{"eleven digits", "220-81-625170", false},
		{"a letter", "220-81-6251a", false},
		{"surrounding space", " 220-81-62517", false},
		{"full-width digits", "２２０-８１-６２５１７", false},
		{"dots instead of hyphens", "220.81.62517", false},
	}
	for _, tc := range cases {
		t.Run(tc.name+" "+tc.n, func(t *testing.T) {
			t.Parallel()
			if got := clinic.ValidBusinessNumber(tc.n); got != tc.want {
				t.Errorf("ValidBusinessNumber(%q) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
}

// violations returns the violations of an Invalid error, failing otherwise.
func violations(t *testing.T, err error) []services.Violation {
	t.Helper()
	var e *services.Error
	if !errors.As(err, &e) || e.Code != services.Invalid {
		t.Fatalf("got %v, want an Invalid *services.Error", err)
	}
	return e.Violations
}

func TestCheck(t *testing.T) {
	t.Parallel()
	type violation struct{ Field, Rule string }
	cases := []struct {
		name   string
		change func(c *molarv1.Clinic)
		want   []violation
	}{
		{"default profile", func(*molarv1.Clinic) {}, nil},
		{"other real time zone", func(c *molarv1.Clinic) { c.TimeZone = "America/Argentina/Buenos_Aires" }, nil},
		{"valid business number", func(c *molarv1.Clinic) { c.BusinessRegistrationNumber = "220-81-62517" }, nil},
		{"leap day", func(c *molarv1.Clinic) {
			c.ClosedDays = []*molarv1.ClosedDay{{Date: "2028-02-29"}}
		}, nil},
		{"unknown time zone", func(c *molarv1.Clinic) { c.TimeZone = "Asia/Gangnam" },
			[]violation{{"clinic.time_zone", "clinic.time_zone.known"}}},
		{"bad check digit", func(c *molarv1.Clinic) { c.BusinessRegistrationNumber = "123-45-67890" },
			[]violation{{"clinic.business_registration_number", "clinic.business_registration_number.checksum"}}},
		{"February 30th", func(c *molarv1.Clinic) {
			c.ClosedDays = []*molarv1.ClosedDay{{Date: "2026-12-25"}, {Date: "2026-02-30"}}
		}, []violation{{"clinic.closed_days[1].date", "clinic.closed_days.date.valid"}}},
		{"February 29th of a common year", func(c *molarv1.Clinic) {
			c.ClosedDays = []*molarv1.ClosedDay{{Date: "2027-02-29"}}
		}, []violation{{"clinic.closed_days[0].date", "clinic.closed_days.date.valid"}}},
		{"every rule at once", func(c *molarv1.Clinic) {
			c.TimeZone = "Mars/Olympus_Mons"
			c.BusinessRegistrationNumber = "220-81-62516"
			c.ClosedDays = []*molarv1.ClosedDay{{Date: "2026-13-01"}, {Date: "2026-01-01"}, {Date: "2026-04-31"}}
		}, []violation{
			{"clinic.time_zone", "clinic.time_zone.known"},
			{"clinic.business_registration_number", "clinic.business_registration_number.checksum"},
			{"clinic.closed_days[0].date", "clinic.closed_days.date.valid"},
			{"clinic.closed_days[2].date", "clinic.closed_days.date.valid"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := clinic.Default()
			c.Name, c.Phone = "서울미소치과의원", "02-555-2875"
			tc.change(c)
			err := clinic.Check(c)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check: %v, want no error", err)
				}
				return
			}
			var got []violation
			for _, v := range violations(t, err) {
				if v.Message == "" {
					t.Errorf("violation of %s has no message", v.Field)
				}
				got = append(got, violation{v.Field, v.Rule})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	c := clinic.Default()
	if c.TimeZone != "Asia/Seoul" || c.Version != 0 {
		t.Errorf("Default: time zone %q version %d, want Asia/Seoul and 0", c.TimeZone, c.Version)
	}
	days := map[molarv1.Weekday]bool{}
	for _, h := range c.OpeningHours {
		if days[h.Weekday] {
			t.Errorf("weekday %v appears twice", h.Weekday)
		}
		days[h.Weekday] = true
	}
	if len(days) != 6 || days[molarv1.Weekday_WEEKDAY_SUNDAY] {
		t.Errorf("Default opens on %v, want Monday to Saturday", days)
	}
	// Every call is a fresh value: callers may change what they get.
	clinic.Default().OpeningHours[0].OpenTime = "05:00"
	if clinic.Default().OpeningHours[0].OpenTime != "09:00" {
		t.Error("Default shares state between calls")
	}
}

// memStore is a clinic.Store in memory with the Store's version contract.
type memStore struct {
	saved *molarv1.Clinic
	saves int
}

func (s *memStore) Get(context.Context) (*molarv1.Clinic, error) {
	if s.saved == nil {
		return nil, services.Errorf(services.NotFound, "clinic not found")
	}
	return proto.CloneOf(s.saved), nil
}

func (s *memStore) Save(_ context.Context, c *molarv1.Clinic, _ audit.Event) (*molarv1.Clinic, error) {
	if c.GetVersion() != s.saved.GetVersion() {
		return nil, services.Errorf(services.Aborted, "changed by someone else")
	}
	s.saves++
	s.saved = proto.CloneOf(c)
	s.saved.Version++
	return proto.CloneOf(s.saved), nil
}

func (s *memStore) AuditProjected(context.Context, int64) error { return nil }

func TestServiceUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	store := &memStore{}
	svc := clinic.NewService(store, func() time.Time { return now })

	got, err := svc.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(clinic.Default(), got, protocmp.Transform()); diff != "" {
		t.Fatalf("Get before any save (-want +got):\n%s", diff)
	}

	in := clinic.Default()
	in.Name, in.Phone = "서울미소치과의원", "02-555-2875"
	sent := proto.CloneOf(in)
	saved, err := svc.Update(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Version != 1 || !saved.UpdateTime.AsTime().Equal(now) {
		t.Errorf("saved version %d at %v, want 1 at %v (the injected clock)", saved.Version, saved.UpdateTime.AsTime(), now)
	}
	if !proto.Equal(in, sent) {
		t.Error("Update changed the caller's message")
	}

	bad := proto.CloneOf(saved)
	bad.TimeZone = "Nowhere/Special"
	if _, err := svc.Update(ctx, bad); services.ErrorCode(err) != services.Invalid {
		t.Fatalf("Update with an unknown zone: %v, want Invalid", err)
	}
	if store.saves != 1 {
		t.Errorf("an invalid update reached the store (%d saves)", store.saves)
	}

	stale := proto.CloneOf(in) // still version 0
	if _, err := svc.Update(ctx, stale); services.ErrorCode(err) != services.Aborted {
		t.Fatalf("Update from version 0 after version 1: %v, want Aborted", err)
	}
}

func TestServiceGetPassesStoreFailuresOn(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	svc := clinic.NewService(failingStore{boom}, time.Now)
	if _, err := svc.Get(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Get: %v, want the store's failure (not the default profile)", err)
	}
}

type failingStore struct{ err error }

func (s failingStore) Get(context.Context) (*molarv1.Clinic, error) { return nil, s.err }
func (s failingStore) Save(context.Context, *molarv1.Clinic, audit.Event) (*molarv1.Clinic, error) {
	return nil, s.err
}

func (s failingStore) AuditProjected(context.Context, int64) error { return s.err }
