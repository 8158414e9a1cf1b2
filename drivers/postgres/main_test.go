package postgres_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions/drivers/postgres"
	"github.com/ginkit/sessions/internal/testserver"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	code := m.Run()
	testserver.StopShared()
	os.Exit(code)
}

var tableSeq atomic.Int64

// freshTable returns a table name no other test of this run uses.
func freshTable() string {
	return fmt.Sprintf("t%d_%d", os.Getpid(), tableSeq.Add(1))
}

// dsnFor returns a DSN for the shared server's postgres database, with
// the given options (table, sweep_interval, …).
func dsnFor(t testing.TB, query string) string {
	t.Helper()
	return testserver.SharedPostgres(t).DSN("postgres", query)
}

// openDSN opens a driver from dsn with postgres.Open and closes it when
// the test ends.
func openDSN(t testing.TB, dsn string) *postgres.Driver {
	t.Helper()
	return testserver.OpenURL(t, postgres.Open, dsn)
}
