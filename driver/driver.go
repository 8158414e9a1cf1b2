// Package driver is the storage contract of github.com/ginkit/sessions, as
// database/sql/driver is database/sql's: the interfaces a backend
// implements (Driver, and the optional Toucher, Scanner and UserIndexer,
// found by type assertion) and the registry of DSN schemes (Register).
//
// A driver needs nothing of the module but this package: one written
// outside the module imports only this package (and sessionstest in its
// tests); the built-in SQL drivers also share internal/sqlstore, their
// common SQL store. A driver stores opaque records under keys with a
// version and an expiry; the session engine (internal/core, which package
// sessions and the gin-contrib adapter call) owns cookies, IDs, values,
// encoding, encryption and the merge of concurrent changes, once for
// every driver. Check an implementation with package sessionstest: every
// rule it checks is written in the contract below.
//
// Errors a driver returns name the driver and the operation
// ("redis: load: …") and never contain a password, a record or a key's
// session ID; the engine adds the "sessions:" prefix once.
package driver

import (
	"context"
	"errors"
	"time"
)

// MaxUserEntries is the one bound on a user's index that every UserIndexer
// agrees on: a driver may refuse IndexUser of a new key for a user who has
// this many live entries, and none refuses below it. The drivers with a
// finite index (memory, file, memcached) refuse at exactly this bound;
// Redis and the SQL drivers have none. The engine keeps users far below it:
// Config.MaxSessionsPerUser (100 by default) ends a user's least recently
// used session when a login would exceed it.
const MaxUserEntries = 1024

// ErrUserIndexFull is wrapped by the error of an IndexUser that refused to
// add an entry because the index is full (see UserIndexer): the user has
// MaxUserEntries live entries, or the driver's index as a whole is at a
// bound of its own. Such a call changed nothing. Test for it with
// errors.Is.
var ErrUserIndexFull = errors.New("user index full")

// Driver is the storage contract every backend implements. A driver stores
// opaque records under keys, each with a version and an expiry; it knows
// nothing of cookies, session IDs, values or encodings. The engine
// (internal/core, behind package sessions) owns all of that, and keeps the merge of concurrent changes,
// the ID handling and the codec in one place for every driver.
//
// The signatures use standard-library types only, so a concrete type
// satisfies Driver without naming this package; package sessions
// re-exports every name here (sessions.Driver is driver.Driver).
//
// Keys are strings of at most 250 bytes drawn from [A-Za-z0-9_-]; the engine
// derives them from a hash of the session ID, so a driver may use them as
// file names, Redis keys or memcached keys unchanged (after its own prefix).
//
// Versions implement optimistic concurrency. A version is an opaque non-zero
// number that changes on every successful Save of a key (a counter, a random
// number or a memcached CAS ID all qualify); version 0 means "no record".
// The engine loads a record with its version, applies one request's changes to
// it and saves it conditionally; on a conflict it loads again and re-applies.
//
// All methods must be safe for concurrent use by multiple goroutines, and
// for drivers that share a store between processes (file, Redis, memcached)
// the conditional Save must be atomic across processes too.
type Driver interface {
	// Load returns the live record stored under key, its version and the
	// time at which the store will expire it.
	//
	// If no record exists, or the record has expired, Load returns
	// (nil, 0, time.Time{}, nil): absence is not an error. Load never
	// returns an expired record, even if the store has not removed it yet.
	// An error means the store could not answer; the engine then treats the
	// session as unknown and never overwrites it.
	//
	// A live record's version is never 0, and expires is when its time to
	// live (from the Save or Touch that set it last) runs out. A stored
	// empty record comes back as a non-nil empty slice, so it is told
	// apart from absence. The caller does not modify the returned slice.
	Load(ctx context.Context, key string) (record []byte, version uint64, expires time.Time, err error)

	// Save stores record under key with a time to live of ttl, if and only if
	// the version currently stored under key equals version; version 0
	// means the key must not exist (a live record counts as existing, an
	// expired one does not). The check and the write are one atomic step.
	//
	// Save reports whether it wrote. On a version mismatch it writes nothing
	// and returns (false, nil); so does a non-zero version for a key that
	// does not exist. A successful Save gives the key a new non-zero
	// version and a time to live of ttl from now, replacing the old one
	// (longer or shorter). A non-nil error means the record may or may
	// not have been written; the engine reports the error and never claims
	// the save succeeded. Save never writes a partial record: after any
	// outcome, Load returns either the old record or the new one.
	//
	// ttl is at least one millisecond; a driver whose store counts in
	// coarser units (memcached counts seconds) rounds up. A record is any
	// bytes (binary-safe, empty included) up to at least 256 KiB; a store
	// with a lower limit says so in its docs. The caller does not modify
	// record after Save returns, so a driver may keep it.
	Save(ctx context.Context, key string, record []byte, version uint64, ttl time.Duration) (saved bool, err error)

	// Delete removes the record stored under key. If the key does not exist,
	// Delete returns nil.
	Delete(ctx context.Context, key string) error

	// Close releases the driver's resources (connections, background
	// goroutines). Every later call of any method (those of Toucher,
	// Scanner and UserIndexer included) returns an error; none panics.
	// Close waits no longer than ctx allows.
	Close(ctx context.Context) error
}

