// Package sqlstore is the engine of the SQL session drivers (PostgreSQL,
// MySQL/MariaDB, SQLite): the whole driver contract written once, in
// terms of a DB (one round trip per call) and a Dialect (the SQL text of
// each operation and the database's quirks).
//
// Each session is one row (key, data, version, expires_ms) of the
// sessions table; each user index entry one row (user_key, session_key,
// expires_ms) of a second table named after the first with "_users"
// appended. Deadlines are Unix milliseconds computed by the database from
// its own clock plus a time to live, and every comparison with "now" uses
// that same clock, so application servers whose clocks disagree still
// agree on what has expired. Versions are random non-zero 63-bit numbers
// from crypto/rand, so a version never comes back after a delete and a
// re-create.
//
// Every operation is one statement: Load one SELECT, a conditional Save
// one INSERT-or-replace-if-expired (version 0) or one UPDATE … WHERE
// version = old, Touch one UPDATE of the deadline. There are no
// read-modify-write transactions and no explicit row locks, so no request
// waits on another beyond the database's own row locking of a single
// statement (a DB that sends several such statements in one batch, as the
// PostgreSQL driver's does, holds a row's lock until the batch commits).
// Rows whose deadline has passed are never returned; a background sweep
// deletes them in bounded batches.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Defaults of the options every SQL driver shares.
const (
	// DefaultTable is the name of the sessions table.
	DefaultTable = "ginkit_sessions"

	// DefaultSweepInterval is how often expired rows are deleted.
	DefaultSweepInterval = 5 * time.Minute

	// DefaultTimeout bounds each operation.
	DefaultTimeout = 5 * time.Second

	// DefaultMaxConns is the size of the pool a driver opens itself
	// (except SQLite's, which has its own default).
	DefaultMaxConns = 10

	// SweepBatch is the most rows one sweep statement deletes.
	SweepBatch = 1000

	// ScanPage is the number of keys Scan reads per round trip.
	ScanPage = 500

	// UsersSuffix is appended to the table name to name the user index.
	UsersSuffix = "_users"
)

// Config is a Store's configuration, with the defaults already applied.
type Config struct {
	// Table is the sessions table; the user index is Table + "_users".
	Table string

	// CreateTable creates the tables on first use if they are missing;
	// otherwise the first use only checks that they exist.
	CreateTable bool

	// SweepInterval is how often the background sweep runs; zero or
	// negative turns it off.
	SweepInterval time.Duration

	// Timeout bounds each operation (each round trip of Scan and Sweep);
	// zero or negative means only the caller's context does.
	Timeout time.Duration

	// ErrClosed is returned by every call after Close.
	ErrClosed error
}

// Store implements driver.Driver, driver.Toucher, driver.Scanner and
// driver.UserIndexer over a DB in one Dialect. It is safe for concurrent
// use, and several Stores (in any number of processes) may share tables.
type Store struct {
	db   DB
	rows RowDB // db, if it is one
	name string
	sql  Statements
	cfg  Config
	d    Dialect

	closed atomic.Bool
	ready  atomic.Bool   // the schema exists (created or checked)
	initMu chan struct{} // held while creating or checking the schema

	stopSweep context.CancelFunc
	sweepDone chan struct{}
}

// New returns a Store over db. It validates cfg.Table (see ValidTable)
// and starts the background sweep if cfg.SweepInterval is positive; it
// does not touch the database: the schema is created (or checked) on
// first use, so an application can start while its database is down.
func New(db DB, d Dialect, cfg Config) (*Store, error) {
	if err := ValidTable(cfg.Table); err != nil {
		return nil, fmt.Errorf("%s: open: option \"table\": %w", d.Name, err)
	}
	if cfg.ErrClosed == nil {
		cfg.ErrClosed = fmt.Errorf("%s: driver closed", d.Name)
	}
	s := &Store{
		db:     db,
		name:   d.Name,
		sql:    d.Statements(cfg.Table, cfg.Table+UsersSuffix),
		cfg:    cfg,
		d:      d,
		initMu: make(chan struct{}, 1),
	}
	s.rows, _ = db.(RowDB)
	if cfg.SweepInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopSweep = cancel
		s.sweepDone = make(chan struct{})
		go s.sweeper(ctx, cfg.SweepInterval)
	}
	return s, nil
}

// fail formats an error of operation op.
func (s *Store) fail(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.name, op, err)
}

// begin checks that the Store is open, applies the timeout and makes sure
// the schema is there; every operation starts with it.
func (s *Store) begin(ctx context.Context, op string) (context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return nil, nil, s.cfg.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, s.fail(op, err)
	}
	ctx, cancel := s.withTimeout(ctx)
	if err := s.ensureSchema(ctx); err != nil {
		cancel()
		return nil, nil, s.fail(op, err)
	}
	return ctx, cancel, nil
}

// withTimeout returns the context of one statement. A client that hangs
// up cancels its request's context, and pgx and go-sql-driver/mysql then
// close the connection mid-statement, so the pool must open a new one (a
// process fork on PostgreSQL): under load, every dropped client cost a
// connection. A statement is short, so it runs to its end instead,
// without the caller's cancellation but within the store's timeout and
// the caller's own deadline, if it set one.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := s.cfg.Timeout
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); timeout <= 0 || left < timeout {
			timeout = max(left, time.Nanosecond)
		}
	}
	base := context.WithoutCancel(ctx)
	if timeout <= 0 {
		return context.WithCancel(base)
	}
	return context.WithTimeout(base, timeout)
}

