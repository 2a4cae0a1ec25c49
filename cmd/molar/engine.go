package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/backup"
	"github.com/molar-dental/molar/services/billing"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/clinic"
	"github.com/molar-dental/molar/services/images"
	"github.com/molar-dental/molar/services/jobs"
	"github.com/molar-dental/molar/services/metrics"
	"github.com/molar-dental/molar/services/patient"
	"github.com/molar-dental/molar/services/schedule"
	"github.com/molar-dental/molar/services/tracing"
)

// The stores the services use, as each engine provides them, with the bulk
// loads the demo data and migrations need.
type (
	sessionStore interface {
		auth.SessionStore
		auth.FailureStore
	}
	patientStore interface {
		patient.Store
		InsertMany(ctx context.Context, recs []patient.Record) error
	}
	clinicalStore interface {
		chart.Store
		chart.Catalog
		InsertMany(ctx context.Context, recs []chart.Record) error
	}
	scheduleStore interface {
		schedule.Store
		InsertSlots(ctx context.Context, slots []schedule.Slot, claims []schedule.Claim) error
		SaveAppointments(ctx context.Context, as []*molarv1.Appointment) error
	}
	// reprojector appends to the trail the audit records that committed
	// changes carry but a stopped process did not append.
	reprojector interface {
		ReprojectAudit(ctx context.Context, project func(audit.Event) error) error
	}
)

// change is one entry of the change log: the thing of kind and key is now
// at rev.
type change struct {
	Kind, Key string
	Rev       int64
}

// changeLog tells every process on the database what any of them changed.
type changeLog interface {
	Publish(ctx context.Context, kind, key string, rev int64) error
	// reader notes where the log stands now and returns a reader that goes
	// on from there.
	reader(ctx context.Context) (logReader, error)
}

// logReader reads a change log from where it stood.
type logReader struct {
	// next returns the changes published since the last call, oldest
	// first; behind says some were pruned before they were read, and then
	// there are none: the reader goes on from the newest.
	next func(ctx context.Context) (cs []change, behind bool, err error)
	// prune forgets the changes older than the log's retention; it is due
	// every pruneEvery.
	prune      func(ctx context.Context)
	pruneEvery time.Duration
}

// commits tells the process's loop when another process may have
// committed something.
type commits struct {
	// every is how often the loop looks.
	every time.Duration
	// changed, when set, says cheaply whether anything was committed since
	// it was last asked; unset, the loop reads the logs at every look.
	changed func(ctx context.Context) bool
	// stream, when set, runs beside the loop until ctx ends, calling wake
	// on each commit the deployment reports.
	stream func(ctx context.Context, wake func())
	// close frees what looking holds.
	close func()
}

// database is one engine and every store on it.
type database struct {
	// engine names it for logs and the README's "what runs where".
	engine   string
	accounts auth.AccountStore
	sessions sessionStore
	audit    audit.Store
	changes  changeLog
	patients patientStore
	clinical clinicalStore
	clinic   clinic.Store
	schedule scheduleStore
	billing  billing.Store
	images   images.Store
	jobs     jobs.Store
	// recover lists the stores whose committed changes may carry audit
	// records not yet in the trail.
	recover []reprojector
	ping    func(context.Context) error
	close   func(context.Context)
	// prepare runs once at start-up, before anything is loaded: indexes,
	// moving data of an older layout, finishing what a stopped process left.
	prepare func(context.Context, *app) error

	// mongo is the MongoDB deployment when the engine is one, for tests and
	// the migration; nil on SQLite.
	mongo *mongo.DB
	// commits says how the process learns of other processes' commits.
	commits func(ctx context.Context) (commits, error)
	// reap, when set, frees what the engine claims ahead of a commit for
	// operations that never committed; it runs at start and every sweep.
	reap func(ctx context.Context) error
	// prune, when set, deletes what expired where the engine has no TTL
	// index to do it (refresh tokens, their uses, old failed sign-ins); it
	// runs every sweep and returns how many rows went.
	prune func(ctx context.Context, now time.Time) (int64, error)

	// backup copies the database for a backup, and runs records how each
	// backup ended.
	backup backup.Source
	runs   backup.Store
}

// openDatabase opens the configured engine: MongoDB at MONGODB_URI, or the
// embedded SQLite database in the data directory, moving the data of an
// older embedded engine into it on first start.
func openDatabase(ctx context.Context, cfg Config, logger *slog.Logger) (*database, error) {
	return openObservedDatabase(ctx, cfg, logger, nil, nil)
}

