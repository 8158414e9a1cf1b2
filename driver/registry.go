package driver

import (
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Factory builds a Driver from a parsed DSN. It is called once per open.
// A factory validates every part of the URL it is given (host, path,
// query options) and returns an error naming what it does not accept; its
// errors must never contain the URL's password.
type Factory func(u *url.URL) (Driver, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a driver available under a URL scheme, so that a DSN such
// as "mine://…" opens it through sessions.Open, Config.DSN or SESSION_DSN.
// sessions.Register is the same function.
//
// Like database/sql.Register, it is meant to be called from an init
// function, and it panics if scheme is empty, if f is nil, or if the
// scheme is already registered. Schemes are case-insensitive, as in URLs.
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

// Lookup returns the factory registered under scheme (case-insensitive).
func Lookup(scheme string) (Factory, bool) {
	registryMu.RLock()
	f, ok := registry[strings.ToLower(scheme)]
	registryMu.RUnlock()
	return f, ok
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