// ensureSchema creates the tables (or checks that they exist) once per
// Store. A failure is not remembered: the next call tries again, so a
// database that was down at the first request does not break the Store.
func (s *Store) ensureSchema(ctx context.Context) error {
	if s.ready.Load() {
		return nil
	}
	select {
	case s.initMu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.initMu }()
	if s.ready.Load() {
		return nil
	}
	if s.cfg.CreateTable {
		for _, q := range s.sql.Schema {
			if _, err := s.db.Exec(ctx, q); err != nil {
				return fmt.Errorf("create table %q: %w", s.cfg.Table, err)
			}
		}
	} else {
		for _, q := range s.sql.Check {
			if _, err := s.db.Exec(ctx, q); err != nil {
				return fmt.Errorf("table %q or %q unusable and create_table=false: %w", s.cfg.Table, s.cfg.Table+UsersSuffix, err)
			}
		}
	}
	s.ready.Store(true)
	return nil
}

// Load returns the live record under key with one SELECT. A missing or
// expired record gives (nil, 0, time.Time{}, nil). The expiry is the
// deadline the database computed with its own clock.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	if err := checkKey(key); err != nil {
		return nil, 0, time.Time{}, s.fail("load", err)
	}
	ctx, cancel, err := s.begin(ctx, "load")
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	defer cancel()
	var (
		data    []byte
		version int64
		expires int64
	)
	found, err := s.queryRow(ctx, key, s.sql.Load, []any{key}, &data, &version, &expires)
	if err != nil {
		return nil, 0, time.Time{}, s.fail("load", err)
	}
	if !found || version == 0 {
		return nil, 0, time.Time{}, nil
	}
	if data == nil {
		data = []byte{}
	}
	return data, uint64(version), time.UnixMilli(expires), nil
}

// Save writes record under key with time to live ttl if the stored version
// is version (0: no live record), in one statement, with a fresh random
// version. It reports whether it wrote.
func (s *Store) Save(ctx context.Context, key string, record []byte, version uint64, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, s.fail("save", err)
	}
	ctx, cancel, err := s.begin(ctx, "save")
	if err != nil {
		return false, err
	}
	defer cancel()
	if version > MaxVersion {
		return false, nil // not a version this engine writes: nothing matches
	}
	if record == nil {
		record = []byte{}
	}
	next := int64(NewVersion(version))
	var n int64
	if version == 0 {
		n, err = s.execRow(ctx, key, s.sql.Create, key, record, next, TTLMillis(ttl))
	} else {
		n, err = s.execRow(ctx, key, s.sql.Update, record, next, TTLMillis(ttl), key, int64(version))
	}
	if err != nil {
		return false, s.fail("save", err)
	}
	return n > 0, nil
}

// Touch sets the deadline of the live record under key to now + ttl with
// one UPDATE of that column alone, keeping record and version. A missing
// or expired record stays absent.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return s.fail("touch", err)
	}
	ctx, cancel, err := s.begin(ctx, "touch")
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := s.execRow(ctx, key, s.sql.Touch, TTLMillis(ttl), key); err != nil {
		return s.fail("touch", err)
	}
	return nil
}

// Delete removes the record under key with one DELETE; a missing key is
// not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return s.fail("delete", err)
	}
	ctx, cancel, err := s.begin(ctx, "delete")
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := s.execRow(ctx, key, s.sql.Delete, key); err != nil {
		return s.fail("delete", err)
	}
	return nil
}

// execRow runs a statement that changes at most the row of key, through
// the DB's RowDB side if it has one.
func (s *Store) execRow(ctx context.Context, key, query string, args ...any) (int64, error) {
	if s.rows != nil {
		return s.rows.ExecRow(ctx, key, query, args...)
	}
	return s.db.Exec(ctx, query, args...)
}

// queryRow runs a query that reads at most the row of key, through the
// DB's RowDB side if it has one.
func (s *Store) queryRow(ctx context.Context, key, query string, args []any, dest ...any) (bool, error) {
	if s.rows != nil {
		return s.rows.QueryRowOf(ctx, key, query, args, dest...)
	}
	return s.db.QueryRow(ctx, query, args, dest...)
}

// Close stops the sweep, marks the Store closed (every later call,
// Close included, returns Config.ErrClosed) and closes the DB adapter
// (which closes the pool only if it owns it), waiting no longer than ctx
// allows.
func (s *Store) Close(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return s.cfg.ErrClosed
	}
	if s.stopSweep != nil {
		s.stopSweep()
		select {
		case <-s.sweepDone:
		case <-ctx.Done():
			return s.fail("close", ctx.Err())
		}
	}
	done := make(chan struct{})
	go func() {
		s.db.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return s.fail("close", ctx.Err())
	}
}

// errKeyShape is the reason a key or user of the wrong shape is refused.
var errKeyShape = errors.New("keys and users must be 1 to 250 bytes from [A-Za-z0-9_-]")

// MaxKeyLen is the longest key (and user) the contract allows.
const MaxKeyLen = 250

// ValidKey reports whether k has the shape of a key: 1 to 250 bytes from
// [A-Za-z0-9_-].
func ValidKey(k string) bool {
	if k == "" || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkKey(k string) error {
	if !ValidKey(k) {
		return errKeyShape
	}
	return nil
}
