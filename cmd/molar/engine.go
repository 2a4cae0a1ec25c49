package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/billing"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/clinic"
	"github.com/molar-dental/molar/services/patient"
	"github.com/molar-dental/molar/services/schedule"
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
	// follower notes where the log stands now and returns the loop that
	// follows it from there.
	follower(ctx context.Context) (followFunc, error)
}

// followFunc calls fn with each batch of changes, until ctx ends; when it
// cannot tell what it missed, it calls reload instead.
type followFunc func(ctx context.Context, fn func([]change), reload func())

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
	// watch, when the engine can tell cheaply that something was committed,
	// calls fn each time until ctx ends; the followers then read only when
	// there is something to read. Nil: they poll.
	watch func(ctx context.Context, fn func())
}

// followEvery is how often a follower looks for changes of other processes
// when nothing tells it sooner.
const followEvery = 100 * time.Millisecond

// openDatabase opens the configured engine: MongoDB at MONGODB_URI, or the
// embedded SQLite database in the data directory, moving the data of an
// older embedded engine into it on first start.
func openDatabase(ctx context.Context, cfg Config, logger *slog.Logger) (*database, error) {
	if cfg.MongoURI != "" {
		db, err := mongo.Open(ctx, mongo.Config{URI: cfg.MongoURI, DataDir: cfg.DataDir, Database: cfg.Database}, logger)
		if err != nil {
			return nil, err
		}
		if err := db.EnsureIndexes(ctx, mongo.AllIndexes()); err != nil {
			db.Close(context.Background())
			return nil, err
		}
		return mongoDatabase(db, logger), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("MOLAR_DATA_DIR: %w", err)
	}
	path := filepath.Join(cfg.DataDir, sqliteFile)
	if hasEmbeddedMongo(cfg.DataDir) {
		if err := migrateOnce(ctx, cfg, logger, path); err != nil {
			return nil, fmt.Errorf("moving the data of the earlier embedded engine: %w", err)
		}
	}
	db, err := sqlite.Open(ctx, path)
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
	return &database{
		engine: engine, accounts: staff, sessions: sessions, audit: mongo.NewAuditRepo(db),
		changes:  mongoChanges{changes},
		patients: patients, clinical: clinical, clinic: clinicRepo, schedule: book, billing: invoices,
		recover: []reprojector{patients, clinical, clinicRepo, staff, sessions, book},
		ping:    db.Ping, close: db.Close, mongo: db,
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
			if err != nil {
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

// mongoFollowEvery is how often a follower polls a MongoDB change log.
const mongoFollowEvery = 250 * time.Millisecond

// follower implements changeLog.
func (m mongoChanges) follower(ctx context.Context) (followFunc, error) {
	f, err := m.Follow(ctx)
	if err != nil {
		return nil, err
	}
	next := func(ctx context.Context) ([]change, bool, error) {
		cs, behind, err := f.Next(ctx)
		return changesOf(cs, func(c mongo.Change) change { return change{Kind: c.Kind, Key: c.Key, Rev: c.KeyRev} }), behind, err
	}
	prune := func(ctx context.Context) { _ = m.Prune(ctx, defaultChangeRetention) }
	return followLoop(nil, mongoFollowEvery, time.Hour, next, prune), nil
}

func sqliteDatabase(db *sqlite.DB, retention time.Duration) *database {
	patients, clinical, clinicStore := sqlite.NewPatientStore(db), sqlite.NewChartStore(db), sqlite.NewClinicStore(db)
	staff, sessions := sqlite.NewStaffStore(db), sqlite.NewSessionStore(db)
	log := sqlite.NewChangeLog(db, time.Now)
	wake := make(chan struct{}, 1)
	return &database{
		engine: "sqlite", accounts: staff, sessions: sessions, audit: sqlite.NewAuditStore(db),
		changes:  sqliteChanges{log, cmp.Or(retention, defaultChangeRetention), wake},
		patients: patients, clinical: clinical, clinic: clinicStore, schedule: sqlite.NewScheduleStore(db), billing: sqlite.NewBillingStore(db),
		ping:    db.Ping,
		close:   func(context.Context) { _ = db.Close() },
		prepare: func(context.Context, *app) error { return nil },
		watch: func(ctx context.Context, fn func()) {
			db.Watch(ctx, followEvery, func() {
				select {
				case wake <- struct{}{}:
				default:
				}
				fn()
			})
		},
	}
}

// sqliteChanges follows the SQLite change log by revision: every change
// once, in order; a follower behind the pruned part reloads.
// defaultChangeRetention is MOLAR_CHANGE_RETENTION's default.
const defaultChangeRetention = 24 * time.Hour

type sqliteChanges struct {
	*sqlite.ChangeLog
	// retention is how long the log keeps changes: a follower that cannot
	// read for longer reloads everything instead.
	retention time.Duration
	// wake says the database changed: there may be something to read.
	wake chan struct{}
}

// follower implements changeLog. It is woken by the database's change
// counter; its slow ticker only prunes, and reads in case a wake-up was
// ever missed.
func (l sqliteChanges) follower(ctx context.Context) (followFunc, error) {
	f, err := l.Follow(ctx)
	if err != nil {
		return nil, err
	}
	next := func(ctx context.Context) ([]change, bool, error) {
		cs, behind, err := f.Next(ctx)
		return changesOf(cs, func(c sqlite.Change) change { return change{Kind: c.Kind, Key: c.Key, Rev: c.KeyRev} }), behind, err
	}
	prune := func(ctx context.Context) { _ = l.Prune(ctx, l.retention) }
	every := min(time.Minute, l.retention/2)
	return followLoop(l.wake, every, every, next, prune), nil
}

// changesOf converts an engine's change entries.
func changesOf[C any](cs []C, conv func(C) change) []change {
	out := make([]change, len(cs))
	for i, c := range cs {
		out[i] = conv(c)
	}
	return out
}

// followLoop reads a change log whenever wake says so or every tick,
// hands what it read to fn (or calls reload when the follower fell behind
// the pruned part), and prunes the log every pruneEvery.
func followLoop(wake <-chan struct{}, tick, pruneEvery time.Duration, next func(context.Context) ([]change, bool, error), prune func(context.Context)) followFunc {
	return func(ctx context.Context, fn func([]change), reload func()) {
		t := time.NewTicker(tick)
		defer t.Stop()
		lastPrune := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-t.C:
			}
			cs, behind, err := next(ctx)
			switch {
			case err != nil:
				continue
			case behind:
				reload()
			case len(cs) > 0:
				fn(cs)
			}
			if time.Since(lastPrune) > pruneEvery {
				lastPrune = time.Now()
				prune(ctx)
			}
		}
	}
}
