// Package postgres is the session storage driver for PostgreSQL, built on
// github.com/jackc/pgx/v5 (pgxpool). Import it for its side effect to
// make the postgres:// and postgresql:// DSN schemes available:
//
//	import _ "github.com/ginkit/sessions/drivers/postgres"
//
//	m, err := sessions.NewManager(sessions.Config{DSN: "postgres://app:pw@db:5432/app"})
//
// or build a Driver from a pool the application already holds with New.
//
// # Storage
//
// Sessions live in one table (Options.Table, DSN table=, by default
// ginkit_sessions) and the per-user index in a second one named after it
// with "_users" appended. Both are created on first use unless
// create_table=false, in a transaction serialised by
// pg_advisory_xact_lock, so several instances starting at once against a
// fresh database do not race on PostgreSQL's catalog. The schema, as the
// Driver runs it for the default table name (a DBA may run the same
// statements by hand):
//
//	CREATE TABLE IF NOT EXISTS "ginkit_sessions" (
//	    session_key text COLLATE "C" PRIMARY KEY,
//	    data        bytea  NOT NULL,
//	    version     bigint NOT NULL,
//	    expires_ms  bigint NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS "ginkit_sessions_expires_idx" ON "ginkit_sessions" (expires_ms);
//	CREATE TABLE IF NOT EXISTS "ginkit_sessions_users" (
//	    user_key    text COLLATE "C" NOT NULL,
//	    session_key text COLLATE "C" NOT NULL,
//	    expires_ms  bigint NOT NULL,
//	    PRIMARY KEY (user_key, session_key)
//	);
//	CREATE INDEX IF NOT EXISTS "ginkit_sessions_users_expires_idx" ON "ginkit_sessions_users" (expires_ms);
//
// The driver's user needs SELECT, INSERT, UPDATE and DELETE on both
// tables (and CREATE on the schema unless create_table=false).
//
// # Operations
//
// Every operation is one statement, with no explicit row lock and no
// read-modify-write transaction; pgx prepares and caches each statement
// per connection. Load is one SELECT of a live row. A Save with version 0 is
// one INSERT … ON CONFLICT (session_key) DO UPDATE … WHERE the stored
// row has expired, so it creates a record or replaces an expired one and
// leaves a live one alone; a Save with a version is one UPDATE … WHERE
// version = $old. Touch updates only the deadline. Scan pages through the
// keys in order (WHERE session_key > $last ORDER BY session_key LIMIT
// 500) without holding a cursor.
//
// # Pipelining
//
// The statements of one session row (Load, Save, Touch, Delete) that
// concurrent requests issue while the driver's pipelines are busy go to
// PostgreSQL together, in one round trip (a pgx.Batch) and one implicit
// transaction, reads and writes apart; a batch of writes is committed by
// one flush of the write-ahead log and takes its rows' locks in key
// order, so batches cannot deadlock. Each statement's result is what it
// would have been alone: if PostgreSQL refuses any statement of a batch
// of writes, nothing of the batch is committed and each of its writes is
// sent again on its own. A lone statement is sent at once, alone; nothing
// waits to fill a batch. Options.Pipelines (DSN pipelines, default 2)
// sets how many connections carry batches for reads, and as many for
// writes; pipelines=0 sends every statement on its own. See pipeline.go
// for the details.
//
// Deadlines are bigint Unix milliseconds that PostgreSQL computes from
// its own clock (statement_timestamp()) plus the time to live, and every
// comparison with "now" uses that clock too, so application servers with
// skewed clocks agree on what has expired; no time-zone-dependent type is
// involved. Versions are random non-zero 63-bit numbers, so they never
// repeat after a delete and re-create.
//
// Expired rows are never returned. Every sweep_interval (5 minutes by
// default) each Driver deletes them in batches of 1000 rows, one
// DELETE … WHERE session_key IN (SELECT … LIMIT 1000 FOR UPDATE SKIP
// LOCKED) per batch, so the sweeps of several instances skip each other's
// rows instead of waiting, and requests interleave with the batches.
//
// # PgBouncer
//
// Behind PgBouncer in transaction pooling mode, add
// default_query_exec_mode=simple_protocol (or exec) to the DSN, since
// prepared statements do not survive a change of server connection
// there; every operation still takes one round trip (or a share of one,
// in a batch). In statement pooling mode, which refuses transactions of
// several statements, add pipelines=0 as well.
package postgres
