package sqlstore

import "context"

// DB is what a Store needs of a connection pool. The PostgreSQL driver
// adapts a pgxpool.Pool to it, the MySQL and SQLite drivers use SQLDB
// around a database/sql pool. Every method is one round trip on one
// pooled connection, outside any transaction, and safe for concurrent use.
type DB interface {
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)

	// QueryRow runs a query that returns at most one row and scans that
	// row into dest. It reports false, and scans nothing, if there is no
	// row.
	QueryRow(ctx context.Context, query string, args []any, dest ...any) (found bool, err error)

	// QueryStrings runs a query that returns one text column and returns
	// the values of every row.
	QueryStrings(ctx context.Context, query string, args ...any) ([]string, error)

	// Close releases what the adapter holds: its prepared statements,
	// and the pool if the adapter owns it. A Store calls it once, from
	// Close.
	Close()
}

// RowDB is an optional interface of a DB that can do better with the
// statements that touch one session row (Load, Create, Update, Touch and
// Delete) when it knows that row's key: the PostgreSQL driver sends the
// ones that arrive together in one round trip (see its pipeline.go), and
// orders the writes among them by key. A Store calls these methods, when
// its DB has them, for exactly those statements, with the key they
// concern; every other statement goes through DB. Their results must be
// exactly those of Exec and QueryRow: in particular, a positive row count
// means the write is committed.
type RowDB interface {
	DB

	// ExecRow is Exec of a statement that changes at most the row of key.
	ExecRow(ctx context.Context, key, query string, args ...any) (int64, error)

	// QueryRowOf is QueryRow of a query that reads at most the row of key.
	QueryRowOf(ctx context.Context, key, query string, args []any, dest ...any) (found bool, err error)
}

// Statements is the SQL of one dialect for one pair of tables. The table
// names in it are validated and quoted by the dialect. Every statement is
// a single statement that runs on its own (autocommit): no transaction and
// no explicit row lock. "now" below is the database's clock in Unix
// milliseconds, computed in the statement itself, and every ttl argument
// is a number of milliseconds (int64) that the statement adds to it, so
// that all expiries are in the database clock's terms. Keys are compared
// as bytes.
//
// The arguments of each statement, in the order the engine passes them:
type Statements struct {
	// Schema creates the tables and indexes if they do not exist, one
	// element per Exec (no arguments). It must be safe when several
	// processes run it at once against a fresh database.
	Schema []string

	// Check is one query per table (no arguments, no rows expected) that
	// fails if the table is missing; it replaces Schema when the tables
	// are not to be created.
	Check []string

	// Load (key) returns the live record's data, version and deadline in
	// Unix milliseconds, or no row.
	Load string

	// Create (key, data, version, ttl) inserts a record, or replaces one
	// whose deadline has passed, in one statement, and changes no row if
	// a live record exists. Any positive row count means it wrote.
	Create string

	// Update (data, new version, ttl, key, old version) rewrites a live
	// record whose version is the old one. Any positive row count means it
	// wrote.
	Update string

	// Touch (ttl, key) sets a live record's deadline to now + ttl and
	// changes nothing else.
	Touch string

	// Delete (key) removes a record.
	Delete string

	// ScanPage (after, limit) returns the keys of live records greater
	// than after, in ascending byte order, at most limit of them.
	ScanPage string

	// Index (user, key, ttl) adds or replaces the user index entry (user,
	// key) with the deadline now + ttl.
	Index string

	// Unindex (user, key) removes a user index entry.
	Unindex string

	// UserKeys (user) returns the keys of the user's live index entries.
	UserKeys string

	// Sweep (limit) are the statements that each delete at most limit
	// expired rows of one table, returning the count: sessions first, then
	// the user index. Two processes may run them at once.
	Sweep []string
}

// Dialect is what differs between databases: the SQL text, built for a
// pair of table names, and the quirks the engine asks about.
type Dialect struct {
	// Name is the driver's name, the prefix of every error ("postgres").
	Name string

	// Statements returns the SQL for the sessions table and the user
	// index table, whose names have already been validated by ValidTable.
	Statements func(sessions, users string) Statements

	// SweepConflict reports whether an error of a sweep statement means
	// that someone else holds the rows (a lock timeout, a deadlock, a busy
	// database): the sweep then ends its round quietly, leaving the rest
	// to the next one. Nil means no error is such a conflict.
	SweepConflict func(error) bool
}
