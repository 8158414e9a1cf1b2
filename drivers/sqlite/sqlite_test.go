package sqlite_test

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/drivers/sqlite"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/sessionstest"
)

func TestConformance(t *testing.T) {
	dsn := fileDSN(t, "")
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		u, _ := url.Parse(dsn)
		d, err := sqlite.Open(u)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{MaxRecord: 1<<20 + 1024})
}

// TestConformanceNew runs the suite on Drivers made by New from a pool
// the test holds, of several connections: Close leaves the pool open.
func TestConformanceNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := sqlite.New(db, sqlite.Options{Table: "app_sessions", SweepInterval: -1})
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
	dsn := fileDSN(t, "")
	suite.Middleware(t, func(t *testing.T) sessions.Driver { return openDSN(t, dsn) }, middlewareExpiry)
}

func TestUsers(t *testing.T) {
	suite.Users(t, func(t *testing.T) func() sessions.Driver {
		dsn := fileDSN(t, "")
		return func() sessions.Driver { return openDSN(t, dsn) }
	})
}

// TestRegistry opens the scheme through the registry, as SESSION_DSN
// would, after the package's blank import.
func TestRegistry(t *testing.T) {
	for _, scheme := range []string{"sqlite", "SQLite"} {
		f, ok := driver.Lookup(scheme)
		if !ok {
			t.Fatalf("scheme %q is not registered", scheme)
		}
		u, _ := url.Parse(fileDSN(t, ""))
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
	d, err := sessions.Open(fileDSN(t, ""))
	if err != nil {
		t.Fatalf("sessions.Open: %v", err)
	}
	if _, ok := d.(*sqlite.Driver); !ok {
		t.Errorf("sessions.Open returned a %T", d)
	}
	_ = d.Close(context.Background())
}
