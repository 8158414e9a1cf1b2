package mysql_test

import (
	"context"
	"database/sql"
	"net/url"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/drivers/mysql"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/sessionstest"
)

func TestConformance(t *testing.T) {
	dsn := dsnFor(t, "table="+freshTable())
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		u, _ := url.Parse(dsn)
		d, err := mysql.Open(u)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{MaxRecord: 1<<20 + 1024})
}

// sharedPool opens a database/sql pool of the application's own on the
// shared database, closed when the test ends.
func sharedPool(t *testing.T) *sql.DB {
	t.Helper()
	u, _ := url.Parse(dsnFor(t, ""))
	cfg := gomysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	cfg.DBName = u.Path[1:]
	c, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConformanceNew runs the suite on Drivers made by New from a pool
// the test holds: Close leaves the pool open.
func TestConformanceNew(t *testing.T) {
	db := sharedPool(t)
	table := freshTable()
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := mysql.New(db, mysql.Options{Table: table, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{})
	if err := db.Ping(); err != nil {
		t.Fatalf("the pool after the Drivers were closed: %v", err)
	}
}

// middlewareExpiry is the suite's slowExpiry: each subtest opens a new
// Driver, whose first request also connects and prepares its statements,
// and under -race on a loaded two-core machine that can take a good part
// of the suite's default 300ms, which its lifetime tests count from the
// first response.
const middlewareExpiry = time.Second

func TestMiddleware(t *testing.T) {
	dsn := dsnFor(t, "table="+freshTable())
	suite.Middleware(t, func(t *testing.T) sessions.Driver { return openDSN(t, dsn) }, middlewareExpiry)
}

func TestUsers(t *testing.T) {
	suite.Users(t, func(t *testing.T) func() sessions.Driver {
		dsn := dsnFor(t, "table="+freshTable())
		return func() sessions.Driver { return openDSN(t, dsn) }
	})
}

// TestRegistry opens both schemes through the registry, as SESSION_DSN
// would, after the package's blank import.
func TestRegistry(t *testing.T) {
	for _, scheme := range []string{"mysql", "mariadb", "MariaDB"} {
		f, ok := driver.Lookup(scheme)
		if !ok {
			t.Fatalf("scheme %q is not registered", scheme)
		}
		u, _ := url.Parse(dsnFor(t, "table="+freshTable()))
		u.Scheme = map[string]string{"MariaDB": "mariadb"}[scheme]
		if u.Scheme == "" {
			u.Scheme = scheme
		}
		d, err := f(u)
		if err != nil {
			t.Fatalf("%s: %v", scheme, err)
		}
		ctx := context.Background()
		if ok, err := d.Save(ctx, sessionstest.Key(t), []byte("x"), 0, time.Minute); err != nil || !ok {
			t.Errorf("%s: Save = %v, %v", scheme, ok, err)
		}
		if err := d.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	d, err := sessions.Open(dsnFor(t, "table="+freshTable()))
	if err != nil {
		t.Fatalf("sessions.Open: %v", err)
	}
	if _, ok := d.(*mysql.Driver); !ok {
		t.Errorf("sessions.Open returned a %T", d)
	}
	_ = d.Close(context.Background())
}
