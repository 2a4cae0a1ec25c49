package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/molar-dental/molar/services/backup"
	"github.com/molar-dental/molar/services/jobs"
)

// startBackups builds the backup service of a serving process (the owner's
// status screen needs it whatever the schedule) and, with MOLAR_BACKUP_DIR
// set, keeps the schedule: the window's job is enqueued at start and every
// minute by every process, and taken by one, through a runner of its own so
// that a long backup never holds up thumbnails.
func (s *Server) startBackups(ctx context.Context) {
	recipients, err := parseRecipients(s.cfg.Backup.Recipients)
	if err != nil {
		// LoadConfig checked them; a Config made in code may not have.
		s.logger.Error("MOLAR_BACKUP_RECIPIENT unusable; no scheduled backups", "error", err.Error())
		s.cfg.Backup = BackupConfig{}
	}
	s.backupJobs = jobs.NewRunner(s.db.jobs, jobs.Config{Logger: s.logger, Observe: func(o jobs.Outcome) {
		if o.Result != jobs.Succeeded && o.Result != jobs.Stopped {
			s.logger.Log(context.Background(), slog.LevelWarn, "backup job", "job_id", o.Job.ID, "result", o.Result.String(), "attempt", o.Job.Attempts)
		}
	}})
	s.backups = newBackups(s.cfg, s.db, s.backupJobs, recipients, s.app.schedule.Location, s.logger, s.backupSucceeded)
	s.backups.Start(ctx)
	if !s.backups.Scheduled() {
		return
	}
	if err := os.MkdirAll(s.cfg.Backup.Dir, 0o700); err != nil {
		// Each backup will fail and say so on the owner's screen.
		s.logger.Error("MOLAR_BACKUP_DIR cannot be made", "error", err.Error())
	}
	s.backupJobs.Handle(backup.JobKind, s.backups.RunJob)
	s.backupJobs.Start()
	due := func() {
		if err := s.backups.Due(s.base); err != nil && s.base.Err() == nil {
			s.logger.Warn("backup of this window not queued; tried again in a minute", "error", err.Error())
		}
	}
	due()
	s.wg.Go(func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-s.base.Done():
				return
			case <-tick.C:
				due()
			}
		}
	})
}

// stopBackups stops the schedule's runner: a backup under way is cut short
// (its partial file removed, nothing recorded) and its job is taken again
// once its lease passes, here after a restart or by another process.
func (s *Server) stopBackups() {
	if s.backupJobs != nil {
		_ = s.backupJobs.Close()
	}
}

// backupSucceeded is told the end of every backup that succeeds, and of
// the last one recorded when the process starts: it sets
// molar_backup_last_success_timestamp_seconds.
func (s *Server) backupSucceeded(at time.Time) { s.metrics.BackupSucceeded(at) }
