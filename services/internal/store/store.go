// Package store opens a service's SQLite file through database/sql and runs every statement with a
// span around it (a span that does nothing in the default build).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zerocodelab/lab/services/internal/telemetry"
	_ "modernc.org/sqlite" // pure-Go driver: static binaries, no cgo
)

// DB is a service's database.
type DB struct {
	Conn
	sql *sql.DB
}

// Open opens (creating if needed) <dir>/<name>.db and applies schema, which must be idempotent
// (CREATE TABLE IF NOT EXISTS, INSERT OR IGNORE) so that data survives restarts and seeds land once.
func Open(ctx context.Context, dir, name string, tel *telemetry.Telemetry, schema string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: create DATA_DIR %q: %w", dir, err)
	}
	path := filepath.Join(dir, name+".db")
	// WAL lets readers run during a write; busy_timeout waits for a lock instead of failing at once.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// One connection: SQLite has a single writer anyway, and a shared connection makes every
	// check-then-write in a transaction atomic without SQLITE_BUSY retries.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: apply schema to %s: %w", path, err)
	}
	return &DB{Conn: Conn{q: db, tel: tel, name: name}, sql: db}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// InTx runs fn in a transaction, committed if fn returns nil and rolled back otherwise.
func (db *DB) InTx(ctx context.Context, fn func(tx Conn) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", becauseOf(ctx, err))
	}
	if err := fn(Conn{q: tx, tel: db.tel, name: db.name}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", becauseOf(ctx, err))
	}
	return nil
}

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Conn runs statements on a database or inside a transaction. Every call passes the request's
// context to database/sql, which is what lets the Go auto agent tie its SQL spans to the request.
type Conn struct {
	q    queryer
	tel  *telemetry.Telemetry
	name string
}

// Exec runs a statement that returns no rows.
func (c Conn) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, span := c.tel.StartQuery(ctx, c.name, query)
	res, err := c.q.ExecContext(ctx, query, args...)
	err = becauseOf(ctx, err)
	span.End(err)
	return res, err
}

// becauseOf names the context's end as the cause of err when the context ended: the driver reports an
// interrupted statement in its own words, and a statement cut short by a client that went away must
// read as that (context.Canceled), not as a failure of the database.
func becauseOf(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", ctx.Err(), err)
}

// Get runs a query for one row and scans it into dest; no row is sql.ErrNoRows.
func (c Conn) Get(ctx context.Context, query string, args []any, dest ...any) error {
	ctx, span := c.tel.StartQuery(ctx, c.name, query)
	err := becauseOf(ctx, c.q.QueryRowContext(ctx, query, args...).Scan(dest...))
	if err == sql.ErrNoRows {
		span.End(nil) // no row is an answer, not a failure of the database
	} else {
		span.End(err)
	}
	return err
}

// Select runs a query and calls scan for each row.
func (c Conn) Select(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) (err error) {
	ctx, span := c.tel.StartQuery(ctx, c.name, query)
	defer func() { span.End(err) }()
	rows, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return becauseOf(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return becauseOf(ctx, rows.Err())
}
