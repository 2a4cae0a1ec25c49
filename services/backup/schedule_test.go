package backup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/jobs"
)

func TestWindow(t *testing.T) {
	t.Parallel()
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, seoul)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name  string
		now   string
		every time.Duration
		want  string
	}{
		{"daily: the clinic's midnight", "2026-11-02 14:30", 24 * time.Hour, "2026-11-02 00:00"},
		{"daily, just after midnight", "2026-11-03 00:00", 24 * time.Hour, "2026-11-03 00:00"},
		{"daily, just before midnight", "2026-11-02 23:59", 24 * time.Hour, "2026-11-02 00:00"},
		{"six hours", "2026-11-02 14:30", 6 * time.Hour, "2026-11-02 12:00"},
		{"five minutes", "2026-11-02 14:34", 5 * time.Minute, "2026-11-02 14:30"},
		{"hourly", "2026-11-02 09:59", time.Hour, "2026-11-02 09:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Window(at(tc.now), tc.every, seoul); !got.Equal(at(tc.want)) {
				t.Fatalf("Window(%s, %v) = %v, want %s", tc.now, tc.every, got, tc.want)
			}
		})
	}
	// Every time of a window has the same window, and the next begins
	// where it ends.
	start := at("2026-11-02 00:00")
	for m := range 24 * 60 {
		if w := Window(start.Add(time.Duration(m)*time.Minute), 24*time.Hour, seoul); !w.Equal(start) {
			t.Fatalf("minute %d: window %v", m, w)
		}
	}
	if w := Window(start.Add(24*time.Hour), 24*time.Hour, seoul); !w.Equal(start.Add(24 * time.Hour)) {
		t.Fatalf("the next day's window %v", w)
	}
}

// memRuns keeps runs in memory for the tests of the schedule; the
// database stores pass the contract in mongo/storetest.
type memRuns struct {
	mu   sync.Mutex
	runs []Run
}

func (m *memRuns) Add(_ context.Context, r Run) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs = append(m.runs, r)
	return nil
}

func (m *memRuns) Recent(_ context.Context, limit int) ([]Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.runs)
	slices.Reverse(out)
	return out[:min(limit, len(out))], nil
}

func (m *memRuns) LastSuccess(ctx context.Context) (Run, error) {
	all, _ := m.Recent(ctx, len(m.runs))
	for _, r := range all {
		if r.OK() {
			return r, nil
		}
	}
	return Run{}, services.Errorf(services.NotFound, "none")
}

// queue records what is enqueued, once per id as the job store does.
type queue struct{ ids []string }

func (q *queue) Enqueue(_ context.Context, j jobs.Job) error {
	if !slices.Contains(q.ids, j.ID) {
		q.ids = append(q.ids, j.ID)
	}
	return nil
}

// fixture is a Service on a temporary directory with a clock moved by
// hand and a Write that does what its test says.
type fixture struct {
	svc   *Service
	runs  *memRuns
	queue *queue
	dir   string
	now   time.Time
	write func(ctx context.Context, w io.Writer) (Manifest, error)
	seen  []time.Time
}

func newFixture(t *testing.T, keep int) *fixture {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{runs: &memRuns{}, queue: &queue{}, dir: t.TempDir(), now: time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)}
	f.write = func(_ context.Context, w io.Writer) (Manifest, error) {
		aw, err := NewWriter(w, []age.Recipient{id.Recipient()}, Header{Engine: "sqlite", Started: f.now})
		if err != nil {
			return Manifest{}, err
		}
		if _, err := aw.Add("db/molar.db", 5, strings.NewReader("pages")); err != nil {
			return Manifest{}, err
		}
		return aw.Close(Manifest{Images: 3})
	}
	n := 0
	f.svc = NewService(Config{Dir: f.dir, Every: 6 * time.Hour, Keep: keep, Recipients: []string{id.Recipient().String()}}, Deps{
		Store: f.runs, Queue: f.queue,
		Write:    func(ctx context.Context, w io.Writer) (Manifest, error) { return f.write(ctx, w) },
		Location: func() *time.Location { return time.UTC },
		Now:      func() time.Time { return f.now },
		NewID:    func() string { n++; return fmt.Sprintf("run-%d", n) },
		Logger:   slog.New(slog.DiscardHandler),
		OnSuccess: func(at time.Time) {
			f.seen = append(f.seen, at)
		},
	})
	return f
}