// Toucher is implemented by drivers that can extend a record's expiry
// without rewriting it: the cheap path of the sliding idle lifetime.
//
// Touch sets the time to live of the record under key to ttl, keeping its
// record bytes and its version unchanged; ttl may be shorter than the
// time the record had left, and the store then expires it sooner. If the
// key does not exist, Touch returns nil and creates nothing. After a
// successful Touch, Load reports the new expiry.
//
// A driver without Touch still gets sliding expiry: the engine then saves the
// unchanged record conditionally with the new ttl.
type Toucher interface {
	Touch(ctx context.Context, key string, ttl time.Duration) error
}

// Scanner is implemented by drivers that can enumerate their live
// sessions, for bulk tools such as sessionctl's count, migrate and purge.
//
// Scan calls fn with the key of every live session record (as given to
// Save, without the driver's prefix), in no particular order. A record
// that is live for the whole scan is passed at least once (Redis' SCAN may
// repeat a key); records saved or deleted during the scan may or may not
// be passed. Scan passes only session records, never a driver's auxiliary
// entries (such as a user index), and never a key of an expired record.
// If fn returns an error, Scan calls fn no more and returns an error
// wrapping it (errors.Is finds it). fn may call the driver's other
// methods, Delete included: deleting each key as it is passed (a purge)
// must work. If ctx is cancelled or its deadline passes, before or during
// the scan, Scan stops and returns an error wrapping ctx.Err()
// (errors.Is(err, context.Canceled) for a cancelled context).
type Scanner interface {
	Scan(ctx context.Context, fn func(key string) error) error
}

// UserIndexer is implemented by drivers that keep a per-user index of
// sessions in the store itself, so "log out everywhere" needs no scan.
//
// user is an opaque string of the same shape as keys (the engine passes a
// hash of the application's user ID). An index entry maps (user, key) to
// an expiry; entries whose expiry has passed are dead and are never
// returned, and the driver removes them eventually (on a later IndexUser or
// UserKeys, or by the store's own expiry).
//
// IndexUser adds key to user's index with the given expiry, or replaces
// the expiry of an existing entry (one key has one entry); an entry whose
// expiry has already passed when it is indexed is never returned.
// UnindexUser removes the entry; if it does not exist, UnindexUser
// returns nil. UserKeys returns the keys of user's live entries, in no
// particular order, or an empty slice. An index entry
// says nothing about whether the session itself still exists: the engine
// checks each session and prunes entries whose session is gone.
//
// All three must be safe for concurrent use across processes: two
// concurrent IndexUser calls for one user both take effect.
//
// An implementation never drops an entry whose expiry has not passed: the
// entry stays until it expires, UnindexUser removes it or IndexUser
// replaces its expiry, so a session in the index cannot escape a "log out
// everywhere". When it cannot hold one more live entry, IndexUser changes
// nothing and returns an error wrapping ErrUserIndexFull; the engine then
// fails the save that needed the entry, loudly, rather than let a session
// live outside the index. A driver may refuse a new key of a user who
// already has MaxUserEntries live entries; it refuses a user below that
// bound only when its index as a whole is at a bound of its own (as the
// memory driver's may be), as a store may be out of room for a Save.
// Expired entries never count: a driver at a bound prunes them first.
// Replacing the expiry of an existing entry is never refused.
type UserIndexer interface {
	IndexUser(ctx context.Context, user, key string, expires time.Time) error
	UnindexUser(ctx context.Context, user, key string) error
	UserKeys(ctx context.Context, user string) ([]string, error)
}

// UserBatchUnindexer is implemented by a UserIndexer that can remove many
// entries of one user's index in one operation. RevokeUser ends a user's
// sessions and then removes their entries with one call per pass instead
// of one per session: for an index kept as one file or one item (the file
// and memcached drivers), N rewrites of an N-entry index become one.
//
// UnindexUserKeys must leave the index as UnindexUser called for each key
// would: keys not in the index are ignored, other entries are kept, and it
// is safe for concurrent use across processes like the UserIndexer
// methods (a concurrent IndexUser of another key of the same user takes
// effect too).
type UserBatchUnindexer interface {
	UnindexUserKeys(ctx context.Context, user string, keys []string) error
}
