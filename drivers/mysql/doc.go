// Package mysql is the session storage driver for MySQL and MariaDB,
// built on github.com/go-sql-driver/mysql. Import it for its side effect
// to make the mysql:// and mariadb:// DSN schemes available:
//
//	import _ "github.com/ginkit/sessions/drivers/mysql"
//
//	m, err := sessions.NewManager(sessions.Config{DSN: "mysql://app:pw@db:3306/app"})
//
// or build a Driver from a *sql.DB the application already holds with New.
//
// # Storage
//
// Sessions live in one InnoDB table (Options.Table, DSN table=, by
// default ginkit_sessions) and the per-user index in a second one named
// after it with "_users" appended. Both are created on first use unless
// create_table=false; CREATE TABLE IF NOT EXISTS with the indexes inline
// is safe when several instances start at once. The schema, as the
// Driver runs it for the default table name (a DBA may run the same
// statements by hand):
//
//	CREATE TABLE IF NOT EXISTS `ginkit_sessions` (
//	    session_key VARBINARY(250) NOT NULL,
//	    data        MEDIUMBLOB NOT NULL,
//	    version     BIGINT NOT NULL,
//	    expires_ms  BIGINT NOT NULL,
//	    PRIMARY KEY (session_key),
//	    INDEX `ginkit_sessions_expires_idx` (expires_ms)
//	) ENGINE=InnoDB;
//	CREATE TABLE IF NOT EXISTS `ginkit_sessions_users` (
//	    user_key    VARBINARY(250) NOT NULL,
//	    session_key VARBINARY(250) NOT NULL,
//	    expires_ms  BIGINT NOT NULL,
//	    PRIMARY KEY (user_key, session_key),
//	    INDEX `ginkit_sessions_users_expires_idx` (expires_ms)
//	) ENGINE=InnoDB;
//
// Keys are VARBINARY, so they compare as bytes, never case-insensitively;
// a record holds up to 16 MiB (MEDIUMBLOB), within the server's
// max_allowed_packet. The driver's user needs SELECT, INSERT, UPDATE and
// DELETE on both tables (and CREATE unless create_table=false).
//
// # Operations
//
// Every operation is one prepared statement, outside any transaction,
// with no explicit row lock. Load is one SELECT of a live row. A Save with
// version 0 is one INSERT … ON DUPLICATE KEY UPDATE whose assignments are
// IF(the stored row has expired, new value, old value), with the deadline
// assigned last: it inserts (1 row affected), replaces an expired record
// (2) or changes nothing (0) when a live one exists. A Save with a version
// is one UPDATE … WHERE version = ?. Both rely on MySQL's default of
// counting changed rows, not matched ones: a *sql.DB given to New must
// not set clientFoundRows=true. Touch updates only the deadline. Scan
// pages through the keys in order without holding a cursor.
//
// Deadlines are BIGINT Unix milliseconds that the server computes from
// its own clock (UTC_TIMESTAMP, independent of any time zone setting)
// plus the time to live, and every comparison with "now" uses that clock,
// so application servers with skewed clocks agree on what has expired.
// Versions are random non-zero 63-bit numbers, so they never repeat after
// a delete and re-create.
//
// Expired rows are never returned. Every sweep_interval (5 minutes by
// default) each Driver deletes them in batches of 1000, one DELETE …
// WHERE expires_ms <= now ORDER BY expires_ms LIMIT 1000 per batch on the
// expiry index; a batch that meets another instance's locks (a lock wait
// timeout or a deadlock) ends that round quietly.
package mysql
