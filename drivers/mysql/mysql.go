package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/internal/sqlstore"
)

func init() {
	open := func(u *url.URL) (driver.Driver, error) { return Open(u) }
	driver.Register("mysql", open)
	driver.Register("mariadb", open)
}

// DefaultTable is the sessions table used when Options.Table is empty or
// the DSN has no table option; the user index is DefaultTable + "_users".
const DefaultTable = sqlstore.DefaultTable

// ErrClosed is returned by every method of a Driver after Close.
var ErrClosed = errors.New("mysql: driver closed")

// Options tunes a Driver made by New. The zero value is ready to use.
type Options struct {
	// Table names the sessions table; the user index is Table + "_users".
	// Empty means DefaultTable. It must be 1 to 45 letters, digits and
	// underscores, not start with a digit and not end in "_users" or
	// "_idx"; New rejects any other name. Give each application sharing a
	// database its own table.
	Table string

	// NoCreateTable makes the first operation only check that the tables
	// exist, failing with an error that names them if not, instead of
	// creating them (DSN create_table=false), for a database user without
	// DDL rights.
	NoCreateTable bool

	// SweepInterval is how often the Driver deletes expired rows. Zero
	// means 5 minutes; negative turns the sweep off (call Sweep yourself).
	SweepInterval time.Duration

	// Timeout bounds each operation (each round trip of Scan and Sweep).
	// Zero means 5 seconds; negative means only the caller's context does.
	Timeout time.Duration
}

// The contract this package implements, checked at compile time.
var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.Toucher     = (*Driver)(nil)
	_ driver.Scanner     = (*Driver)(nil)
	_ driver.UserIndexer = (*Driver)(nil)
)

// Driver stores sessions in MySQL or MariaDB. It implements
// driver.Driver, driver.Toucher, driver.Scanner and driver.UserIndexer,
// and is safe for concurrent use by any number of goroutines and
// processes sharing the tables.
//
// Every operation is one prepared statement outside any transaction,
// bounded by Options.Timeout. Its first operation creates the tables, or
// checks them with Options.NoCreateTable; if that fails the operation
// fails, and the next one tries again. Deadlines are computed and
// compared on the server's clock (UTC_TIMESTAMP, whatever the session's
// time_zone). Keys and users must be 1 to 250 bytes from [A-Za-z0-9_-];
// any other is refused with an error before reaching the database. After
// Close every method returns ErrClosed.
type Driver struct {
	s *sqlstore.Store
}

// Load returns the live record under key, its version and its deadline,
// with one SELECT of the row whose expires_ms is still ahead of
// the server's clock. A missing or expired record gives
// (nil, 0, time.Time{}, nil); an error means the server could not answer.
func (d *Driver) Load(ctx context.Context, key string) (record []byte, version uint64, expires time.Time, err error) {
	return d.s.Load(ctx, key)
}

// Save writes record under key with time to live ttl if the stored
// version is version, as one atomic statement: version 0 is an INSERT …
// ON DUPLICATE KEY UPDATE whose assignments keep a live row as it is and
// replace an expired one, any other version an UPDATE … WHERE version =
// version of a live row. Both count changed rows, not matched ones (see
// New). It reports whether it wrote; a
// mismatch is (false, nil). The new version is a random non-zero 63-bit
// number from crypto/rand, other than the one it replaces, so a version
// does not come back after a delete and re-create. With an error the write may or
// may not be committed, and the row holds the old record or the new one,
// never a part of either.
func (d *Driver) Save(ctx context.Context, key string, record []byte, version uint64, ttl time.Duration) (saved bool, err error) {
	return d.s.Save(ctx, key, record, version, ttl)
}

// Touch sets the deadline of the live record under key to the server's
// now plus ttl, with one UPDATE of expires_ms alone: record and version
// stay as they are. A missing or expired record stays absent and Touch
// returns nil.
func (d *Driver) Touch(ctx context.Context, key string, ttl time.Duration) error {
	return d.s.Touch(ctx, key, ttl)
}

// Delete removes the record under key with one DELETE; a missing key is
// not an error. It leaves the user index alone (the core prunes entries
// whose session is gone).
func (d *Driver) Delete(ctx context.Context, key string) error {
	return d.s.Delete(ctx, key)
}

