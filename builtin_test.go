package sessions_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/file"
	"github.com/ginkit/sessions/drivers/memory"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// openDSN opens a built-in driver through the registry, as SESSION_DSN would.
func openDSN(t *testing.T, dsn string) sessions.Driver {
	t.Helper()
	d, err := sessions.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func fileDSN(t *testing.T) string {
	return (&url.URL{Scheme: "file", Path: t.TempDir()}).String()
}

func TestConformanceMemory(t *testing.T) {
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := sessions.Open("memory://")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{})
}

func TestConformanceFile(t *testing.T) {
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := sessions.Open(fileDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{})
}

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

// Redis and memcached run against real servers that the tests start (the
// integration package runs the middleware suite and the topologies on
// them too). Without the binaries these skip with a message naming them,
// or fail when CI is set.

func TestConformanceRedis(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := sessions.Open("redis://" + addr + "/0")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{})
}

func TestConformanceMemcached(t *testing.T) {
	addr, _ := testserver.StartMemcached(t)
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := sessions.Open("memcached://" + addr + "?timeout=5s")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{ExpiryGranularity: time.Second})
}
