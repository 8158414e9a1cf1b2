package mysql_test

import (
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
	"github.com/ginkit/sessions/internal/testserver"
)

// TestTwoInstances: two Managers over two Drivers on one table, 50
// parallel requests of one session, each setting its own key: all survive.
func TestTwoInstances(t *testing.T) {
	dsn := dsnFor(t, "table="+freshTable())
	sqltest.TwoInstances(t, func(t *testing.T) sessions.Driver { return openDSN(t, dsn) })
}

// TestOutage kills MariaDB under load and starts it again on the same
// port and data: errors while it is down, never a false success, and the
// same Driver serves again afterwards.
func TestOutage(t *testing.T) {
	srv := testserver.StartMariaDB(t)
	dsn := srv.DSN(srv.NewDatabase(t), "connect_timeout=1s&timeout="+sqltest.OutageTimeout.String())
	sqltest.Outage(t, sqltest.Target{
		Open:    func(t *testing.T) sessions.Driver { return openDSN(t, dsn) },
		Stop:    srv.Stop,
		Restart: func(t *testing.T) { srv.Restart(t) },
	})
}

// TestKeysCompareAsBytes: keys differing only in case are two records.
func TestKeysCompareAsBytes(t *testing.T) {
	sqltest.KeysCompareAsBytes(t, openDSN(t, dsnFor(t, "table="+freshTable())))
}
