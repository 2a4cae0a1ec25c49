package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/backup"
)

// BackupRunsEngine opens a fresh, empty database's backup record for a
// test.
type BackupRunsEngine func(t *testing.T) backup.Store

// TestBackupRuns runs the backup record's contract against an engine.
func TestBackupRuns(t *testing.T, open BackupRunsEngine) {
	for name, test := range map[string]func(*testing.T, backup.Store){
		"nothing recorded":                    backupRunsEmpty,
		"round trip, newest first":            backupRunsRoundTrip,
		"the last success skips the failures": backupRunsLastSuccess,
		"one record per id":                   backupRunsUnique,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open(t))
		})
	}
}

var backupStart = time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)

// backupRun is the nth run of a test, an hour after the one before.
func backupRun(n int, failure molarv1.BackupFailure) backup.Run {
	start := backupStart.Add(time.Duration(n) * time.Hour)
	r := backup.Run{ID: "run-" + string(rune('a'+n)), Trigger: molarv1.BackupTrigger_BACKUP_TRIGGER_SCHEDULED, Engine: "sqlite",
		Start: start, End: start.Add(90 * time.Second), File: backup.ArchiveName(start), Size: int64(1000 + n), Images: n, Failure: failure}
	if failure != molarv1.BackupFailure_BACKUP_FAILURE_UNSPECIFIED {
		r.Error, r.Size, r.Images = "no space left on device", 0, 0
	}
	return r
}

func backupRunsEmpty(t *testing.T, s backup.Store) {
	ctx := context.Background()
	if _, err := s.LastSuccess(ctx); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("LastSuccess of nothing: %v, want NotFound", err)
	}
	if got, err := s.Recent(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("Recent of nothing: %v %v", got, err)
	}
}

func backupRunsRoundTrip(t *testing.T, s backup.Store) {
	ctx := context.Background()
	var want []backup.Run
	for n := range 5 {
		r := backupRun(n, molarv1.BackupFailure_BACKUP_FAILURE_UNSPECIFIED)
		if n == 3 {
			r = backupRun(n, molarv1.BackupFailure_BACKUP_FAILURE_NO_SPACE)
			r.Trigger = molarv1.BackupTrigger_BACKUP_TRIGGER_MANUAL
		}
		if err := s.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
		want = append([]backup.Run{r}, want...)
	}
	got, err := s.Recent(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want[:3], got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
		t.Fatalf("Recent(3) (-want +got):\n%s", d)
	}
}

func backupRunsLastSuccess(t *testing.T, s backup.Store) {
	ctx := context.Background()
	for n, f := range []molarv1.BackupFailure{molarv1.BackupFailure_BACKUP_FAILURE_UNSPECIFIED, molarv1.BackupFailure_BACKUP_FAILURE_UNSPECIFIED,
		molarv1.BackupFailure_BACKUP_FAILURE_STORAGE, molarv1.BackupFailure_BACKUP_FAILURE_IMAGE_MISSING} {
		if err := s.Add(ctx, backupRun(n, f)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LastSuccess(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != backupRun(1, 0).ID || !got.OK() {
		t.Fatalf("last success %s (%v), want %s", got.ID, got.Failure, backupRun(1, 0).ID)
	}
}

func backupRunsUnique(t *testing.T, s backup.Store) {
	ctx := context.Background()
	r := backupRun(0, 0)
	if err := s.Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.Error, r.Failure = "again", molarv1.BackupFailure_BACKUP_FAILURE_OTHER
	if err := s.Add(ctx, r); services.ErrorCode(err) != services.AlreadyExists {
		t.Fatalf("second record of one id: %v, want AlreadyExists", err)
	}
	got, err := s.Recent(ctx, 10)
	if err != nil || len(got) != 1 || !got[0].OK() {
		t.Fatalf("after a refused duplicate: %+v %v", got, err)
	}
}
