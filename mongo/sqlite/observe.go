package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// Observer is told of every call the database answers: op is the kind of
// statement (one of Operations), took the time spent in SQLite (for a
// query, the statement and every row read), err its failure. It runs on
// the caller's goroutine and must return at once.
type Observer func(ctx context.Context, op string, took time.Duration, err error)

// Operations are the values of an Observer's op.
var Operations = []string{"select", "insert", "update", "delete", "begin", "commit", "rollback", "pragma", "schema", "other"}

// Option changes how Open opens a database.
type Option func(*options)

type options struct {
	observe Observer
}

// WithObserver has every statement, transaction start and end of the
// database told to observe.
func WithObserver(observe Observer) Option {
	return func(o *options) { o.observe = observe }
}

// operation names the kind of a statement from its first word.
func operation(query string) string {
	q := strings.TrimLeft(query, " \t\r\n(")
	end := strings.IndexAny(q, " \t\r\n(;")
	if end < 0 {
		end = len(q)
	}
	switch w := strings.ToLower(q[:end]); w {
	case "select", "insert", "update", "delete", "pragma":
		return w
	case "with", "values":
		return "select"
	case "replace":
		return "insert"
	case "create", "alter", "drop":
		return "schema"
	}
	return "other"
}

// observedConnector opens connections of the SQLite driver whose calls are
// observed. The connections are the driver's own underneath: the driver's
// extras (backup, serialize) stay reachable through sql.Conn.Raw.
type observedConnector struct {
	dsn     string
	drv     driver.Driver
	observe Observer
}

func (c observedConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &observedConn{conn: conn, observe: c.observe}, nil
}

func (c observedConnector) Driver() driver.Driver { return c.drv }

// driverConn is what the SQLite driver's connections do.
type driverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
}

type observedConn struct {
	conn    driver.Conn
	observe Observer
}

var (
	_ driverConn              = (*observedConn)(nil)
	_ driver.Stmt             = (*observedStmt)(nil)
	_ driver.StmtExecContext  = (*observedStmt)(nil)
	_ driver.StmtQueryContext = (*observedStmt)(nil)
)

// raw is the driver's connection with every method this file relies on.
func (c *observedConn) raw() driverConn { return c.conn.(driverConn) }

func (c *observedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *observedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.raw().PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &observedStmt{stmt: st, op: operation(query), observe: c.observe}, nil
}

func (c *observedConn) Close() error { return c.conn.Close() }

func (c *observedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *observedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	start := time.Now()
	tx, err := c.raw().BeginTx(ctx, opts)
	c.observe(ctx, "begin", time.Since(start), err)
	if err != nil {
		return nil, err
	}
	return &observedTx{tx: tx, ctx: ctx, observe: c.observe}, nil
}

func (c *observedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	start := time.Now()
	res, err := c.raw().ExecContext(ctx, query, args)
	c.observe(ctx, operation(query), time.Since(start), err)
	return res, err
}

func (c *observedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	start := time.Now()
	rows, err := c.raw().QueryContext(ctx, query, args)
	return observeRows(ctx, c.observe, operation(query), start, rows, err)
}

func (c *observedConn) Ping(ctx context.Context) error { return c.raw().Ping(ctx) }

// The driver's extras, for sql.Conn.Raw.

// NewBackup starts an online backup of this connection's database into
// dstURI (see sqlite.Backup).
func (c *observedConn) NewBackup(dstURI string) (*sqlite.Backup, error) {
	return c.conn.(interface {
		NewBackup(string) (*sqlite.Backup, error)
	}).NewBackup(dstURI)
}

// NewRestore starts a restore of this connection's database from srcURI.
func (c *observedConn) NewRestore(srcURI string) (*sqlite.Backup, error) {
	return c.conn.(interface {
		NewRestore(string) (*sqlite.Backup, error)
	}).NewRestore(srcURI)
}

// Serialize returns the database as one byte slice.
func (c *observedConn) Serialize() ([]byte, error) {
	return c.conn.(interface{ Serialize() ([]byte, error) }).Serialize()
}

// Deserialize replaces the database with buf.
func (c *observedConn) Deserialize(buf []byte) error {
	return c.conn.(interface{ Deserialize([]byte) error }).Deserialize(buf)
}

type observedTx struct {
	tx      driver.Tx
	ctx     context.Context
	observe Observer
}

func (t *observedTx) Commit() error {
	start := time.Now()
	err := t.tx.Commit()
	t.observe(t.ctx, "commit", time.Since(start), err)
	return err
}

func (t *observedTx) Rollback() error {
	start := time.Now()
	err := t.tx.Rollback()
	t.observe(t.ctx, "rollback", time.Since(start), err)
	return err
}

type observedStmt struct {
	stmt    driver.Stmt
	op      string
	observe Observer
}

func (s *observedStmt) Close() error  { return s.stmt.Close() }
func (s *observedStmt) NumInput() int { return s.stmt.NumInput() }

// Exec and Query are the pre-context forms database/sql no longer calls
// when the context ones exist; they are here because driver.Stmt has them.
func (s *observedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *observedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *observedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	start := time.Now()
	res, err := s.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	s.observe(ctx, s.op, time.Since(start), err)
	return res, err
}

func (s *observedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	start := time.Now()
	rows, err := s.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	return observeRows(ctx, s.observe, s.op, start, rows, err)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// observeRows times a query from its start through every row read, not
// counting what the caller does between rows, and reports it when the rows
// are closed.
func observeRows(ctx context.Context, observe Observer, op string, start time.Time, rows driver.Rows, err error) (driver.Rows, error) {
	took := time.Since(start)
	if err != nil {
		observe(ctx, op, took, err)
		return nil, err
	}
	return &observedRows{rows: rows, ctx: ctx, op: op, took: took, observe: observe}, nil
}

type observedRows struct {
	rows    driver.Rows
	ctx     context.Context
	op      string
	took    time.Duration
	err     error
	observe Observer
}

func (r *observedRows) Columns() []string { return r.rows.Columns() }

func (r *observedRows) Next(dest []driver.Value) error {
	start := time.Now()
	err := r.rows.Next(dest)
	r.took += time.Since(start)
	if err != nil && !errors.Is(err, io.EOF) && r.err == nil {
		r.err = err
	}
	return err
}

func (r *observedRows) Close() error {
	err := r.rows.Close()
	r.observe(r.ctx, r.op, r.took, r.err)
	return err
}

// openSQL opens the pool of connections to dsn, observed if opts say so.
func openSQL(dsn string, opts []Option) (*sql.DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil || o.observe == nil {
		return db, err
	}
	// The driver registered as "sqlite", with whatever was registered on
	// it, under connections that report each call.
	drv := db.Driver()
	_ = db.Close()
	return sql.OpenDB(observedConnector{dsn: dsn, drv: drv, observe: o.observe}), nil
}
