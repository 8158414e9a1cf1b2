package mysql_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

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
	ctx := context.Background()
	_, _, _, err := d.Load(ctx, "k")
	if err == nil {
		t.Fatal("Load with create_table=false and no table succeeded")
	}
	for _, want := range []string{"mysql: load: ", table, "create_table=false", "doesn't exist"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := d.Save(ctx, "k", []byte("x"), 0, time.Hour); err == nil || !strings.HasPrefix(err.Error(), "mysql: save: ") {
		t.Errorf("Save = %v; want a mysql: save: error", err)
	}
	// Another instance, allowed to, creates the tables.
	creator := openDSN(t, dsnFor(t, "table="+table))
	if _, _, _, err := creator.Load(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.Save(ctx, "k", []byte("x"), 0, time.Hour); err != nil || !ok {
		t.Fatalf("Save once the tables exist = %v, %v", ok, err)
	}
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
