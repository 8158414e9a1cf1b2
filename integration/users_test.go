package integration

import (
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/internal/testserver"
)

// TestUsersMemcachedPool runs the per-user suite on a pool of two
// memcached servers, which spread a user's index record and their
// sessions over the nodes by key: a revocation through one Manager still
// ends the session for requests served by the other. Every built-in
// driver runs the suite on one server in the root package
// (drivers_test.go).
func TestUsersMemcachedPool(t *testing.T) {
	suite.Users(t, func(t *testing.T) func() sessions.Driver {
		a1, _ := testserver.StartMemcached(t)
		a2, _ := testserver.StartMemcached(t)
		dsn := memcachedDSN(a1, a2)
		return func() sessions.Driver { return openDriver(t, dsn) }
	})
}
