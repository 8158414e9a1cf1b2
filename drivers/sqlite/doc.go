// Package sqlite is the session storage driver for SQLite, built on
// modernc.org/sqlite (pure Go, no cgo). Import it for its side effect to
// make the sqlite:// DSN scheme available:
//
//	import _ "github.com/ginkit/sessions/drivers/sqlite"
//
//	m, err := sessions.NewManager(sessions.Config{DSN: "sqlite:///var/lib/app/sessions.db"})
//
// or build a Driver from a *sql.DB the application already holds with New.
//
// Like file://, the store is a file on one machine: every process that
// opens the same database file shares the sessions safely (SQLite's own
// file locking), but processes on other machines cannot.
//
// # Storage
//
// Sessions live in one table (Options.Table, DSN table=, by default
// ginkit_sessions) and the per-user index in a second one named after it
// with "_users" appended, created on first use unless create_table=false.
// The schema, as the Driver runs it for the default table name:
//
//	CREATE TABLE IF NOT EXISTS "ginkit_sessions" (
//	    session_key TEXT NOT NULL PRIMARY KEY,
//	    data        BLOB NOT NULL,
//	    version     INTEGER NOT NULL,
//	    expires_ms  INTEGER NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS "ginkit_sessions_expires_idx" ON "ginkit_sessions" (expires_ms);
//	CREATE TABLE IF NOT EXISTS "ginkit_sessions_users" (
//	    user_key    TEXT NOT NULL,
//	    session_key TEXT NOT NULL,
//	    expires_ms  INTEGER NOT NULL,
//	    PRIMARY KEY (user_key, session_key)
//	);
//	CREATE INDEX IF NOT EXISTS "ginkit_sessions_users_expires_idx" ON "ginkit_sessions_users" (expires_ms);
//
// Keys compare as bytes (SQLite's default BINARY collation).
//
// # Operations
//
// Every operation is one prepared statement in autocommit mode: Load one
// SELECT of a live row; a Save with version 0 one INSERT … ON CONFLICT
// (session_key) DO UPDATE … WHERE the stored row has expired (creating a
// record or replacing an expired one, never a live one); a Save with a
// version one UPDATE … WHERE version = ?; Touch an UPDATE of the deadline
// alone. Scan pages through the keys in order without holding a cursor.
// Deadlines are Unix milliseconds from SQLite's clock (unixepoch) plus
// the time to live; versions are random non-zero 63-bit numbers.
//
// Expired rows are never returned. Every sweep_interval (5 minutes by
// default) the Driver deletes them in batches of 1000 rowids, one short
// write per batch, so requests interleave with the sweep.
//
// A Driver made by Open runs the database in WAL mode (readers never wait
// for the writer), with synchronous=NORMAL and a busy timeout, on a pool
// of one connection by default (max_conns): SQLite allows one writer at a
// time, and queueing in the pool is fairer and faster than SQLite's
// busy-wait.
package sqlite