// openObservedDatabase is openDatabase with every call to the database
// timed into m (none when m is nil) and traced by tr.
func openObservedDatabase(ctx context.Context, cfg Config, logger *slog.Logger, m *metrics.Metrics, tr *tracing.Tracing) (*database, error) {
	if cfg.MongoURI != "" {
		db, err := mongo.Open(ctx, mongo.Config{URI: cfg.MongoURI, DataDir: cfg.DataDir, Database: cfg.Database,
			Observe: m.DBCall("mongodb", mongo.Commands), Trace: tr.DBCall("mongodb")}, logger)
		if err != nil {
			return nil, err
		}
		if err := db.EnsureIndexes(ctx, mongo.AllIndexes()); err != nil {
			db.Close(context.Background())
			return nil, err
		}
		if unfinished, err := mongo.RestoreUnfinished(ctx, db); err != nil || unfinished {
			db.Close(context.Background())
			return nil, cmp.Or(err, fmt.Errorf("MOLAR_DATABASE: a restore into database %s did not finish: drop it and run molar restore again", cfg.Database))
		}
		return mongoDatabase(db, logger), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("MOLAR_DATA_DIR: %w", err)
	}
	if sqlite.RestoreUnfinished(cfg.DataDir) {
		return nil, fmt.Errorf("MOLAR_DATA_DIR: a restore into %s did not finish: empty it and run molar restore again", cfg.DataDir)
	}
	path := filepath.Join(cfg.DataDir, sqliteFile)
	if hasEmbeddedMongo(cfg.DataDir) {
		if err := migrateOnce(ctx, cfg, logger, path); err != nil {
			return nil, fmt.Errorf("moving the data of the earlier embedded engine: %w", err)
		}
	}
	db, err := sqlite.Open(ctx, path, sqlite.WithObserver(sqliteObserver(m.DBCall("sqlite", sqlite.Operations), sqliteSpans(tr))))
	if err != nil {
		return nil, err
	}
	return sqliteDatabase(db, cfg.ChangeRetention), nil
}

// sqliteFile is the database file in the data directory.
const sqliteFile = "molar.db"

func mongoDatabase(db *mongo.DB, logger *slog.Logger) *database {
	sessions, invoices := mongo.NewSessionRepo(db), mongo.NewInvoiceRepo(db)
	patients, clinical, clinicRepo, staff := mongo.NewPatientRepo(db), mongo.NewClinicalRepo(db), mongo.NewClinicRepo(db), mongo.NewStaffRepo(db)
	engine := "mongodb"
	if db.FerretDB {
		engine = "ferretdb"
	}
	changes := mongo.NewChangeLog(db, time.Now, logger)
	book := mongo.NewScheduleRepo(db)
	imageRepo := mongo.NewImageRepo(db)
	return &database{
		engine: engine, accounts: staff, sessions: sessions, audit: mongo.NewAuditRepo(db),
		changes:  mongoChanges{changes},
		patients: patients, clinical: clinical, clinic: clinicRepo, schedule: book, billing: invoices,
		images: imageRepo, jobs: mongo.NewJobRepo(db),
		backup: mongo.NewBackupSource(db), runs: mongo.NewBackupRunRepo(db),
		recover: []reprojector{patients, clinical, clinicRepo, staff, sessions, book, imageRepo},
		ping:    db.Ping, close: db.Close, mongo: db,
		commits: func(context.Context) (commits, error) { return mongoCommits(db, logger), nil },
		reap: func(ctx context.Context) error {
			n, err := patients.ReapClaims(ctx, time.Now().Add(-mongo.ChartClaimLease))
			if n > 0 {
				logger.Info("chart numbers of registrations that never committed freed", "numbers", n)
			}
			return err
		},
		prepare: func(ctx context.Context, a *app) error {
			if err := changes.DropLegacy(ctx); err != nil {
				return err
			}
			moved, err := book.MigrateSchedule(ctx)
			if moved > 0 {
				logger.Info("the book moved to its current layout", "documents", moved)
			}
			if err != nil {
				return err
			}
			n, err := invoices.MigrateInvoices(ctx, db)
			if n > 0 {
				logger.Info("invoices moved into patient accounts", "patients", n)
			}
			if err != nil || a == nil {
				// Moving the data to another engine (a == nil) reads each
				// record whole anyway: nothing to compact first.
				return err
			}
			n, err = clinical.CompactClinical(ctx)
			if n > 0 {
				logger.Info("clinical versions stored as their changes", "versions", n)
			}
			return err
		},
	}
}

// mongoChanges follows the MongoDB change log by revision, polling.
type mongoChanges struct{ *mongo.ChangeLog }

// How often a process reads a MongoDB deployment's logs: often where it
// cannot be told of commits, rarely (in case a report was lost) where a
// change stream tells it.
const (
	mongoPollEvery   = 250 * time.Millisecond
	mongoStreamEvery = 10 * time.Second
)

