package sqlite_test

import (
	"database/sql"
	"net/url"
	"testing"

	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
)

// rowCounter returns a function that counts the rows of the sessions
// table in the file of dsn, expired or not.
func rowCounter(t *testing.T, dsn string) func(t *testing.T) int {
	u, _ := url.Parse(dsn)
	db, err := sql.Open("sqlite", "file:"+u.Path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return func(t *testing.T) int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ginkit_sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

func TestSweep(t *testing.T) {
	dsn := fileDSN(t, "sweep_interval=-1s")
	sqltest.SweepExpired(t, func(t *testing.T) sqltest.Sweeper { return openDSN(t, dsn) }, rowCounter(t, dsn))
}

func TestBackgroundSweep(t *testing.T) {
	dsn := fileDSN(t, "sweep_interval=100ms")
	sqltest.BackgroundSweep(t, func(t *testing.T) sqltest.Sweeper { return openDSN(t, dsn) }, rowCounter(t, dsn))
}
