package postgres_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/drivers/postgres"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/sessionstest"
)

func TestConformance(t *testing.T) {
	dsn := dsnFor(t, "table="+freshTable())
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		u, _ := url.Parse(dsn)
		d, err := postgres.Open(u)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{MaxRecord: 1<<20 + 1024})
}

// TestConformancePoolerModes runs the suite as behind PgBouncer in
// transaction mode (no prepared statements, arguments interpolated by
// pgx) and in statement mode (no pipelines: every statement alone).
func TestConformancePoolerModes(t *testing.T) {
	for _, query := range []string{"default_query_exec_mode=simple_protocol", "default_query_exec_mode=exec", "pipelines=0"} {
		t.Run(query, func(t *testing.T) {
			dsn := dsnFor(t, query+"&table="+freshTable())
			sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
				u, _ := url.Parse(dsn)
				d, err := postgres.Open(u)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}, sessionstest.Options{})
		})
	}
}

// TestConformanceNew runs the suite on Drivers made by New from a pool
// the test holds: Close leaves the pool open.
func TestConformanceNew(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), dsnFor(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	table := freshTable()
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := postgres.New(pool, postgres.Options{Table: table, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{})
	if err := pool.Ping(context.Background()); err != nil {
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
	for _, scheme := range []string{"postgres", "postgresql", "POSTGRES"} {
		f, ok := driver.Lookup(scheme)
		if !ok {
			t.Fatalf("scheme %q is not registered", scheme)
		}
		u, err := url.Parse(dsnFor(t, "table="+freshTable()))
		if err != nil {
			t.Fatal(err)
		}
		u.Scheme = map[string]string{"POSTGRES": "postgres"}[scheme]
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
	if _, ok := d.(*postgres.Driver); !ok {
		t.Errorf("sessions.Open returned a %T", d)
	}
	_ = d.Close(context.Background())
}
