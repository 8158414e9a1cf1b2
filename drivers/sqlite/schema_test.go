package sqlite_test

import (
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/sqlite"
	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
)

// TestSchemaCreatedByManyAtOnce starts eight drivers (eight pools) on a
// fresh file at the same moment: each one's first call switches the file
// to WAL mode and creates the tables, and all succeed.
func TestSchemaCreatedByManyAtOnce(t *testing.T) {
	dsn := fileDSN(t, "")
	sqltest.ConcurrentSchema(t, 8, func(t *testing.T) sessions.Driver { return openDSN(t, dsn) })
}

// TestCreateTableFalse: without the tables, the first call fails with an
// error naming them and create_table=false; once someone creates them,
// the same driver works.
func TestCreateTableFalse(t *testing.T) {
	dsn := fileDSN(t, "table=app")
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("create_table", "false")
	u.RawQuery = q.Encode()
	d := openDSN(t, u.String())
	creator := openDSN(t, dsn) // may create them
	sqltest.CreateTableFalse(t, "sqlite", d, creator, `"app"`, "no such table")
}

// TestInvalidTable: a table name that is not a plain identifier is
// rejected by Open and New.
func TestInvalidTable(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"bad-name", "a b", `a"b`, "x;DROP TABLE y", "1abc", "sessions_users"} {
		u := url.URL{Scheme: "sqlite", Path: "/tmp/x.db", RawQuery: url.Values{"table": {name}}.Encode()}
		if _, err := sqlite.Open(&u); err == nil || !strings.Contains(err.Error(), `option "table"`) {
			t.Errorf("Open(table=%q) = %v; want an error naming the option", name, err)
		}
		if _, err := sqlite.New(db, sqlite.Options{Table: name}); err == nil {
			t.Errorf("New(Table %q) succeeded", name)
		}
	}
	if _, err := sqlite.New(nil, sqlite.Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}
