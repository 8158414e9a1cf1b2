package sqlite_test

import (
	"context"
	"database/sql"
	"net/url"
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
)

// TestTwoInstances: two Managers over two Drivers (two pools) on one
// file, 50 parallel requests of one session, each setting its own key:
// all survive.
func TestTwoInstances(t *testing.T) {
	dsn := fileDSN(t, "")
	sqltest.TwoInstances(t, func(t *testing.T) sessions.Driver { return openDSN(t, dsn) })
}

// TestLockedDatabase is SQLite's outage: another process holds the write
// lock (BEGIN EXCLUSIVE) for a while. Writes then fail after the busy
// timeout, never with a false success, and succeed again once the lock is
// released, with the same Driver.
func TestLockedDatabase(t *testing.T) {
	dsn := fileDSN(t, "busy_timeout=200ms&timeout="+sqltest.OutageTimeout.String())
	u, _ := url.Parse(dsn)
	other, err := sql.Open("sqlite", "file:"+u.Path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	var conn *sql.Conn
	sqltest.Outage(t, sqltest.Target{
		Open: func(t *testing.T) sessions.Driver { return openDSN(t, dsn) },
		Stop: func() {
			var err error
			if conn, err = other.Conn(context.Background()); err != nil {
				t.Error(err)
				return
			}
			if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
				t.Error(err)
			}
		},
		Restart: func(t *testing.T) {
			if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
				t.Fatal(err)
			}
			conn.Close()
		},
	})
}

// TestKeysCompareAsBytes: keys differing only in case are two records.
func TestKeysCompareAsBytes(t *testing.T) {
	sqltest.KeysCompareAsBytes(t, openDSN(t, fileDSN(t, "")))
}