// Scan calls fn with the key of every live session record, in ascending
// byte order, reading 500 keys per SELECT (WHERE session_key > last
// ORDER BY session_key LIMIT 500), each bounded by Options.Timeout. No
// cursor, transaction or lock is held while fn runs, so fn may call the
// Driver's other methods, Delete included. A record live for the whole
// scan is passed exactly once; records saved or deleted meanwhile may or
// may not be. User index rows are never passed. An error of fn stops the
// scan and is returned unchanged; a cancelled ctx stops it with an error
// wrapping ctx.Err().
func (d *Driver) Scan(ctx context.Context, fn func(key string) error) error {
	return d.s.Scan(ctx, fn)
}

// IndexUser adds key to user's index with the given expiry, or replaces
// the expiry of its entry, with one INSERT … ON DUPLICATE KEY UPDATE into
// the "_users" table. The expiry is stored as the server's now plus the
// time left until expires on the application's clock, so every deadline
// is on one clock; an expiry already past stores a dead entry, never
// returned. Concurrent calls for one user are separate rows and all take
// effect. The index has no bound: IndexUser never returns
// driver.ErrUserIndexFull.
func (d *Driver) IndexUser(ctx context.Context, user, key string, expires time.Time) error {
	return d.s.IndexUser(ctx, user, key, expires)
}

// UnindexUser removes key from user's index with one DELETE; a missing
// entry is not an error.
func (d *Driver) UnindexUser(ctx context.Context, user, key string) error {
	return d.s.UnindexUser(ctx, user, key)
}

// UserKeys returns the keys of user's live index entries, in no
// particular order, or an empty (non-nil) slice, with one SELECT on the
// "_users" table's primary key.
func (d *Driver) UserKeys(ctx context.Context, user string) ([]string, error) {
	return d.s.UserKeys(ctx, user)
}

// Sweep deletes the expired rows of both tables now and returns how many
// it deleted. Each batch is one DELETE … ORDER BY expires_ms LIMIT 1000
// on the expiry index, with its own timeout, so requests interleave with
// it; a batch that meets another instance's locks (a lock wait timeout or
// a deadlock) ends the round quietly. The Driver already sweeps every
// Options.SweepInterval; call Sweep yourself when that is negative.
// Expired rows are invisible to the other methods already: sweeping only
// reclaims space.
func (d *Driver) Sweep(ctx context.Context) (deleted int64, err error) {
	return d.s.Sweep(ctx)
}

// Close stops the background sweep, closes the Driver's prepared
// statements, and closes the pool if Open made it (never a *sql.DB given
// to New), waiting no longer than ctx allows. Every later call, Close
// included, returns ErrClosed.
func (d *Driver) Close(ctx context.Context) error {
	return d.s.Close(ctx)
}

// New returns a Driver over a database/sql pool of go-sql-driver/mysql
// that the application holds. The pool must count changed rows (the
// default; not clientFoundRows=true), or a Save with version 0 could
// report a write it did not make. The Driver does not own the pool: Close
// stops the sweep, closes the Driver's prepared statements and leaves the
// pool open. New does not use the pool; the first operation creates the
// tables (see Options.NoCreateTable).
func New(db *sql.DB, opts Options) (*Driver, error) {
	if db == nil {
		return nil, errors.New("mysql: open: nil *sql.DB")
	}
	c := sqlstore.Resolve(opts.Table, opts.NoCreateTable, opts.SweepInterval, opts.Timeout)
	return newDriver(sqlstore.NewSQLDB(db, false), c)
}

func openConfig(cfg *mysql.Config, o sqlstore.Options) (*Driver, error) {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, driver.ScrubError(fmt.Errorf("mysql: connector: %w", err), cfg.Passwd)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return newDriver(sqlstore.NewSQLDB(db, true), o.Config())
}

func newDriver(db sqlstore.DB, c sqlstore.Config) (*Driver, error) {
	c.ErrClosed = ErrClosed
	s, err := sqlstore.New(db, dialect, c)
	if err != nil {
		db.Close() // the pool too, if the Driver was to own it
		return nil, err
	}
	return &Driver{s: s}, nil
}