// reader implements changeLog.
func (m mongoChanges) reader(ctx context.Context) (logReader, error) {
	f, err := m.Follow(ctx)
	if err != nil {
		return logReader{}, err
	}
	return logReader{
		next: func(ctx context.Context) ([]change, bool, error) {
			cs, behind, err := f.Next(ctx)
			return changesOf(cs, func(c mongo.Change) change { return change{Kind: c.Kind, Key: c.Key, Rev: c.KeyRev} }), behind, err
		},
		prune:      func(ctx context.Context) { _ = m.Prune(ctx, defaultChangeRetention) },
		pruneEvery: time.Hour,
	}, nil
}

// mongoCommits polls the logs every mongoPollEvery until a change stream
// reports commits; from then on it reads when told, and every
// mongoStreamEvery, until the stream fails.
func mongoCommits(db *mongo.DB, logger *slog.Logger) commits {
	var streaming atomic.Bool
	var lastRead time.Time
	return commits{
		every: mongoPollEvery,
		changed: func(context.Context) bool {
			if !streaming.Load() || time.Since(lastRead) >= mongoStreamEvery {
				lastRead = time.Now()
				return true
			}
			return false
		},
		stream: func(ctx context.Context, wake func()) {
			// A stream that fails (a failover, a restart) is opened again
			// every sweep; until then the logs are read on the timer.
			for said := false; ; {
				err := db.WatchCommits(ctx, func() {
					streaming.Store(true)
					wake()
				})
				streaming.Store(false)
				if err != nil && !said {
					said = true
					logger.Info("no change stream; reading the logs on a timer", "every", mongoPollEvery.String(), "reason", err.Error())
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(sweepEvery):
				}
			}
		},
		close: func() {},
	}
}

func sqliteDatabase(db *sqlite.DB, retention time.Duration) *database {
	patients, clinical, clinicStore := sqlite.NewPatientStore(db), sqlite.NewChartStore(db), sqlite.NewClinicStore(db)
	staff, sessions := sqlite.NewStaffStore(db), sqlite.NewSessionStore(db)
	log := sqlite.NewChangeLog(db, time.Now)
	return &database{
		engine: "sqlite", accounts: staff, sessions: sessions, audit: sqlite.NewAuditStore(db),
		changes:  sqliteChanges{log, cmp.Or(retention, defaultChangeRetention)},
		patients: patients, clinical: clinical, clinic: clinicStore, schedule: sqlite.NewScheduleStore(db), billing: sqlite.NewBillingStore(db),
		images: sqlite.NewImageStore(db), jobs: sqlite.NewJobStore(db),
		backup: sqlite.NewBackupSource(db), runs: sqlite.NewBackupRunStore(db),
		ping:    db.Ping,
		close:   func(context.Context) { _ = db.Close() },
		prepare: func(context.Context, *app) error { return nil },
		prune:   sessions.Prune,
		commits: func(ctx context.Context) (commits, error) {
			w, err := db.CommitWatcher(ctx)
			if err != nil {
				return commits{}, err
			}
			return commits{every: sqliteLookEvery, changed: w.Changed, close: func() { _ = w.Close() }}, nil
		},
	}
}

// sqliteLookEvery is how often a process asks SQLite whether anything was
// committed: a read of a counter, no table.
const sqliteLookEvery = 100 * time.Millisecond

// sqliteChanges follows the SQLite change log by revision: every change
// once, in order; a follower behind the pruned part reloads.
// defaultChangeRetention is MOLAR_CHANGE_RETENTION's default.
const defaultChangeRetention = 24 * time.Hour

type sqliteChanges struct {
	*sqlite.ChangeLog
	// retention is how long the log keeps changes: a follower that cannot
	// read for longer reloads everything instead.
	retention time.Duration
}

// reader implements changeLog.
func (l sqliteChanges) reader(ctx context.Context) (logReader, error) {
	f, err := l.Follow(ctx)
	if err != nil {
		return logReader{}, err
	}
	return logReader{
		next: func(ctx context.Context) ([]change, bool, error) {
			cs, behind, err := f.Next(ctx)
			return changesOf(cs, func(c sqlite.Change) change { return change{Kind: c.Kind, Key: c.Key, Rev: c.KeyRev} }), behind, err
		},
		prune:      func(ctx context.Context) { _ = l.Prune(ctx, l.retention) },
		pruneEvery: min(time.Minute, l.retention/2),
	}, nil
}

// changesOf converts an engine's change entries.
func changesOf[C any](cs []C, conv func(C) change) []change {
	out := make([]change, len(cs))
	for i, c := range cs {
		out[i] = conv(c)
	}
	return out
}
