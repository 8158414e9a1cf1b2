package sessions

import "github.com/ginkit/sessions/driver"

// The storage contract lives in package driver, as database/sql's lives in
// database/sql/driver; these aliases keep it reachable from this package,
// so sessions.Driver and driver.Driver are one type.
type (
	// Driver is the storage contract every backend implements; see
	// driver.Driver for what an implementation must guarantee.
	Driver = driver.Driver
	// Toucher is the optional cheap expiry extension; see driver.Toucher.
	Toucher = driver.Toucher
	// Scanner is the optional enumeration of live sessions; see
	// driver.Scanner.
	Scanner = driver.Scanner
	// UserIndexer is the optional per-user index; see driver.UserIndexer.
	UserIndexer = driver.UserIndexer
	// UserBatchUnindexer is the optional removal of many index entries
	// at once, which RevokeUser uses; see driver.UserBatchUnindexer.
	UserBatchUnindexer = driver.UserBatchUnindexer
)

// MaxUserEntries is the one bound on a user's index: a driver may refuse
// to index one more live session of a user who holds this many, and none
// forgets one to make room; see driver.MaxUserEntries.
// Config.MaxSessionsPerUser keeps every user well below it.
const MaxUserEntries = driver.MaxUserEntries

// ErrUserIndexFull is what a save that bound a session to a user whose
// index is full wraps (errors.Is): the save failed and nothing was
// written, rather than a session escaping revocation. See
// driver.ErrUserIndexFull.
var ErrUserIndexFull = driver.ErrUserIndexFull
