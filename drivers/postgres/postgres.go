package postgres

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/internal/sqlstore"
)

func init() {
	open := func(u *url.URL) (driver.Driver, error) { return Open(u) }
	driver.Register("postgres", open)
	driver.Register("postgresql", open)
}

// DefaultTable is the sessions table used when Options.Table is empty or
// the DSN has no table option; the user index is DefaultTable + "_users".
const DefaultTable = sqlstore.DefaultTable

// ErrClosed is returned by every method of a Driver after Close.
var ErrClosed = errors.New("postgres: driver closed")

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

	// Pipelines is the number of connections that carry the statements
	// of one session row (load, save, touch, delete) in batches, for
	// reads and as many again for writes (DSN pipelines). Statements that
	// concurrent requests issue while these connections are busy go to
	// PostgreSQL together: one round trip, one transaction, and for
	// writes one flush of the write-ahead log, with the results of each
	// exactly as if it had been sent alone (see pipeline.go). Zero means
	// DefaultPipelines; negative sends every statement on its own, as is
	// needed behind a pooler that refuses transactions of several
	// statements (PgBouncer in statement mode). More pipelines let one
	// instance keep more of the database's cores busy, at the price of
	// smaller batches.
	Pipelines int
}

// DefaultPipelines is the number of pipelines for reads, and for writes,
// when Options.Pipelines is zero or the DSN has no pipelines option.
const DefaultPipelines = 2

// pipelines resolves Options.Pipelines.
func pipelines(n int) int {
	switch {
	case n == 0:
		return DefaultPipelines
	case n < 0:
		return 0
	}
	return n
}

// The contract this package implements, checked at compile time.
var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.Toucher     = (*Driver)(nil)
	_ driver.Scanner     = (*Driver)(nil)
	_ driver.UserIndexer = (*Driver)(nil)
)

// Driver stores sessions in PostgreSQL. It implements driver.Driver,
// driver.Toucher, driver.Scanner and driver.UserIndexer, and is safe for
// concurrent use by any number of goroutines and processes sharing the
// tables.
//
// Every operation is one statement outside any explicit transaction
// (or one statement of a pipelined batch, see Options.Pipelines), bounded
// by Options.Timeout. Its first operation creates the tables, or checks
// them with Options.NoCreateTable; if that fails the operation fails, and
// the next one tries again. Deadlines are computed and compared on
// PostgreSQL's clock. Keys and users must be 1 to 250 bytes from
// [A-Za-z0-9_-]; any other is refused with an error before reaching the
// database. After Close every method returns ErrClosed.
type Driver struct {
	s *sqlstore.Store
}

// Load returns the live record under key, its version and its deadline,
// with one SELECT of the row whose expires_ms is still ahead of
// PostgreSQL's clock. A missing or expired record gives
// (nil, 0, time.Time{}, nil); an error means PostgreSQL could not answer.
func (d *Driver) Load(ctx context.Context, key string) (record []byte, version uint64, expires time.Time, err error) {
	return d.s.Load(ctx, key)
}

// Save writes record under key with time to live ttl if the stored
// version is version, as one atomic statement: version 0 is an INSERT …
// ON CONFLICT (session_key) DO UPDATE … WHERE the stored row has expired
// (so a live record is never overwritten), any other version an UPDATE …
// WHERE version = version of a live row. It reports whether it wrote; a
// mismatch is (false, nil). The new version is a random non-zero 63-bit
// number from crypto/rand, other than the one it replaces, so a version
// does not come back after a delete and re-create. With an error the write may or
// may not be committed, and the row holds the old record or the new one,
// never a part of either.
func (d *Driver) Save(ctx context.Context, key string, record []byte, version uint64, ttl time.Duration) (saved bool, err error) {
	return d.s.Save(ctx, key, record, version, ttl)
}

// Touch sets the deadline of the live record under key to PostgreSQL's
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
// the expiry of its entry, with one INSERT … ON CONFLICT DO UPDATE into
// the "_users" table. The expiry is stored as PostgreSQL's now plus the
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
// it deleted. Each batch is one DELETE of at most 1000 rows chosen with
// FOR UPDATE SKIP LOCKED, with its own timeout, so requests interleave
// with it and several instances sweeping at once skip each other's rows;
// a lock conflict ends the round quietly. The Driver already sweeps every
// Options.SweepInterval; call Sweep yourself when that is negative.
// Expired rows are invisible to the other methods already: sweeping only
// reclaims space.
func (d *Driver) Sweep(ctx context.Context) (deleted int64, err error) {
	return d.s.Sweep(ctx)
}

