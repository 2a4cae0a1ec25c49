package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/jobs"
)

// JobKind is the kind of the queued job that takes one scheduled backup;
// its payload is the start of its window.
const JobKind = "backup"

// jobAttempts is how many times a scheduled backup is tried (10 s, then
// 20 s or so apart, by the queue's back-off) before it is left dead for the
// owner.
const jobAttempts = 3

// archiveName matches the archives this package writes; retention deletes
// nothing else.
var archiveName = regexp.MustCompile(`^molar-backup-[0-9]{8}T[0-9]{6}Z\.tar\.zst\.age$`)

// ArchiveName is the name of an archive started at t.
func ArchiveName(t time.Time) string {
	return "molar-backup-" + t.UTC().Format("20060102T150405Z") + ".tar.zst.age"
}

// partialPrefix starts the name of an archive still being written.
const partialPrefix = ".partial-"

// Config is the server's backup schedule.
type Config struct {
	// Dir is where scheduled archives go; empty means no schedule.
	Dir string
	// Every is the length of a window: one backup each.
	Every time.Duration
	// Keep is how many archives Dir keeps; older ones are deleted after
	// each successful backup.
	Keep int
	// Recipients are the age public keys, as written.
	Recipients []string
}

// Enqueuer puts jobs in the durable queue; enqueueing a job that exists
// leaves it as it is.
type Enqueuer interface {
	Enqueue(ctx context.Context, j jobs.Job) error
}

// Deps are what a Service works with.
type Deps struct {
	Store Store
	// Queue holds the scheduled backups' jobs.
	Queue Enqueuer
	// Write writes one backup to w (see Write).
	Write func(ctx context.Context, w io.Writer) (Manifest, error)
	// Location is the clinic's time zone, which windows are aligned to.
	Location func() *time.Location
	Now      func() time.Time
	NewID    func() string
	Logger   *slog.Logger
	// OnSuccess, if set, is told the end of every backup that succeeds, and
	// of the last one recorded when Start runs: the hook for a gauge of the
	// last success.
	OnSuccess func(time.Time)
}

// Service takes backups, on the schedule and when asked, records how each
// ended, and tells the owner.
type Service struct {
	cfg Config
	d   Deps
}

// NewService returns a Service; cfg.Dir empty means no schedule.
func NewService(cfg Config, d Deps) *Service {
	return &Service{cfg: cfg, d: d}
}

// Scheduled reports whether the server backs up on a schedule.
func (s *Service) Scheduled() bool { return s.cfg.Dir != "" && s.cfg.Every > 0 }

// Window returns the start of the window of length every that holds t.
// Windows are aligned to midnight in loc: with every 24h a window is a
// day of the clinic, its backup taken when it begins (at night), or when
// the first server starts during it.
func Window(t time.Time, every time.Duration, loc *time.Location) time.Time {
	_, offset := t.In(loc).Zone()
	local := t.Unix() + int64(offset)
	e := int64(every / time.Second)
	start := local - ((local%e)+e)%e
	return time.Unix(start-int64(offset), 0).In(loc)
}

// jobID names the job of a window: every process enqueues the same one,
// and the queue runs it once.
func jobID(window time.Time) string { return JobKind + ":" + window.UTC().Format(time.RFC3339) }

// Start tells OnSuccess of the last backup recorded.
func (s *Service) Start(ctx context.Context) {
	if s.d.OnSuccess == nil {
		return
	}
	if r, err := s.d.Store.LastSuccess(ctx); err == nil {
		s.d.OnSuccess(r.End)
	}
}

// Due enqueues the backup of the window now is in, if the schedule is on.
// Every process calls it at start and then every minute; the job's id is
// the window's, so of all of them one backup is taken per window, by the
// process that claims the job. A window in which no process ran gets no
// backup; the next window's is taken as it begins.
func (s *Service) Due(ctx context.Context) error {
	if !s.Scheduled() {
		return nil
	}
	now := s.d.Now()
	w := Window(now, s.cfg.Every, s.d.Location())
	j := jobs.New(jobID(w), JobKind, []byte(w.UTC().Format(time.RFC3339)), now)
	j.MaxAttempts = jobAttempts
	return s.d.Queue.Enqueue(ctx, j)
}

// RunJob is the handler of a scheduled backup's job: a backup into the
// schedule's directory. An attempt that fails is recorded and returned,
// so the queue tries again; one that wrote an archive with missing or
// mismatched image files is recorded as failed but not tried again (a
// retry would find the same).
func (s *Service) RunJob(ctx context.Context, _ jobs.Job) error {
	r, err := s.BackupTo(ctx, molarv1.BackupTrigger_BACKUP_TRIGGER_SCHEDULED, s.cfg.Dir, "")
	if err != nil {
		return err
	}
	if r.OK() {
		s.prune()
	}
	return nil
}

// BackupTo writes a backup into dir under name (ArchiveName of its start
// when empty) and records how it ended. The archive is written aside,
// synced and renamed into place: the rename is the commit point of the
// file, and the record follows it. A process that dies in between leaves
// an archive without a record (a scheduled one is taken again when its
// job's lease passes); before the rename, a partial file that the next
// scheduled backup removes once it is a day old. The run is returned with
// the error it ended with, if any; a run whose archive is written but
// names missing or mismatched image files is returned with a nil error
// and its failure recorded. A run cut short because ctx ended (a process
// stopping) is not recorded.
func (s *Service) BackupTo(ctx context.Context, trigger molarv1.BackupTrigger, dir, name string) (Run, error) {
	r := Run{ID: s.d.NewID(), Trigger: trigger, Start: s.d.Now()}
	if name == "" {
		name = ArchiveName(r.Start)
	}
	r.File = name
	m, err := s.writeFile(ctx, dir, name)
	if err == nil {
		r.Size, r.Images, r.Engine = fileSize(filepath.Join(dir, name)), m.Images, m.Engine
	}
	err = s.finish(ctx, &r, m, err)
	return r, err
}

