package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/mongo/storetest"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/backup"
)

// TestBackupRunsContract runs the backup record's contract on SQLite.
func TestBackupRunsContract(t *testing.T) {
	t.Parallel()
	storetest.TestBackupRuns(t, func(t *testing.T) backup.Store { return sqlite.NewBackupRunStore(open(t)) })
}

// TestSnapshotIsOnePointWhileWriting copies the database while four
// writers save images, each its own numbered sequence, on a second
// connection pool (as another process would). The copy holds, of each
// writer, exactly its first k images for some k, at least those it had
// acknowledged before the copy began: one point in time, nothing torn.
func TestSnapshotIsOnePointWhileWriting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "molar.db")
	writer, copier := openAt(t, path), openAt(t, path)
	store := sqlite.NewImageStore(writer)
	const writers = 4
	var acked [writers]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := int64(1); ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				img := &molarv1.Image{Id: fmt.Sprintf("w%d-%06d", w, n), PatientId: "p1", Version: 1, Sha256: strings.Repeat("0", 64), SizeBytes: n,
					UploadTime: timestamppb.New(time.Now())}
				if err := store.Save(ctx, img, audit.Event{ID: fmt.Sprintf("ev-%d-%d", w, n), Time: time.Now()}); err != nil {
					t.Error(err)
					return
				}
				acked[w].Store(n)
			}
		})
	}
	waitFor(t, func() bool { return acked[0].Load() >= 20 && acked[writers-1].Load() >= 20 })
	var before [writers]int64
	for w := range writers {
		before[w] = acked[w].Load()
	}
	dir := t.TempDir()
	snap, err := sqlite.NewBackupSource(copier).Snapshot(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// The writers go on past the copy before they stop.
	var after [writers]int64
	for w := range writers {
		after[w] = acked[w].Load()
	}
	waitFor(t, func() bool { return acked[0].Load() > after[0]+10 })
	close(stop)
	wg.Wait()

	seen := map[int]map[int64]bool{}
	err = snap.Images(ctx, func(img *molarv1.Image) error {
		var w int
		var n int64
		if _, err := fmt.Sscanf(img.GetId(), "w%d-%d", &w, &n); err != nil {
			return err
		}
		if seen[w] == nil {
			seen[w] = map[int64]bool{}
		}
		seen[w][n] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		k := int64(len(seen[w]))
		for n := int64(1); n <= k; n++ {
			if !seen[w][n] {
				t.Fatalf("writer %d: the copy holds %d images but not number %d: not one point in time", w, k, n)
			}
		}
		if k < before[w] {
			t.Fatalf("writer %d: %d images acknowledged before the copy began, %d in it", w, before[w], k)
		}
		t.Logf("writer %d: %d acknowledged before the copy, %d in it, %d written in all", w, before[w], k, acked[w].Load())
	}
	if got := snap.Files(); len(got) != 1 || got[0].Name != "db/molar.db" {
		t.Fatalf("files %v", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRestoreTargetRefusesAndCleansUp checks the data directory side of a
// restore: a directory holding anything is refused with what it holds; a
// begun restore is marked until it commits; an aborted one leaves the
// directory empty.
func TestRestoreTargetRefusesAndCleansUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "molar.db"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := sqlite.NewRestoreTarget(full, "molar.db").Begin(ctx)
	if services.ErrorCode(err) != services.FailedPrecondition || !strings.Contains(err.Error(), "molar.db") || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore into a full directory: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "new")
	target := sqlite.NewRestoreTarget(dir, "molar.db")
	if err := target.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if !sqlite.RestoreUnfinished(dir) {
		t.Fatal("no mark while restoring")
	}
	if err := target.Write(ctx, "db/molar.db", strings.NewReader("not a database")); err != nil {
		t.Fatal(err)
	}
	if err := target.Write(ctx, "../escape", strings.NewReader("x")); err == nil {
		t.Fatal("a file outside the database accepted")
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "images"), 0o700); err != nil {
		t.Fatal(err)
	}
	err = sqlite.NewRestoreTarget(dir, "molar.db").Begin(ctx)
	if services.ErrorCode(err) != services.FailedPrecondition || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("restore into an unfinished restore: %v", err)
	}
	if err := target.Images(ctx, func(*molarv1.Image) error { return nil }); err == nil {
		t.Fatal("a file that is not a database opened")
	}
	if err := target.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("after abort: %v %v", entries, err)
	}
}