// Close stops the background sweep, lets the pipelines finish the batches
// they hold, and closes the pool if Open made it (never a pool given to
// New), waiting no longer than ctx allows. Every later call, Close
// included, returns ErrClosed.
func (d *Driver) Close(ctx context.Context) error {
	return d.s.Close(ctx)
}

// New returns a Driver over a pool the application holds. The Driver
// does not own the pool: Close stops the sweep and marks the Driver
// closed, and leaves the pool open. New does not use the pool; the first
// operation creates the tables (see Options.NoCreateTable). It fails
// only for a nil pool or an invalid table name.
func New(pool *pgxpool.Pool, opts Options) (*Driver, error) {
	if pool == nil {
		return nil, errors.New("postgres: open: nil pool")
	}
	c := sqlstore.Resolve(opts.Table, opts.NoCreateTable, opts.SweepInterval, opts.Timeout)
	return newDriver(newPgxDB(pool, false, pipelines(opts.Pipelines)), c)
}

func newDriver(db sqlstore.DB, c sqlstore.Config) (*Driver, error) {
	c.ErrClosed = ErrClosed
	s, err := sqlstore.New(db, dialect, c)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Driver{s: s}, nil
}

// pgxDB adapts a pgx pool to sqlstore.DB and sqlstore.RowDB. pgx
// prepares and caches each statement per connection (unless the DSN picks
// another exec mode). With a pipeline, the row statements go through it.
type pgxDB struct {
	pool  *pgxpool.Pool
	owned bool
	pipe  *pipeline // nil: every statement on its own
}

// newPgxDB returns an adapter of pool; owned makes its Close close the
// pool; a positive pipelines sends the row statements through a pipeline
// with that many batches in flight for reads and as many for writes.
func newPgxDB(pool *pgxpool.Pool, owned bool, pipelines int) *pgxDB {
	p := &pgxDB{pool: pool, owned: owned}
	if pipelines > 0 {
		p.pipe = newPipeline(pool, pipelines)
	}
	return p
}

// ExecRow implements sqlstore.RowDB.
func (p *pgxDB) ExecRow(ctx context.Context, key, query string, args ...any) (int64, error) {
	if p.pipe == nil {
		return p.Exec(ctx, query, args...)
	}
	return p.pipe.exec(ctx, key, query, args)
}

// QueryRowOf implements sqlstore.RowDB.
func (p *pgxDB) QueryRowOf(ctx context.Context, key, query string, args []any, dest ...any) (bool, error) {
	if p.pipe == nil {
		return p.QueryRow(ctx, query, args, dest...)
	}
	return p.pipe.queryRow(ctx, key, query, args, dest)
}