func (f *fixture) archives(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestScheduledBackupsKeepTheNewest runs a window's job five times, six
// hours apart: each writes an archive named by its start, records its
// run and tells OnSuccess; the directory keeps the newest three; the
// status says when the next is due.
func TestScheduledBackupsKeepTheNewest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, 3)
	var names []string
	for range 5 {
		for range 2 { // every process enqueues the window's job
			if err := f.svc.Due(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.svc.RunJob(ctx, jobs.Job{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, ArchiveName(f.now))
		f.now = f.now.Add(6 * time.Hour)
	}
	if got := f.archives(t); !slices.Equal(got, names[2:]) {
		t.Fatalf("archives kept %v, want %v", got, names[2:])
	}
	if len(f.queue.ids) != 5 || f.queue.ids[0] != "backup:2026-11-02T12:00:00Z" {
		t.Fatalf("jobs enqueued %v", f.queue.ids)
	}
	if len(f.seen) != 5 {
		t.Fatalf("OnSuccess told %d times", len(f.seen))
	}
	st, err := f.svc.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.GetSchedule().GetEnabled() || st.GetSchedule().GetKeep() != 3 || !st.GetSchedule().GetNextTime().AsTime().Equal(time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("schedule %v", st.GetSchedule())
	}
	if len(st.GetRecent()) != 5 || st.GetLastSuccess().GetFile() != names[4] || st.GetLastSuccess().GetImages() != 3 || st.GetLastSuccess().GetSizeBytes() == 0 {
		t.Fatalf("status %v", st)
	}
}

// TestFailedBackupsAreRecorded checks what each way of failing leaves: a
// record with its reason and message, no archive (nor a partial file),
// and an error for the queue to retry, except for missing image files,
// whose archive stays and is not retried.
func TestFailedBackupsAreRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		fail    func(f *fixture) func(context.Context, io.Writer) (Manifest, error)
		reason  molarv1.BackupFailure
		archive bool
		retried bool
	}{
		{"the disk is full", func(*fixture) func(context.Context, io.Writer) (Manifest, error) {
			return func(context.Context, io.Writer) (Manifest, error) {
				return Manifest{}, fmt.Errorf("write molar.db: %w", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
			}
		}, molarv1.BackupFailure_BACKUP_FAILURE_NO_SPACE, false, true},
		{"the database cannot be read", func(*fixture) func(context.Context, io.Writer) (Manifest, error) {
			return func(context.Context, io.Writer) (Manifest, error) {
				return Manifest{}, &Failure{Reason: molarv1.BackupFailure_BACKUP_FAILURE_DATABASE, Err: fmt.Errorf("database is locked")}
			}
		}, molarv1.BackupFailure_BACKUP_FAILURE_DATABASE, false, true},
		{"an image file is missing", func(f *fixture) func(context.Context, io.Writer) (Manifest, error) {
			good := f.write
			return func(ctx context.Context, w io.Writer) (Manifest, error) {
				m, err := good(ctx, w)
				m.Missing = []string{"images/x/original"}
				return m, err
			}
		}, molarv1.BackupFailure_BACKUP_FAILURE_IMAGE_MISSING, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 3)
			f.write = tc.fail(f)
			err := f.svc.RunJob(ctx, jobs.Job{})
			if (err != nil) != tc.retried {
				t.Fatalf("RunJob: %v, retried %v", err, tc.retried)
			}
			runs, _ := f.runs.Recent(ctx, 10)
			if len(runs) != 1 || runs[0].Failure != tc.reason || runs[0].Error == "" || runs[0].End.IsZero() {
				t.Fatalf("recorded %+v, want one with reason %v", runs, tc.reason)
			}
			if got := f.archives(t); (len(got) == 1) != tc.archive || (tc.archive && got[0] != runs[0].File) {
				t.Fatalf("directory holds %v", got)
			}
			if len(f.seen) != 0 {
				t.Fatal("a failure was told as a success")
			}
		})
	}
}

// TestBackupCutShortIsNotRecorded stops a backup midway, as a process
// stopping does: no record, no file.
func TestBackupCutShortIsNotRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	f.write = func(ctx context.Context, w io.Writer) (Manifest, error) {
		_, _ = w.Write([]byte("part of an archive"))
		cancel()
		return Manifest{}, ctx.Err()
	}
	if err := f.svc.RunJob(ctx, jobs.Job{}); err == nil {
		t.Fatal("a cut backup succeeded")
	}
	if runs, _ := f.runs.Recent(context.Background(), 10); len(runs) != 0 {
		t.Fatalf("recorded %+v", runs)
	}
	if got := f.archives(t); len(got) != 0 {
		t.Fatalf("left %v", got)
	}
}

// TestNoScheduleWithoutDirectory: Due enqueues nothing and the status says
// so.
func TestNoScheduleWithoutDirectory(t *testing.T) {
	t.Parallel()
	q := &queue{}
	svc := NewService(Config{}, Deps{Store: &memRuns{}, Queue: q, Now: time.Now, Location: func() *time.Location { return time.UTC }})
	if err := svc.Due(context.Background()); err != nil || len(q.ids) != 0 {
		t.Fatalf("Due without a schedule: %v %v", q.ids, err)
	}
	st, err := svc.Status(context.Background())
	if err != nil || st.GetSchedule().GetEnabled() || st.GetLastSuccess() != nil {
		t.Fatalf("status %v %v", st, err)
	}
}

// TestCopiesLeftByAStoppedBackupAreSwept: a database copy a stopped
// process left is removed by the next backup once it is a day old, and
// a newer one (perhaps another process's, under way) is left alone.
func TestCopiesLeftByAStoppedBackupAreSwept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	old, fresh := filepath.Join(dir, copyPrefix+"old"), filepath.Join(dir, copyPrefix+"fresh")
	for _, p := range []string{old, fresh} {
		if err := os.MkdirAll(filepath.Join(p, "db"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(old, now.Add(-25*time.Hour), now.Add(-25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(fresh, now.Add(-time.Hour), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	sweepCopies(dir, now)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("a day-old copy is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("a copy of an hour ago went: %v", err)
	}
}
