package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/molar-dental/molar/mongo/blob"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/billing"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/clinic"
	"github.com/molar-dental/molar/services/images"
	"github.com/molar-dental/molar/services/jobs"
	"github.com/molar-dental/molar/services/metrics"
	"github.com/molar-dental/molar/services/patient"
	"github.com/molar-dental/molar/services/schedule"
)

// app is the domain services over one database, shared by the server and
// the admin commands.
type app struct {
	audit       *audit.Recorder
	auth        *auth.Service
	tokens      *auth.Tokens
	revocations *auth.Revocations
	sessions    sessionStore
	changes     changeLog
	patients    *patient.Service
	chart       *chart.Service
	schedule    *schedule.Service
	clinic      *clinic.Service
	billing     *billing.Service
	images      *images.Service
	// jobs runs the background jobs (thumbnails) in a serving process.
	jobs *jobs.Runner

	db     *database
	logger *slog.Logger
	// metrics counts what the services do; nil keeps no metrics.
	metrics *metrics.Metrics
	// now is the clock of the services, and of the sweep's pruning.
	now func() time.Time
	// wake asks the background loop to read the logs now.
	wake chan struct{}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// newApp builds the services.
func newApp(cfg Config, db *database, logger *slog.Logger, now func() time.Time) (*app, error) {
	return newObservedApp(cfg, db, logger, now, nil)
}

// newObservedApp builds the services, telling m what they do (nothing when
// m is nil).
func newObservedApp(cfg Config, db *database, logger *slog.Logger, now func() time.Time, m *metrics.Metrics) (*app, error) {
	var keys *auth.KeySet
	var err error
	if cfg.JWTKeys != "" {
		keys, err = auth.ParseKeySet(cfg.JWTKeys)
	} else {
		keys, err = auth.LoadOrCreateKeySet(filepath.Join(cfg.DataDir, "jwt-keys"))
	}
	if err != nil {
		return nil, err
	}
	a := &app{sessions: db.sessions, changes: db.changes, db: db, logger: logger, metrics: m, now: now, wake: make(chan struct{}, 1)}
	a.audit = audit.NewRecorder(db.audit, now, newID, logger)
	a.tokens = auth.NewTokens(keys, auth.DefaultConfig.AccessTTL, now)
	a.revocations = auth.NewRevocations(a.sessions, auth.DefaultConfig.AccessTTL+time.Minute, now, logger)
	a.auth, err = auth.NewService(auth.DefaultConfig, auth.Deps{
		Accounts: db.accounts, Sessions: a.sessions, Failures: a.sessions, Tokens: a.tokens,
		Revocations: a.revocations, Changes: db.changes, Audit: a.audit, Now: now, NewID: newID, Logger: logger, Observer: m,
	})
	if err != nil {
		return nil, err
	}
	var sealer *patient.Sealer
	if cfg.RRNKeys != "" {
		sealer, err = patient.ParseSealer(cfg.RRNKeys)
	} else {
		sealer, err = patient.LoadOrCreateSealer(filepath.Join(cfg.DataDir, "rrn-keys"))
	}
	if err != nil {
		return nil, err
	}
	a.patients = patient.NewService(patient.Deps{Store: db.patients, Changes: a.changes, Sealer: sealer, Audit: a.audit,
		Now: now, NewID: newID, Logger: logger})
	clinical := db.clinical
	a.chart = chart.NewService(chart.Deps{Store: clinical, Catalog: clinical, Patients: a.patients, Changes: a.changes, Audit: a.audit,
		Now: now, NewID: newID, Logger: logger})
	a.clinic = clinic.NewService(db.clinic, now)
	a.schedule = schedule.NewService(schedule.Deps{Store: db.schedule, Clinic: a.clinic, Patients: a.patients, Audit: a.audit,
		Now: now, NewID: newID, Logger: logger})
	a.billing = billing.NewService(billing.Deps{Store: db.billing, Chart: billingChart{a.chart}, Patients: a.patients, Clinic: a.clinic,
		Changes: a.changes, Audit: a.audit, Now: now, NewID: newID, Logger: logger})
	if err := a.startImages(cfg, db, logger, now); err != nil {
		return nil, err
	}
	return a, nil
}

// startImages builds the image service over the blob store MOLAR_BLOB_URL
// names, and the runner of its background jobs (started by the server).
func (a *app) startImages(cfg Config, db *database, logger *slog.Logger, now func() time.Time) error {
	key := cfg.MediaKey
	if key == "" {
		var err error
		key, err = services.LoadOrCreateSecretFile(filepath.Join(cfg.DataDir, "media-key"), newMediaKey)
		if err != nil {
			return err
		}
	}
	mediaKey, err := parseMediaKey(key)
	if err != nil {
		return fmt.Errorf("media key: %w", err)
	}
	blobs, err := blob.Open(context.Background(), cfg.BlobURL, cfg.DataDir)
	if err != nil {
		return err
	}
	switch b := blobs.(type) {
	case *blob.FS:
		if n, err := b.Sweep(); err != nil {
			logger.Warn("partial image files of stopped writes not all removed", "error", err.Error())
		} else if n > 0 {
			logger.Info("partial image files of stopped writes removed", "files", n)
		}
	case *blob.S3:
		// Only what is older than any write still under way.
		if n, err := b.Sweep(context.Background(), now().Add(-time.Hour)); err != nil {
			logger.Warn("staged image uploads of stopped writes not all removed", "error", err.Error())
		} else if n > 0 {
			logger.Info("staged image uploads of stopped writes removed", "objects", n)
		}
	}
	a.jobs = jobs.NewRunner(db.jobs, jobs.Config{Logger: logger, Observe: func(o jobs.Outcome) {
		// Each attempt of a background job is counted and logged with its
		// duration; the queue's depth is on the owner's screen (ListJobs)
		// and in the metrics.
		a.metrics.JobEnded(o)
		level := slog.LevelInfo
		if o.Result != jobs.Succeeded {
			level = slog.LevelWarn
		}
		attrs := []any{"job_id", o.Job.ID, "kind", o.Job.Kind, "result", o.Result.String(), "attempt", o.Job.Attempts, "duration_ms", o.Duration.Milliseconds()}
		if o.Err != nil {
			attrs = append(attrs, "error", o.Err.Error())
		}
		logger.Log(context.Background(), level, "job", attrs...)
	}})
	a.images = images.NewService(images.Deps{Store: db.images, Blobs: blobs, Queue: a.jobs, Patients: a.patients, Changes: a.changes,
		Audit: a.audit, Signer: images.NewURLSigner(mediaKey, now), Limits: images.Limits{MaxBytes: cfg.MaxUploadBytes, MaxPixels: images.DefaultLimits.MaxPixels},
		Location: a.schedule.Location, Now: now, Logger: logger})
	a.jobs.Handle(images.JobKind, a.images.MakeThumbnails)
	return nil
}

// billingChart tells billing what was completed, priced from the catalog.
type billingChart struct{ chart *chart.Service }

func (b billingChart) Completed(ctx context.Context, patientID string) ([]billing.CompletedEntry, error) {
	entries, err := b.chart.Completed(ctx, patientID)
	if err != nil {
		return nil, err
	}
	out := make([]billing.CompletedEntry, len(entries))
	for i, e := range entries {
		var surfaces strings.Builder
		for _, s := range e.Surfaces {
			surfaces.WriteString(strings.TrimPrefix(s.String(), "SURFACE_"))
		}
		out[i] = billing.CompletedEntry{ID: e.ID, Code: e.ProcedureCode, Name: e.ProcedureName, Surfaces: surfaces.String(), Provider: e.UpdatedBy,
			Tooth: e.Tooth, Fee: e.Fee, Insured: b.chart.Insured(ctx, e.ProcedureCode)}
	}
	return out, nil
}

// startBilling finishes billing changes a stopped process left unsettled.
// Nothing of billing is kept in memory: accounts, receivables and closings
// are read from the database.
func (a *app) startBilling(ctx context.Context) error {
	return a.billing.Recover(ctx)
}

// recoverAudit projects into the trail the audit events that changes
// committed inside themselves but that a stopped process did not project,
// and finishes what derives from those changes. Appending is idempotent, so
// running it beside live processes is safe.
func recoverAudit(ctx context.Context, db *database, rec *audit.Recorder) error {
	project := func(e audit.Event) error { return rec.Project(ctx, e) }
	var errs []error
	for _, repo := range db.recover {
		errs = append(errs, repo.ReprojectAudit(ctx, project))
	}
	return errors.Join(errs...)
}

var _ audit.Names = auditNames{}

// auditNames names the actors and targets of the audit trail from the
// staff accounts and the patients this process keeps.
type auditNames struct {
	accounts auth.AccountStore
	patients *patient.Service
}

// StaffName implements audit.Names.
func (n auditNames) StaffName(ctx context.Context, id string) (string, bool) {
	a, err := n.accounts.Get(ctx, id)
	if err != nil {
		return "", false
	}
	return a.DisplayName, true
}

// Patient implements audit.Names.
func (n auditNames) Patient(ctx context.Context, id string) (string, int64, bool) {
	name, chart, err := n.patients.Label(ctx, id)
	return name, chart, err == nil
}