// Exec implements sqlstore.DB.
func (p *pgxDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := p.pool.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

// QueryRow implements sqlstore.DB.
func (p *pgxDB) QueryRow(ctx context.Context, query string, args []any, dest ...any) (bool, error) {
	err := p.pool.QueryRow(ctx, query, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// QueryStrings implements sqlstore.DB.
func (p *pgxDB) QueryStrings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := p.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Close implements sqlstore.DB: it stops the pipeline once the batches
// it holds have run, and closes the pool if the Driver owns it.
func (p *pgxDB) Close() {
	if p.pipe != nil {
		p.pipe.close()
	}
	if p.owned {
		p.pool.Close()
	}
}

// dialect is PostgreSQL's SQL.
var dialect = sqlstore.Dialect{
	Name:       "postgres",
	Statements: statements,
	SweepConflict: func(err error) bool {
		var pe *pgconn.PgError
		// lock_not_available, deadlock_detected, serialization_failure
		return errors.As(err, &pe) && (pe.Code == "55P03" || pe.Code == "40P01" || pe.Code == "40001")
	},
}

// now is PostgreSQL's clock in Unix milliseconds, fixed for a statement.
const now = "(floor(extract(epoch from statement_timestamp()) * 1000)::bigint)"

// schemaLock is the pg_advisory_xact_lock key that serialises schema
// creation ("ginkit" in ASCII).
const schemaLock = "112585221892468"

// schemaLockStatement serialises schema creation among instances: it
// runs first, in the implicit transaction of the whole schemaDDL.
const schemaLockStatement = `SELECT pg_advisory_xact_lock(` + schemaLock + `);`

// schemaDDL creates the tables and their indexes ({T}, {U}, {TI} and {UI}
// stand for the quoted names). The package comment prints it for the
// default table name, and TestDocSchema keeps the two equal.
const schemaDDL = `CREATE TABLE IF NOT EXISTS {T} (
    session_key text COLLATE "C" PRIMARY KEY,
    data        bytea  NOT NULL,
    version     bigint NOT NULL,
    expires_ms  bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS {TI} ON {T} (expires_ms);
CREATE TABLE IF NOT EXISTS {U} (
    user_key    text COLLATE "C" NOT NULL,
    session_key text COLLATE "C" NOT NULL,
    expires_ms  bigint NOT NULL,
    PRIMARY KEY (user_key, session_key)
);
CREATE INDEX IF NOT EXISTS {UI} ON {U} (expires_ms);`

func quote(name string) string { return `"` + name + `"` }

// statements builds the SQL for a sessions table t and its user index u.
func statements(t, u string) sqlstore.Statements {
	T, U := quote(t), quote(u)
	r := strings.NewReplacer("{T}", T, "{U}", U, "{now}", now,
		"{TI}", quote(t+"_expires_idx"), "{UI}", quote(u+"_expires_idx"))
	sql := func(s string) string { return r.Replace(s) }
	return sqlstore.Statements{
		// One simple-protocol message: one implicit transaction, so the
		// advisory lock is held until every statement has run.
		Schema: []string{sql(schemaLockStatement + "\n" + schemaDDL)},
		Check: []string{
			sql(`SELECT session_key, data, version, expires_ms FROM {T} WHERE false`),
			sql(`SELECT user_key, session_key, expires_ms FROM {U} WHERE false`),
		},
		Load: sql(`SELECT data, version, expires_ms FROM {T} WHERE session_key = $1 AND expires_ms > {now}`),
		Create: sql(`INSERT INTO {T} AS t (session_key, data, version, expires_ms)
VALUES ($1, $2, $3, {now} + $4::bigint)
ON CONFLICT (session_key) DO UPDATE
SET data = excluded.data, version = excluded.version, expires_ms = excluded.expires_ms
WHERE t.expires_ms <= {now}`),
		Update: sql(`UPDATE {T} SET data = $1, version = $2, expires_ms = {now} + $3::bigint
WHERE session_key = $4 AND version = $5 AND expires_ms > {now}`),
		Touch:    sql(`UPDATE {T} SET expires_ms = {now} + $1::bigint WHERE session_key = $2 AND expires_ms > {now}`),
		Delete:   sql(`DELETE FROM {T} WHERE session_key = $1`),
		ScanPage: sql(`SELECT session_key FROM {T} WHERE session_key > $1 AND expires_ms > {now} ORDER BY session_key LIMIT $2`),
		Index: sql(`INSERT INTO {U} (user_key, session_key, expires_ms) VALUES ($1, $2, {now} + $3::bigint)
ON CONFLICT (user_key, session_key) DO UPDATE SET expires_ms = excluded.expires_ms`),
		Unindex:  sql(`DELETE FROM {U} WHERE user_key = $1 AND session_key = $2`),
		UserKeys: sql(`SELECT session_key FROM {U} WHERE user_key = $1 AND expires_ms > {now}`),
		Sweep: []string{
			sql(`DELETE FROM {T} WHERE session_key IN (
	SELECT session_key FROM {T} WHERE expires_ms <= {now} LIMIT $1 FOR UPDATE SKIP LOCKED
) AND expires_ms <= {now}`),
			sql(`DELETE FROM {U} WHERE (user_key, session_key) IN (
	SELECT user_key, session_key FROM {U} WHERE expires_ms <= {now} LIMIT $1 FOR UPDATE SKIP LOCKED
) AND expires_ms <= {now}`),
		},
	}
}
