package sessions

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Factory builds a Driver from a parsed DSN. It is called once per Open.
// A factory validates every part of the URL it is given (host, path,
// query options) and returns an error naming what it does not accept;
// its errors must never contain the URL's password.
type Factory func(u *url.URL) (Driver, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a driver available under a URL scheme, so that a DSN such
// as "mine://…" opens it through Open, Config.DSN or SESSION_DSN.
//
// Like database/sql.Register, it is meant to be called from an init
// function, and it panics if scheme is empty, if f is nil, or if the scheme
// is already registered. Schemes are case-insensitive, as in URLs.
func Register(scheme string, f Factory) {
	if scheme == "" {
		panic("sessions: Register with an empty scheme")
	}
	if f == nil {
		panic("sessions: Register of scheme " + scheme + " with a nil factory")
	}
	scheme = strings.ToLower(scheme)
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("sessions: Register called twice for scheme " + scheme)
	}
	registry[scheme] = f
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open opens the driver named by the DSN's scheme. The empty DSN means
// "memory://". An unknown scheme is an error that names it and lists the
// registered ones; a malformed DSN is an error that quotes it with any
// password masked. The caller owns the returned Driver and closes it.
func Open(dsn string) (Driver, error) {
	if dsn == "" {
		dsn = "memory://"
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("sessions: malformed DSN %q: want scheme://…, e.g. memory://, file:///var/lib/app/sessions or redis://host:6379/0", RedactDSN(dsn))
	}
	registryMu.RLock()
	f, ok := registry[strings.ToLower(u.Scheme)]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("sessions: unknown DSN scheme %q in %q (registered: %s; a custom driver needs sessions.Register)",
			u.Scheme, RedactDSN(dsn), strings.Join(Schemes(), ", "))
	}
	d, err := f(u)
	if err != nil {
		return nil, fmt.Errorf("sessions: open %s: %w", u.Redacted(), err)
	}
	if d == nil {
		return nil, fmt.Errorf("sessions: open %s: the %q factory returned no driver", u.Redacted(), u.Scheme)
	}
	return d, nil
}

// RedactDSN returns dsn with any password replaced by "xxxxx". Unlike
// url.URL.Redacted it works on strings that do not parse as URLs, so an
// error about a malformed DSN can quote it safely.
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	// Unparseable: mask whatever stands between "scheme://user:" and the
	// last "@" of the authority.
	rest := dsn
	prefix := ""
	if i := strings.Index(rest, "://"); i >= 0 {
		prefix, rest = rest[:i+3], rest[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return dsn
	}
	userinfo := authority[:at]
	if c := strings.Index(userinfo, ":"); c >= 0 {
		userinfo = userinfo[:c+1] + "xxxxx"
	} else {
		// No colon: a lone user name may itself be a token; mask it too.
		userinfo = "xxxxx"
	}
	return prefix + userinfo + authority[at:] + rest[end:]
}
