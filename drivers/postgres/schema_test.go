package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/postgres"
	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
	"github.com/ginkit/sessions/internal/testserver"
)

// TestSchemaCreatedByManyAtOnce starts eight drivers against a fresh
// database at the same moment: each one's first call creates the tables,
// and all succeed.
func TestSchemaCreatedByManyAtOnce(t *testing.T) {
	srv := testserver.SharedPostgres(t)
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
	sqltest.CreateTableFalse(t, "postgres", d, creator, table, "does not exist")
}

// TestInvalidTable: a table name that is not a plain identifier is
// rejected by Open and New before anything reaches the database.
func TestInvalidTable(t *testing.T) {
	for _, name := range []string{"bad-name", "a b", `a"b`, "x;DROP TABLE y", "1abc", "sessions_users"} {
		u, _ := url.Parse("postgres://127.0.0.1:1/db")
		u.RawQuery = url.Values{"table": {name}}.Encode()
		if _, err := postgres.Open(u); err == nil || !strings.Contains(err.Error(), `option "table"`) {
			t.Errorf("Open(table=%q) = %v; want an error naming the option", name, err)
		}
		pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/db")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.New(pool, postgres.Options{Table: name}); err == nil {
			t.Errorf("New(Table %q) succeeded", name)
		}
		pool.Close()
	}
	if _, err := postgres.New(nil, postgres.Options{}); err == nil {
		t.Error("New(nil pool) succeeded")
	}
}
