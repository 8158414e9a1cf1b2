package sessions

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/internal/core"
)

// Factory builds a Driver from a parsed DSN; see driver.Factory.
type Factory = driver.Factory

// Register makes a driver available under a URL scheme, so that a DSN such
// as "mine://…" opens it through Open, Config.DSN or SESSION_DSN.
//
// Like database/sql.Register, it is meant to be called from an init
// function, and it panics if scheme is empty, if f is nil, or if the scheme
// is already registered. Schemes are case-insensitive, as in URLs. It is
// driver.Register, which driver packages call without importing this one.
func Register(scheme string, f Factory) { driver.Register(scheme, f) }

// Schemes returns the registered schemes, sorted.
func Schemes() []string { return driver.Schemes() }

// optIn maps the schemes of the drivers that register themselves when
// imported (their libraries are not every application's) to the import
// that registers them, for Open's error when the import is missing.
var optIn = map[string]string{
	"postgres":   "github.com/ginkit/sessions/drivers/postgres",
	"postgresql": "github.com/ginkit/sessions/drivers/postgres",
	"mysql":      "github.com/ginkit/sessions/drivers/mysql",
	"mariadb":    "github.com/ginkit/sessions/drivers/mysql",
	"sqlite":     "github.com/ginkit/sessions/drivers/sqlite",
}

// Open opens the driver named by the DSN's scheme. The empty DSN means
// "memory://". An unknown scheme is an error that names it and lists the
// registered ones, or names the import that registers it (the SQL
// drivers); a malformed DSN is an error that quotes it with any password
// masked. The caller owns the returned Driver and closes it.
func Open(dsn string) (Driver, error) {
	if dsn == "" {
		dsn = "memory://"
	}
	openErr := func(format string, args ...any) error {
		return &core.Error{Op: "open " + RedactDSN(dsn), Kind: core.KindConfig, Err: fmt.Errorf(format, args...)}
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return nil, openErr("malformed DSN: want scheme://…, e.g. memory://, file:///var/lib/app/sessions or redis://host:6379/0")
	}
	if driver.StrayAt(u) {
		// The driver would quote the rest of the password as part of the
		// host, path or query.
		return nil, openErr("malformed DSN: an \"@\" after the host; percent-encode '/', '?' and '#' in a password")
	}
	f, ok := driver.Lookup(u.Scheme)
	if !ok {
		if pkg, known := optIn[strings.ToLower(u.Scheme)]; known {
			return nil, openErr("the %s driver is not linked in: import _ %q", u.Scheme, pkg)
		}
		return nil, openErr("unknown scheme %q (registered: %s)", u.Scheme, strings.Join(Schemes(), ", "))
	}
	d, err := f(u)
	if err != nil {
		return nil, &core.Error{Op: "open " + RedactDSN(dsn), Kind: core.KindConfig, Err: err}
	}
	if d == nil {
		return nil, openErr("the %q factory returned no driver", u.Scheme)
	}
	return d, nil
}

// RedactDSN returns dsn with every secret replaced by "xxxxx": the
// password of the user information; the value of every query option whose
// name, percent-decoded and lower-cased, contains pass, pwd, secret,
// token, key, auth, sig or credential (sentinel_password=…,
// p%61ssword=…, client_secret=…); and the whole fragment (#xxxxx).
// Unlike url.URL.Redacted it works on strings that do not parse as URLs,
// and on those whose password holds an unescaped '/', '?', '#' or '@', so
// an error about a malformed DSN can quote it safely; a DSN without
// secrets comes back unchanged.
//
// It is driver.RedactDSN, the one redaction of the module: Open's errors,
// the Manager's log lines, the drivers' errors and sessionctl's output
// all go through it.
func RedactDSN(dsn string) string { return driver.RedactDSN(dsn) }