// BackupStream writes a backup to w (a pipe, another machine) and records
// how it ended, as BackupTo does; the record's file is "-".
func (s *Service) BackupStream(ctx context.Context, trigger molarv1.BackupTrigger, w io.Writer) (Run, error) {
	r := Run{ID: s.d.NewID(), Trigger: trigger, Start: s.d.Now(), File: "-"}
	cw := &countingWriter{w: w}
	m, err := s.d.Write(ctx, cw)
	r.Size, r.Images, r.Engine = cw.n, m.Images, m.Engine
	err = s.finish(ctx, &r, m, err)
	return r, err
}

// finish records a run that ended with the manifest m or err.
func (s *Service) finish(ctx context.Context, r *Run, m Manifest, err error) error {
	if err != nil && ctx.Err() != nil {
		return err
	}
	r.End = s.d.Now()
	problems := m.Problems()
	if err == nil {
		err = problems
	}
	if err != nil {
		r.Failure, r.Error = ReasonOf(err), err.Error()
	}
	if rerr := s.d.Store.Add(context.WithoutCancel(ctx), *r); rerr != nil {
		s.d.Logger.Error("backup outcome not recorded", "run_id", r.ID, "file", r.File, "error", rerr.Error())
	}
	level, msg := slog.LevelInfo, "backup written"
	if err != nil {
		level, msg = slog.LevelError, "backup failed"
	}
	s.d.Logger.Log(ctx, level, msg, "run_id", r.ID, "trigger", r.Trigger.String(), "file", r.File, "bytes", r.Size, "images", r.Images,
		"duration_ms", r.End.Sub(r.Start).Milliseconds(), "failure", r.Failure.String(), "error", r.Error)
	if r.OK() && s.d.OnSuccess != nil {
		s.d.OnSuccess(r.End)
	}
	if problems != nil && errors.Is(err, problems) {
		return nil
	}
	return err
}

// writeFile writes a backup into dir/name through a partial file.
func (s *Service) writeFile(ctx context.Context, dir, name string) (Manifest, error) {
	final := filepath.Join(dir, name)
	if _, err := os.Lstat(final); err == nil {
		return Manifest{}, &Failure{Reason: molarv1.BackupFailure_BACKUP_FAILURE_STORAGE, Err: fmt.Errorf("%s exists already", final)}
	}
	f, err := os.CreateTemp(dir, partialPrefix+name+"-*")
	if err != nil {
		return Manifest{}, &Failure{Reason: molarv1.BackupFailure_BACKUP_FAILURE_STORAGE, Err: fmt.Errorf("backup directory: %w", err)}
	}
	done := false
	defer func() {
		if !done {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	m, err := s.d.Write(ctx, f)
	if err != nil {
		return m, err
	}
	if err := f.Sync(); err != nil {
		return m, err
	}
	if err := f.Close(); err != nil {
		return m, err
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return m, err
	}
	done = true
	return m, SyncDir(dir)
}

// prune deletes the oldest archives of the schedule's directory beyond
// Keep, and partial files over a day old.
func (s *Service) prune() {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		s.d.Logger.Warn("old backups not pruned", "error", err.Error())
		return
	}
	var archives []string
	for _, e := range entries {
		switch {
		case archiveName.MatchString(e.Name()):
			archives = append(archives, e.Name())
		case strings.HasPrefix(e.Name(), partialPrefix):
			if info, err := e.Info(); err == nil && s.d.Now().Sub(info.ModTime()) > 24*time.Hour {
				_ = os.Remove(filepath.Join(s.cfg.Dir, e.Name()))
			}
		}
	}
	slices.Sort(archives) // their names sort by time
	for len(archives) > max(s.cfg.Keep, 1) {
		if err := os.Remove(filepath.Join(s.cfg.Dir, archives[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.d.Logger.Warn("old backup not deleted", "file", archives[0], "error", err.Error())
		} else {
			s.d.Logger.Info("old backup deleted", "file", archives[0], "keep", s.cfg.Keep)
		}
		archives = archives[1:]
	}
}

// Status is the owner's view: the schedule, the last success, the recent
// runs.
func (s *Service) Status(ctx context.Context) (*molarv1.GetBackupStatusResponse, error) {
	recent, err := s.d.Store.Recent(ctx, 20)
	if err != nil {
		return nil, err
	}
	out := &molarv1.GetBackupStatusResponse{Schedule: &molarv1.BackupSchedule{Enabled: s.Scheduled()}}
	if s.Scheduled() {
		sc := out.Schedule
		sc.Every, sc.Keep, sc.Directory, sc.Recipients = durationOf(s.cfg.Every), int32(s.cfg.Keep), s.cfg.Dir, s.cfg.Recipients
		sc.NextTime = timestamp(Window(s.d.Now(), s.cfg.Every, s.d.Location()).Add(s.cfg.Every))
	}
	for _, r := range recent {
		out.Recent = append(out.Recent, runProto(r))
	}
	last, err := s.d.Store.LastSuccess(ctx)
	switch {
	case err == nil:
		out.LastSuccess = runProto(last)
	case services.ErrorCode(err) != services.NotFound:
		return nil, err
	}
	return out, nil
}

// countingWriter counts what passes.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func fileSize(p string) int64 {
	if st, err := os.Stat(p); err == nil {
		return st.Size()
	}
	return 0
}

// SyncDir makes the entries of dir (a file renamed or removed in it)
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return nil
}
