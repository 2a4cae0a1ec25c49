package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
)

// TestAuthContract runs the staff, session and sign-in failure contract on
// SQLite.
func TestAuthContract(t *testing.T) {
	t.Parallel()
	storetest.TestAuth(t, func(t *testing.T) storetest.Auth {
		db := open(t)
		sessions := sqlite.NewSessionStore(db)
		return storetest.Auth{Accounts: sqlite.NewStaffStore(db), Sessions: sessions, Failures: sessions, Audit: sqlite.NewAuditStore(db),
			Changes: sqlite.NewChangeLog(db, time.Now), AuditInCommit: true}
	})
}

// TestSessionStorePrunes shows what replaces MongoDB's TTL indexes: a use
// of a refresh token forgets the tokens, and their uses, that expired over
// an hour before it; a failed sign-in forgets the failures of anyone older
// than a week before it. What is younger stays.
func TestSessionStorePrunes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := sqlite.NewSessionStore(open(t))
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

	for _, tok := range []auth.RefreshToken{
		{Hash: "old", SessionID: "s", Expires: now.Add(-61 * time.Minute)},
		{Hash: "recent", SessionID: "s", Expires: now.Add(-59 * time.Minute)},
		{Hash: "live", SessionID: "s", Expires: now.Add(12 * time.Hour)},
	} {
		if err := st.AddToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.UseToken(ctx, "old", now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.UseToken(ctx, "live", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetToken(ctx, "old"); services.ErrorCode(err) != services.NotFound {
		t.Errorf("token expired 61 minutes before the use: %v, want NotFound", err)
	}
	if err := st.UseToken(ctx, "old", now); err != nil {
		t.Errorf("the use of the forgotten token was kept: %v", err)
	}
	for _, h := range []string{"recent", "live"} {
		if _, err := st.GetToken(ctx, h); err != nil {
			t.Errorf("token %s: %v", h, err)
		}
	}
	if err := st.UseToken(ctx, "live", now.Add(time.Minute)); services.ErrorCode(err) != services.AlreadyExists {
		t.Errorf("second use of a kept token: %v, want AlreadyExists", err)
	}

	week := 7 * 24 * time.Hour
	for _, f := range []struct {
		staff string
		at    time.Time
	}{{"a", now.Add(-week - time.Second)}, {"b", now.Add(-week - time.Second)}, {"a", now.Add(-week + time.Second)}, {"b", now}} {
		if err := st.AddFailure(ctx, auth.Failure{Key: f.staff, At: f.at}, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	for staff, want := range map[string]int{"a": 1, "b": 1} {
		if got, err := st.Failures(ctx, staff, now.Add(-30*24*time.Hour)); err != nil || len(got) != want {
			t.Errorf("failures of %s: %v, %v; want %d", staff, got, err, want)
		}
	}
}

// TestSessionStorePrune shows the sweep's pruning, which replaces MongoDB's
// TTL indexes where no write brings the clock along: refresh tokens and
// their uses that expired over an hour ago, and failed sign-ins over a week
// old (the lockout looks back a day at most), go; what is younger stays,
// and a kept token still refreshes once.
func TestSessionStorePrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := sqlite.NewSessionStore(open(t))
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	day := 24 * time.Hour

	for _, tok := range []auth.RefreshToken{
		{Hash: "old", SessionID: "s", Expires: now.Add(-2 * time.Hour)},
		{Hash: "recent", SessionID: "s", Expires: now.Add(-30 * time.Minute)},
		{Hash: "live", SessionID: "s", Expires: now.Add(12 * time.Hour)},
	} {
		if err := st.AddToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	// Used while it was valid; this use prunes nothing (its horizon is
	// four hours back).
	if err := st.UseToken(ctx, "old", now.Add(-3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Oldest first, so that no failure's own write prunes the others.
	for _, f := range []struct {
		staff string
		at    time.Time
	}{{"a", now.Add(-8 * day)}, {"b", now.Add(-8 * day)}, {"a", now.Add(-6 * day)}} {
		if err := st.AddFailure(ctx, auth.Failure{Key: f.staff, At: f.at}, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}

	n, err := st.Prune(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	// The old token, its use, and the two failures of eight days ago.
	if n != 4 {
		t.Errorf("Prune removed %d rows, want 4", n)
	}
	if _, err := st.GetToken(ctx, "old"); services.ErrorCode(err) != services.NotFound {
		t.Errorf("token expired two hours ago: %v, want NotFound", err)
	}
	if err := st.UseToken(ctx, "old", now.Add(-time.Hour)); err != nil {
		t.Errorf("the use of the pruned token was kept: %v", err)
	}
	for _, h := range []string{"recent", "live"} {
		if _, err := st.GetToken(ctx, h); err != nil {
			t.Errorf("token %s: %v", h, err)
		}
	}
	if err := st.UseToken(ctx, "live", now); err != nil {
		t.Errorf("refresh with a kept token: %v", err)
	}
	if err := st.UseToken(ctx, "live", now.Add(time.Minute)); services.ErrorCode(err) != services.AlreadyExists {
		t.Errorf("second use of a kept token: %v, want AlreadyExists", err)
	}
	for staff, want := range map[string]int{"a": 1, "b": 0} {
		if got, err := st.Failures(ctx, staff, now.Add(-30*day)); err != nil || len(got) != want {
			t.Errorf("failures of %s: %v, %v; want %d", staff, got, err, want)
		}
	}
	if n, err := st.Prune(ctx, now); err != nil || n != 0 {
		t.Errorf("second Prune: %d, %v; want 0, nil", n, err)
	}
}
