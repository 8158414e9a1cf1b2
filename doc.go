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
// # Files
//
// driver.go holds the storage contract (Driver, Toucher); registry.go the
// DSN registry (Register, Open, Schemes); config.go the configuration;
// gin.go the Manager and its middleware; helpers.go the handler API;
// session.go the per-request state machine; delta.go the change set merged
// onto the newest record; values.go a session's values as a sorted list;
// record.go the stored envelope; store.go everything done through a Driver
// for one session; codec.go and codec_fast.go the value encoding;
// cookie.go the session cookie on the wire; id.go session IDs and store
// keys; writer.go the commit before the headers go out. Each
// built-in driver lives in its own package under drivers/ and is registered
// by builtin.go. Package sessionstest is the conformance suite for drivers.
//
// # Guarantees
//
// A request that never calls a helper does no store I/O and sets no
// cookie. A session is written only when something changed, or touched
// when its idle deadline needs extending; the cookie is sent only when the
// client's copy must change (a new session or ID, a logout, or an expiry
// falling more than TouchInterval behind the store's). Changes are a delta applied to
// the record as it is in the store at save time, with a conditional write
// retried on conflict, so overlapping requests that change different keys
// both keep their changes. A save that fails never yields a 2xx or 3xx
// response. Session IDs are 256 random bits; malformed cookies are
// rejected before any store I/O, unknown IDs are never adopted, and the
// store sees only a SHA-256 of each ID.
package sessions
