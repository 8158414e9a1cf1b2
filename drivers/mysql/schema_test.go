package mysql_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/mysql"
	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
	"github.com/ginkit/sessions/internal/testserver"
)

// TestSchemaCreatedByManyAtOnce starts eight drivers against a fresh
// database at the same moment: each one's first call creates the tables,
// and all succeed.
func TestSchemaCreatedByManyAtOnce(t *testing.T) {
	srv := testserver.SharedMariaDB(t)
	dsn := srv.DSN(srv.NewDatabase(t), "")
	sqltest.ConcurrentSchema(t, 8, func(t *testing.T) sessions.Driver { return openDSN(t, dsn) })
}

// TestCreateTableFalse: without the tables, the first call fails with an
// error naming them and create_table=false; once someone creates them,
// the same driver works.
func TestCreateTableFalse(t *testing.T) {
	table := freshTable()
	d := openDSN(t, dsnFor(t, "create_table=false&table="+table))
	creator := openDSN(t, dsnFor(t, "table="+table)) // may create them
	sqltest.CreateTableFalse(t, "mysql", d, creator, table, "doesn't exist")
}

// TestInvalidTable: a table name that is not a plain identifier is
// rejected by Open and New before anything reaches the database.
func TestInvalidTable(t *testing.T) {
	for _, name := range []string{"bad-name", "a b", `a"b`, "x;DROP TABLE y", "1abc", "sessions_users"} {
		u, _ := url.Parse("mysql://127.0.0.1:1/db")
		u.RawQuery = url.Values{"table": {name}}.Encode()
		if _, err := mysql.Open(u); err == nil || !strings.Contains(err.Error(), `option "table"`) {
			t.Errorf("Open(table=%q) = %v; want an error naming the option", name, err)
		}
		if _, err := mysql.New(sharedPool(t), mysql.Options{Table: name}); err == nil {
			t.Errorf("New(Table %q) succeeded", name)
		}
	}
	if _, err := mysql.New(nil, mysql.Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}
