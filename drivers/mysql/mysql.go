package mysql

import (
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
// Its methods (Load, Save, Touch, Delete, Scan, IndexUser, UnindexUser,
// UserKeys, Sweep and Close) are the shared SQL engine's, the same for
// the three SQL drivers: each operation is one statement outside any
// transaction, with the contract's guarantees (package driver); Sweep
// deletes expired rows now, in batches of at most 1000, and Close stops
// the background sweep, closes a pool the Driver opened itself, and makes
// later calls return ErrClosed.
type Driver struct {
	*sqlstore.Store
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
		return nil, sqlstore.Scrub(fmt.Errorf("mysql: connector: %w", err), cfg.Passwd)
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
	return &Driver{Store: s}, nil
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
		Schema: []string{
			sql(`CREATE TABLE IF NOT EXISTS {T} (
	session_key VARBINARY(250) NOT NULL,
	data MEDIUMBLOB NOT NULL,
	version BIGINT NOT NULL,
	expires_ms BIGINT NOT NULL,
	PRIMARY KEY (session_key),
	INDEX {TI} (expires_ms)
) ENGINE=InnoDB`),
			sql(`CREATE TABLE IF NOT EXISTS {U} (
	user_key VARBINARY(250) NOT NULL,
	session_key VARBINARY(250) NOT NULL,
	expires_ms BIGINT NOT NULL,
	PRIMARY KEY (user_key, session_key),
	INDEX {UI} (expires_ms)
) ENGINE=InnoDB`),
		},
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
