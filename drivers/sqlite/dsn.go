package sqlite

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/internal/sqlstore"
)

// DefaultBusyTimeout is how long a statement of a Driver made by Open
// waits for another connection's (or process') write lock.
const DefaultBusyTimeout = 5 * time.Second

// config is what a DSN says: the database file, the pool and the shared
// options.
type config struct {
	path        string
	busyTimeout time.Duration
	opts        sqlstore.Options
}

// Open opens (creating it if needed) the SQLite database file named by a
// DSN and returns a Driver that owns its pool: its Close closes it.
//
//	sqlite:///absolute/path/to/sessions.db[?option=value&...]
//
// The path must be absolute (three slashes), so the file never depends on
// the working directory; its folder must exist. A DSN with a host or user
// information is an error. Options, all optional:
//
//	table=ginkit_sessions  the sessions table; the user index is the same
//	                       name with "_users" appended (letters, digits and
//	                       underscores, at most 45, not ending in _users or _idx)
//	create_table=true      create the tables on first use; false only checks
//	                       that they exist
//	sweep_interval=5m      how often expired rows are deleted; 0 = the
//	                       default, negative (-1s) = never
//	timeout=5s             deadline of each operation (> 0)
//	max_conns=1            connections of the pool; SQLite has one writer
//	                       at a time, readers run beside it in WAL mode
//	busy_timeout=5s        how long a write waits for another process'
//	                       lock before failing (>= 0)
//
// Unknown or repeated options and malformed values are errors that name
// the option. If the file does not exist, Open creates it empty with mode
// 0600 (SQLite would create it 0644, readable by every local user), and
// SQLite gives the -wal and -shm files beside it the same mode; an
// existing file keeps its mode. Open does not connect: the first
// operation opens the file, switches it to WAL mode and creates the
// tables.
func Open(u *url.URL) (*Driver, error) {
	c, err := parseDSN(u)
	if err != nil {
		return nil, err
	}
	return openFile(c)
}

func parseDSN(u *url.URL) (config, error) {
	c := config{busyTimeout: DefaultBusyTimeout}
	if u == nil {
		return c, errors.New("sqlite: nil DSN")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("sqlite: "+format, args...)
	}
	if u.Scheme != "sqlite" {
		return c, fail("scheme %q: want sqlite", u.Scheme)
	}
	if u.User != nil {
		return c, fail("user information in a sqlite DSN: want sqlite:///absolute/path.db")
	}
	if u.Host != "" {
		return c, fail("host %q: the database is a file on this machine; want sqlite:///absolute/path.db (three slashes)", u.Host)
	}
	path := u.Path
	if u.Opaque != "" {
		path = u.Opaque
	}
	if path == "" || !filepath.IsAbs(filepath.FromSlash(path)) || path[len(path)-1] == '/' {
		return c, fail("path %q: want an absolute file path, sqlite:///absolute/path.db", path)
	}
	c.path = filepath.Clean(filepath.FromSlash(path))
	o, rest, err := sqlstore.ParseQuery("sqlite", u.RawQuery, 1)
	if err != nil {
		return c, err
	}
	c.opts = o
	for name, vals := range rest {
		if name != "busy_timeout" {
			return c, driver.UnknownOptionError("sqlite", name, append(slices.Clone(sqlstore.SharedOptions), "busy_timeout"))
		}
		d, err := time.ParseDuration(vals[0])
		if err != nil || d < 0 || d > time.Hour {
			return c, driver.OptionValueError("sqlite", name, vals[0], "want a duration from 0 to 1h such as 5s")
		}
		c.busyTimeout = d
	}
	return c, nil
}

// fileDSN returns modernc.org/sqlite's DSN for the file: a file: URI
// (so the path is escaped, not spliced) with the pragmas every connection
// runs when it opens: the busy timeout first, then WAL mode and
// synchronous=NORMAL (durable across a crash of the process; the last
// commits may be lost only with the machine).
func fileDSN(c config) string {
	q := url.Values{"_pragma": {
		"busy_timeout(" + strconv.FormatInt(c.busyTimeout.Milliseconds(), 10) + ")",
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
	}}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(c.path), RawQuery: q.Encode()}).String()
}
