package mysql_test

import (
	"testing"

	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
)

// rowCounter returns a function that counts the rows of table, expired or
// not, straight from the database.
func rowCounter(t *testing.T, table string) func(t *testing.T) int {
	db := sharedPool(t)
	return func(t *testing.T) int {
		t.Helper()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM `" + table + "`").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

func TestSweep(t *testing.T) {
	table := freshTable()
	dsn := dsnFor(t, "sweep_interval=-1s&table="+table)
	sqltest.SweepExpired(t, func(t *testing.T) sqltest.Sweeper { return openDSN(t, dsn) }, rowCounter(t, table))
}

func TestBackgroundSweep(t *testing.T) {
	table := freshTable()
	dsn := dsnFor(t, "sweep_interval=100ms&table="+table)
	sqltest.BackgroundSweep(t, func(t *testing.T) sqltest.Sweeper { return openDSN(t, dsn) }, rowCounter(t, table))
}