// dialect is MySQL's (and MariaDB's) SQL.
var dialect = sqlstore.Dialect{
	Name:       "mysql",
	Statements: statements,
	SweepConflict: func(err error) bool {
		var me *mysql.MySQLError
		// ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK
		return errors.As(err, &me) && (me.Number == 1205 || me.Number == 1213)
	},
}

// now is the server's clock in Unix milliseconds, fixed for a statement
// and independent of the session's time_zone.
const now = "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(3)) DIV 1000)"

// schemaSessions and schemaUsers create the two tables with their
// indexes inline ({T}, {U}, {TI} and {UI} stand for the quoted names).
// The package comment prints them for the default table name, and
// TestDocSchema keeps the two equal.
const (
	schemaSessions = `CREATE TABLE IF NOT EXISTS {T} (
    session_key VARBINARY(250) NOT NULL,
    data        MEDIUMBLOB NOT NULL,
    version     BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    PRIMARY KEY (session_key),
    INDEX {TI} (expires_ms)
) ENGINE=InnoDB`
	schemaUsers = `CREATE TABLE IF NOT EXISTS {U} (
    user_key    VARBINARY(250) NOT NULL,
    session_key VARBINARY(250) NOT NULL,
    expires_ms  BIGINT NOT NULL,
    PRIMARY KEY (user_key, session_key),
    INDEX {UI} (expires_ms)
) ENGINE=InnoDB`
)

func quote(name string) string { return "`" + name + "`" }

// statements builds the SQL for a sessions table t and its user index u.
func statements(t, u string) sqlstore.Statements {
	r := strings.NewReplacer("{T}", quote(t), "{U}", quote(u), "{now}", now,
		"{TI}", quote(t+"_expires_idx"), "{UI}", quote(u+"_expires_idx"))
	sql := func(s string) string { return r.Replace(s) }
	// expired is the condition of the ON DUPLICATE KEY UPDATE
	// assignments. They run left to right, each seeing the columns the
	// ones before it changed, so expires_ms is assigned last.
	const expired = "expires_ms <= {now}"
	return sqlstore.Statements{
		Schema: []string{sql(schemaSessions), sql(schemaUsers)},
		Check: []string{
			sql(`SELECT session_key, data, version, expires_ms FROM {T} WHERE 1 = 0`),
			sql(`SELECT user_key, session_key, expires_ms FROM {U} WHERE 1 = 0`),
		},
		Load: sql(`SELECT data, version, expires_ms FROM {T} WHERE session_key = ? AND expires_ms > {now}`),
		Create: sql(`INSERT INTO {T} (session_key, data, version, expires_ms) VALUES (?, ?, ?, {now} + ?)
ON DUPLICATE KEY UPDATE
data = IF(` + expired + `, VALUES(data), data),
version = IF(` + expired + `, VALUES(version), version),
expires_ms = IF(` + expired + `, VALUES(expires_ms), expires_ms)`),
		Update: sql(`UPDATE {T} SET data = ?, version = ?, expires_ms = {now} + ?
WHERE session_key = ? AND version = ? AND expires_ms > {now}`),
		Touch:    sql(`UPDATE {T} SET expires_ms = {now} + ? WHERE session_key = ? AND expires_ms > {now}`),
		Delete:   sql(`DELETE FROM {T} WHERE session_key = ?`),
		ScanPage: sql(`SELECT session_key FROM {T} WHERE session_key > ? AND expires_ms > {now} ORDER BY session_key LIMIT ?`),
		Index: sql(`INSERT INTO {U} (user_key, session_key, expires_ms) VALUES (?, ?, {now} + ?)
ON DUPLICATE KEY UPDATE expires_ms = VALUES(expires_ms)`),
		Unindex:  sql(`DELETE FROM {U} WHERE user_key = ? AND session_key = ?`),
		UserKeys: sql(`SELECT session_key FROM {U} WHERE user_key = ? AND expires_ms > {now}`),
		Sweep: []string{
			sql(`DELETE FROM {T} WHERE expires_ms <= {now} ORDER BY expires_ms, session_key LIMIT ?`),
			sql(`DELETE FROM {U} WHERE expires_ms <= {now} ORDER BY expires_ms, user_key, session_key LIMIT ?`),
		},
	}
}
