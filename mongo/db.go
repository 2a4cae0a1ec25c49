package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/molar-dental/molar/services"
)

// Config says where the data lives.
type Config struct {
	// URI of a MongoDB deployment; empty starts the embedded engine.
	URI string
	// DataDir holds the embedded engine's files.
	DataDir string
	// Database is the database name.
	Database string
	// Observe, when set, is told of every command the driver sends: its
	// name (one of Commands, or "other"), how long it took, and its failure.
	Observe func(ctx context.Context, command string, took time.Duration, err error)
	// Trace, when set, is told of every command as Observe is, with the
	// collection it names ("" for a command on none), for tracing.
	Trace func(ctx context.Context, command, collection string, took time.Duration, err error)
}

// DB is an open database with the engine behind it.
type DB struct {
	// Client is the driver client, shared by every repository.
	Client *driver.Client
	// Database is Molar's database.
	Database *driver.Database
	// FerretDB reports whether the engine is FerretDB, which lacks some index
	// kinds and every multi-document feature.
	FerretDB bool

	embedded *Embedded
	logger   *slog.Logger
}

// Open connects to the configured engine, starting the embedded one when no
// URI is set, and checks that it answers.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*DB, error) {
	var emb *Embedded
	uri := cfg.URI
	if uri == "" {
		var err error
		if emb, err = StartEmbedded(cfg.DataDir, 15*time.Second, logger); err != nil {
			return nil, err
		}
		uri = emb.URI
	}
	opts := options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(5 * time.Second).
		SetConnectTimeout(5 * time.Second)
	if cfg.Observe != nil || cfg.Trace != nil {
		opts.SetMonitor(commandMonitor(cfg.Observe, cfg.Trace))
	}
	client, err := driver.Connect(opts)
	if err != nil {
		if emb != nil {
			emb.Close()
		}
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	db := &DB{Client: client, Database: client.Database(cfg.Database), embedded: emb, logger: logger}
	if err := db.detect(ctx); err != nil {
		db.Close(context.Background())
		return nil, fmt.Errorf("database does not answer: %w", err)
	}
	return db, nil
}

// detect asks the server what it is.
func (db *DB) detect(ctx context.Context) error {
	var info bson.M
	if err := db.Client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return err
	}
	_, db.FerretDB = info["ferretdbVersion"]
	return nil
}

// Embedded reports whether this process runs the embedded engine.
func (db *DB) Embedded() bool { return db.embedded != nil && db.embedded.Owner }

// Ping checks that the database answers now.
func (db *DB) Ping(ctx context.Context) error {
	return db.Client.Database("admin").RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err()
}

// Close disconnects and stops the embedded engine if this process runs it.
func (db *DB) Close(ctx context.Context) {
	_ = db.Client.Disconnect(ctx)
	if db.embedded != nil {
		db.embedded.Close()
	}
}

// Index is one index a repository needs.
type Index struct {
	Collection string
	Model      driver.IndexModel
	// MongoDBOnly marks an index whose kind the embedded engine lacks (TTL,
	// partial, text). On that engine it is skipped and the repository that
	// declared it must not depend on it: it says what it does instead.
	MongoDBOnly bool
}

// EnsureIndexes creates the given indexes where they are missing. It is
// idempotent; an index the engine rejects is an error, never ignored.
func (db *DB) EnsureIndexes(ctx context.Context, indexes []Index) error {
	for _, ix := range indexes {
		name := ""
		if ix.Model.Options != nil {
			var o options.IndexOptions
			for _, set := range ix.Model.Options.List() {
				_ = set(&o)
			}
			if o.Name != nil {
				name = *o.Name
			}
		}
		if ix.MongoDBOnly && db.FerretDB {
			db.logger.Info("index skipped on the embedded engine", "collection", ix.Collection, "index", name)
			continue
		}
		if _, err := db.Database.Collection(ix.Collection).Indexes().CreateOne(ctx, ix.Model); err != nil {
			return fmt.Errorf("index %s on %s: %w", name, ix.Collection, err)
		}
	}
	return nil
}

// storeError turns driver errors into the services' error vocabulary, so no
// driver error leaves this package: no document is NotFound, a duplicate key
// is AlreadyExists, everything else is wrapped as an internal failure.
func storeError(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, driver.ErrNoDocuments):
		return services.Errorf(services.NotFound, "%s not found", what)
	case driver.IsDuplicateKeyError(err):
		return services.Errorf(services.AlreadyExists, "%s already exists", what)
	case driver.IsTimeout(err), driver.IsNetworkError(err):
		return &services.Error{Code: services.Unavailable, Message: "database unavailable", Err: err, RetryAfter: time.Second}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// AllIndexes lists the indexes of every repository, for EnsureIndexes at
// start-up.
func AllIndexes() []Index {
	var all []Index
	all = append(all, ClinicIndexes()...)
	all = append(all, StaffIndexes()...)
	all = append(all, SessionIndexes()...)
	all = append(all, AuditIndexes()...)
	all = append(all, ChangeIndexes()...)
	all = append(all, PatientIndexes()...)
	all = append(all, ClinicalIndexes()...)
	all = append(all, InvoiceIndexes()...)
	all = append(all, ScheduleIndexes()...)
	all = append(all, JobIndexes()...)
	all = append(all, ImageIndexes()...)
	all = append(all, BackupRunIndexes()...)
	return all
}

// findAll runs a query and converts every document it returns.
func findAll[D, T any](ctx context.Context, coll *driver.Collection, filter any, what string, convert func(D) T, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	cur, err := coll.Find(ctx, filter, opts...)
	if err != nil {
		return nil, storeError(err, what)
	}
	var docs []D
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeError(err, what)
	}
	out := make([]T, len(docs))
	for i, d := range docs {
		out[i] = convert(d)
	}
	return out, nil
}
