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
)
