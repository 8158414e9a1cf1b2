// Package suite holds the Gin middleware test suites that run against
// every driver: the built-in ones (memory, file, Redis, memcached) in the
// root package's drivers_test.go, PostgreSQL, MariaDB and SQLite in their
// own driver packages (drivers/postgres, drivers/mysql, drivers/sqlite).
// It drives a real gin.Engine through net/http/httptest and a real
// driver; Counting only observes calls.
//
// Files: counting.go Counting, the call-counting driver wrapper;
// app.go NewApp, the app-under-test helper every test harness builds on
// (an Env over one driver, its errors, requests and snapshots);
// middleware.go Env, NewEnv and Middleware, the middleware suite;
// outage.go Stream and Call, the outage recorder;
// header.go HeaderClient, a header Manager's API client; watch.go Watch,
// long-lived requests; users.go Backend and Users, the per-user index
// suite; cap.go the per-user cap under a flood of logins; inflight.go
// deletes that win over requests in flight; rotation.go a stale instance
// during key rotation.
package suite

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ginkit/sessions"
)

// Counting wraps a real driver and counts the calls made to it, so tests
// can assert "no store I/O" and "no write". It forwards everything.
type Counting struct {
	sessions.Driver
	Loads, Saves, Deletes, Touches atomic.Int64
}

// Load counts and forwards.
func (c *Counting) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	c.Loads.Add(1)
	return c.Driver.Load(ctx, key)
}

// Save counts and forwards.
func (c *Counting) Save(ctx context.Context, key string, rec []byte, v uint64, ttl time.Duration) (bool, error) {
	c.Saves.Add(1)
	return c.Driver.Save(ctx, key, rec, v, ttl)
}

// Delete counts and forwards.
func (c *Counting) Delete(ctx context.Context, key string) error {
	c.Deletes.Add(1)
	return c.Driver.Delete(ctx, key)
}

// CountingToucher is Counting for a driver that implements Touch.
type CountingToucher struct{ *Counting }

// Touch counts and forwards.
func (c CountingToucher) Touch(ctx context.Context, key string, ttl time.Duration) error {
	c.Touches.Add(1)
	return c.Driver.(sessions.Toucher).Touch(ctx, key, ttl)
}

// Wrap returns a counting driver around d that keeps d's Touch capability.
func Wrap(d sessions.Driver) (sessions.Driver, *Counting) {
	c := &Counting{Driver: d}
	if _, ok := d.(sessions.Toucher); ok {
		return CountingToucher{c}, c
	}
	return c, c
}

// Total returns the number of store calls so far.
func (c *Counting) Total() int64 {
	return c.Loads.Load() + c.Saves.Load() + c.Deletes.Load() + c.Touches.Load()
}
