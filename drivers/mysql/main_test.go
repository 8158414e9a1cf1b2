package mysql_test

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions/drivers/mysql"
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

// database is the database the tests of this binary share on the shared
// server, each in its own tables.
var database struct {
	sync.Mutex
	name string
}

// dsnFor returns a DSN for the shared database, with the given options.
func dsnFor(t *testing.T, query string) string {
	t.Helper()
	srv := testserver.SharedMariaDB(t)
	database.Lock()
	defer database.Unlock()
	if database.name == "" {
		database.name = srv.NewDatabase(t)
	}
	return srv.DSN(database.name, query)
}

// openDSN opens a driver from dsn with mysql.Open and closes it when the
// test ends.
func openDSN(t *testing.T, dsn string) *mysql.Driver {
	t.Helper()
	return testserver.OpenURL(t, mysql.Open, dsn)
}
