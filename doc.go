// Package sessions is a Gin middleware for server-side sessions whose
// storage backend is chosen at run time by a URL, so moving from one box to
// a load-balanced fleet is a configuration change:
//
//	SESSION_DSN=memory://                       in-process (the default)
//	SESSION_DSN=file:///var/lib/app/sessions    one file per session
//	SESSION_DSN=redis://host:6379/0             Redis, Cluster, Sentinel; rediss:// for TLS
//	SESSION_DSN=memcached://h1:11211,h2:11211   a memcached pool
//
//	router.Use(sessions.FromEnv())
//
// Handlers use typed helpers on the *gin.Context: Get[T], GetOr, Set, Put,
// Pop, Has, Keys, Delete, Clear, ID, Refresh (a new ID after login),
// Destroy (logout) and Save.
//
// # Layout
//
// This package is the public API: the Manager, its configuration, the
// registry of DSN schemes, the Gin middleware and the handler helpers.
// Every store operation is done by one engine, internal/core, which the
// middleware, the gin-contrib adapter (package contrib) and the admin
// operations (the move between backends, count, purge, used by
// cmd/sessionctl) call and whose outcomes they act on. The storage
// contract lives in package driver, as database/sql's lives in
// database/sql/driver; each driver is a package under drivers/, and the
// conformance suite for drivers is package sessionstest.
//
// # Files
//
//	manager.go     Manager: NewManager, Config, Backend, Close
//	config.go      Config, DefaultConfig, ConfigFromEnv and the SESSION_ variables
//	registry.go    Register, Open, Schemes, RedactDSN
//	builtin.go     the built-in drivers, registered under their schemes
//	driver.go      aliases of the contract (Driver, Toucher, Scanner, UserIndexer)
//	gin.go         the Gin side: FromEnv, Handler (the middleware), the request's session handle
//	session.go     the per-request state machine over the engine
//	writer.go      the response writer that commits before the headers go out
//	handlers.go    the handler API: Get, Set, Put, Pop, Delete, Refresh, Destroy, …
//	flash.go       flash messages
//	csrf.go        CSRF and CSRFToken: cross-site request forgery protection
//	users.go       per-user sessions: SetUser, UserSessions, RevokeUser, …
//	watch.go       Watch: long-lived requests (WebSocket, SSE) follow their session
//	migration.go   MovePrevious, CountSessions, PurgeSessions
//	snapshot.go    Snapshot: a read-only copy of one session
//	observe.go     Stats, the Observer hook and ErrorType
//	transport.go   where the token travels: the cookie, or a header (Config.Header)
//	cookie.go      the session cookie on the wire
//	codec.go       Codec and JSONCodec (codec_fast.go: its fast paths)
//	errors.go      the package's error values
//
// Among the tests, drivers_test.go runs every built-in driver (memory,
// file, Redis and memcached against real servers) through the driver
// conformance suite (package sessionstest) and the middleware and per-user
// suites; gin_test.go measures the middleware and tests FromEnv.
//
// # Guarantees
//
// A request that never calls a helper does no store I/O and sets no
// cookie. A session is written only when something changed, or touched
// when its idle deadline needs extending; the cookie is sent only when the
// client's copy must change (a new session or ID, a logout, or an expiry
// falling more than TouchInterval behind the store's). Changes are a delta
// applied to the record as it is in the store at save time, with a
// conditional write retried on conflict, so overlapping requests that
// change different keys both keep their changes. A save that fails never
// yields a 2xx or 3xx response. Session IDs are 256 random bits;
// malformed cookies are rejected before any store I/O, unknown IDs are
// never adopted, and the store sees only a SHA-256 of each ID.
package sessions
