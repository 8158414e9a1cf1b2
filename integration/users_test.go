package integration

import (
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/internal/testserver"
)

// Two Managers on one backend stand for two application instances: a
// revocation done by one ends the session for requests served by the
// other, through the per-user index kept in Redis or memcached itself.

func TestUsersRedis(t *testing.T) {
	suite.Users(t, func(t *testing.T) func() sessions.Driver {
		addr, _ := testserver.StartRedis(t)
		return func() sessions.Driver { return openDriver(t, "redis://"+addr+"/0") }
	})
}

func TestUsersMemcachedPool(t *testing.T) {
	suite.Users(t, func(t *testing.T) func() sessions.Driver {
		a1, _ := testserver.StartMemcached(t)
		a2, _ := testserver.StartMemcached(t)
		dsn := memcachedDSN(a1, a2)
		return func() sessions.Driver { return openDriver(t, dsn) }
	})
}
