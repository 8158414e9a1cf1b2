package sessions_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/file"
	"github.com/ginkit/sessions/drivers/memory"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// builtinDrivers are the drivers the package registers (builtin.go), each
// reached as an application reaches it: through the registry, by the DSN
// it would put in SESSION_DSN. Redis and memcached run against real
// servers the tests start on loopback (internal/testserver); without the
// binaries those rows skip with a message naming them, or fail when CI is
// set. Their topologies (Cluster, Sentinel, a memcached pool), outages and
// the move between backends are the integration package's.
var builtinDrivers = []struct {
	scheme string
	// store returns the DSN of a new, empty store: for Redis and
	// memcached, on a server it starts for t.
	store func(t *testing.T) string
	// oneInstance: every Open of the DSN is a new, empty store (memory),
	// so application instances that share a store share one driver.
	oneInstance bool
	// parallel: the row runs beside the other parallel rows, after the
	// in-process ones; its time is mostly waiting on its server.
	parallel bool
	// conformance is the row's sessionstest options.
	conformance sessionstest.Options
	// slowExpiry is the shortest lifetime the middleware suite's expiry
	// subtests use (0: the suite's 300ms). Redis gets 1s because it runs
	// beside memcached on a small machine: the absolute-lifetime subtest
	// needs each request to finish within a third of it. memcached counts
	// time to live in whole seconds.
	slowExpiry time.Duration
}{
	{scheme: "memory", store: func(*testing.T) string { return "memory://" }, oneInstance: true},
	{scheme: "file", store: fileDSN},
	{
		scheme: "redis", parallel: true, slowExpiry: time.Second,
		store: func(t *testing.T) string {
			addr, _ := testserver.StartRedis(t)
			return "redis://" + addr + "/0"
		},
	},
	{
		scheme: "memcached", parallel: true, slowExpiry: 2 * time.Second,
		conformance: sessionstest.Options{ExpiryGranularity: time.Second},
		store: func(t *testing.T) string {
			addr, _ := testserver.StartMemcached(t)
			// A 5s socket timeout, not the default 500ms: under -race on
			// a busy machine a round trip can take longer.
			return "memcached://" + addr + "?timeout=5s"
		},
	},
}

// TestDrivers runs every built-in driver through the driver conformance
// suite (sessionstest), the middleware suite (internal/suite: the request
// state machine of session.go and the handler API over it) and the
// per-user suite (two Managers on one store stand for two application
// instances: a revocation done by one ends the session for requests served
// by the other). A failure names the driver and the suite:
// TestDrivers/redis/Middleware/….
func TestDrivers(t *testing.T) {
	for _, d := range builtinDrivers {
		t.Run(d.scheme, func(t *testing.T) {
			if d.parallel {
				t.Parallel()
			}
			t.Run("Conformance", func(t *testing.T) {
				dsn := d.store(t)
				sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
					drv, err := sessions.Open(dsn)
					if err != nil {
						t.Fatal(err)
					}
					return drv // the suite closes it
				}, d.conformance)
			})
			t.Run("Middleware", func(t *testing.T) {
				dsn := d.store(t)
				suite.Middleware(t, func(t *testing.T) sessions.Driver { return openDSN(t, dsn) }, d.slowExpiry)
			})
			t.Run("Users", func(t *testing.T) {
				suite.Users(t, func(t *testing.T) func() sessions.Driver {
					dsn := d.store(t)
					if d.oneInstance {
						drv := openDSN(t, dsn)
						return func() sessions.Driver { return drv }
					}
					return func() sessions.Driver { return openDSN(t, dsn) }
				})
			})
		})
	}
}

// TestBuiltinSchemes: the built-in drivers are registered out of the box,
// and the empty DSN opens the memory driver.
func TestBuiltinSchemes(t *testing.T) {
	got := sessions.Schemes()
	for _, want := range []string{"file", "memcached", "memory", "redis", "rediss"} {
		found := false
		for _, s := range got {
			found = found || s == want
		}
		if !found {
			t.Errorf("scheme %q is not registered out of the box; got %v", want, got)
		}
	}
	d := openDSN(t, "")
	if _, ok := d.(*memory.Driver); !ok {
		t.Errorf("the empty DSN opened %T; want the memory driver", d)
	}
	if _, ok := openDSN(t, fileDSN(t)).(*file.Driver); !ok {
		t.Errorf("file:// did not open the file driver")
	}
}

// openDSN opens a built-in driver through the registry, as SESSION_DSN
// would, and closes it when the test ends.
func openDSN(t *testing.T, dsn string) sessions.Driver {
	t.Helper()
	return testserver.OpenDSN(t, sessions.Open, dsn)
}

// fileDSN returns the DSN of a new, empty file store in a directory the
// test removes.
func fileDSN(t *testing.T) string {
	return (&url.URL{Scheme: "file", Path: t.TempDir()}).String()
}
