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
	if strayAt(u) {
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
// password of the user information, and the value of any query option
// whose name mentions a password, secret, token or key
// (sentinel_password=…).
// Unlike url.URL.Redacted it works on strings that do not parse as URLs,
// and on those whose password holds an unescaped '/', '?', '#' or '@', so
// an error about a malformed DSN can quote it safely; a DSN without
// secrets comes back unchanged.
func RedactDSN(dsn string) string {
	rest := dsn
	prefix := ""
	if i := strings.IndexByte(rest, ':'); i >= 0 && strings.HasPrefix(rest[i:], "://") {
		prefix, rest = rest[:i+3], rest[i+3:] // the scheme's, not a "://" further on
	}
	if parsed, err := url.Parse(dsn); err == nil && !strayAt(parsed) {
		// A DSN that parses has its user information where the URL says
		// (an "@" in a file path or an option value is not one): in the
		// authority, which ends at the first '/', '?' or '#', up to its
		// last "@".
		query := ""
		if q := strings.IndexAny(rest, "?#"); q >= 0 {
			rest, query = rest[:q], rest[q:]
		}
		if parsed.User != nil {
			if _, has := parsed.User.Password(); has {
				parsed.User = url.UserPassword(parsed.User.Username(), "xxxxx")
			}
			authority := rest
			if slash := strings.IndexByte(rest, '/'); slash >= 0 {
				authority = rest[:slash]
			}
			if at := strings.LastIndex(authority, "@"); at >= 0 {
				rest = parsed.User.String() + rest[at:]
			}
		}
		if query != "" {
			query = redactQuery(query)
		}
		return prefix + rest + query
	}
	// Unparseable, or an "@" url.Parse did not take as the end of the user
	// information (a password holding '/', '?' or '#'): mask whatever
	// stands between "user:" and the last "@" of the whole rest, then the
	// secret options after it. When that "@" may itself sit inside the
	// value of a secret option (sentinel_password=a@b), the text after it
	// up to the next option is masked too.
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		if q := strings.IndexAny(rest, "?#"); q >= 0 {
			rest = rest[:q] + redactQuery(rest[q:])
		}
		return prefix + rest
	}
	userinfo, tail := rest[:at], rest[at+1:]
	if q := strings.IndexAny(tail, "?&#"); q >= 0 { // '&': that "@" was in an option
		tail = tail[:q] + redactQuery(tail[q:])
	}
	if name, _, hasValue := strings.Cut(userinfo[strings.LastIndexAny(userinfo, "?&")+1:], "="); hasValue && secretOption(name) {
		end := strings.IndexAny(tail, "&#")
		if end < 0 {
			end = len(tail)
		}
		tail = "xxxxx" + tail[end:]
	}
	if c := strings.Index(userinfo, ":"); c >= 0 {
		userinfo = userinfo[:c+1] + "xxxxx"
	} else if !strings.HasPrefix(userinfo, "/") { // a leading '/' is a path: file:///srv/a@b
		userinfo = "xxxxx" // unparseable: the lone name may be a token
	}
	return prefix + userinfo + "@" + tail
}

// secretOption reports whether an option of that name holds a secret
// RedactDSN masks: its name mentions a password, secret, token or key.
func secretOption(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "pass") || strings.Contains(n, "secret") || strings.Contains(n, "token") || strings.Contains(n, "key")
}

// strayAt reports whether url.Parse left an "@" outside the user
// information: in an opaque part, the query or the fragment, or in a path
// that follows a host or user information or whose first segment holds a
// ':' ("redis:///user:pa/ss@host").
// That is the sign of a password holding an unescaped '/', '?' or '#',
// which url.Parse takes for the start of the path, query or fragment, so
// that the rest of the password would show as part of the host, path or
// query; or of a DSN missing its "//", whose user information url.Parse
// reads as a path. User information url.Parse did find is no proof
// against it: in "redis://:ab@/cd@host" the password is "ab@/cd", not
// "ab". Only a path of its own may hold an "@" (file:///srv/a@b,
// file:///srv/a:b@c).
func strayAt(u *url.URL) bool {
	if strings.Contains(u.Opaque, "@") || strings.Contains(u.RawQuery, "@") || strings.Contains(u.EscapedFragment(), "@") {
		return true
	}
	p := u.EscapedPath()
	if !strings.Contains(p, "@") {
		return false
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return u.Host != "" || u.User != nil || strings.Contains(first, ":")
}

// redactQuery masks the values of secret-looking options in "?a=b&c=d".
func redactQuery(q string) string {
	lead, body := q[:1], q[1:]
	if lead == "#" {
		return q
	}
	frag := ""
	if h := strings.IndexByte(body, '#'); h >= 0 {
		body, frag = body[:h], body[h:]
	}
	parts := strings.Split(body, "&")
	for i, p := range parts {
		if name, _, hasValue := strings.Cut(p, "="); hasValue && secretOption(name) {
			parts[i] = name + "=xxxxx"
		}
	}
	return lead + strings.Join(parts, "&") + frag
}
