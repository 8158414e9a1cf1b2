// Package core is the session engine: everything done through a storage
// driver on behalf of a session — load, seal and decode, the merge-save
// with its retry loop, touch, re-key, delete, the user index, the move
// from a previous backend, snapshots and the bulk operations — in one
// place. Its callers (the Gin middleware, the gin-contrib adapter, the
// Manager's admin operations) hold a State per session and act on the
// outcomes the engine returns; the engine never calls back into them.
//
// Files: engine.go the Engine, its settings and the Access by which a
// Manager hands it over; state.go a caller's view of one session and the
// outcome of a save; load.go, save.go, touch.go, rekey.go and delete.go
// the per-session operations; tombstone.go the records that make deletes
// win over requests in flight; userindex.go the per-user index and
// revocation; move.go the move from a previous backend, one session or
// all; samestore.go the check that a previous backend is not the current
// store; bulk.go count and purge; snapshot.go read-only copies; watch.go
// the checks behind long-lived requests (Watch); record.go, values.go and
// delta.go the stored envelope, the values and one request's changes;
// seal.go encryption at rest; id.go session IDs and store keys; detach.go
// a context that outlives its request's deadline; observe.go the
// counters and the Hook; errors.go the engine's errors and their kinds.
package core

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/ginkit/sessions/driver"
)

// Options configures an Engine. The caller (package sessions) has applied
// its defaults and validated them.
type Options struct {
	Driver   driver.Driver
	Previous driver.Driver // the backend sessions move away from, or nil

	Lifetime         time.Duration // idle lifetime, sliding
	AbsoluteLifetime time.Duration // 0: none
	TouchInterval    time.Duration // how stale the idle deadline may get
	ExpireOnClose    bool          // browser-session cookies: never re-sent for expiry
	MaxKeys          int           // ≤ 0: no limit
	MaxRecordSize    int           // ≤ 0: no limit
	MaxPerUser       int           // sessions one user may hold; ≤ 0: no limit
	EncryptionKeys   [][]byte      // nil: records in the clear
	Logger           *slog.Logger
	Hook             Hook // nil: nothing observes the operations
}

// Engine performs every store operation of sessions over one driver (and
// a previous one during a move). It is safe for concurrent use.
type Engine struct {
	opts    Options
	driver  driver.Driver
	toucher driver.Toucher     // driver's Touch, or nil
	index   driver.UserIndexer // driver's user index, or nil
	prev    driver.Driver      // previous backend, or nil
	ring    *Keyring           // encryption at rest, or nil
	count   counters

	// unreadableLogged is when the last warning about unreadable records
	// was logged (Unix ns), unreadableAtLog the count it reported up to.
	unreadableLogged atomic.Int64
	unreadableAtLog  atomic.Uint64
}

// New returns an Engine over opts.Driver. It fails only on bad encryption
// keys.
func New(opts Options) (*Engine, error) {
	ring, err := NewKeyring(opts.EncryptionKeys)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Engine{opts: opts, driver: opts.Driver, prev: opts.Previous, ring: ring}
	e.toucher, _ = e.driver.(driver.Toucher)
	e.index, _ = e.driver.(driver.UserIndexer)
	return e, nil
}

// Driver returns the current backend.
func (e *Engine) Driver() driver.Driver { return e.driver }

// Previous returns the previous backend, or nil.
func (e *Engine) Previous() driver.Driver { return e.prev }

// Lifetime returns the idle lifetime.
func (e *Engine) Lifetime() time.Duration { return e.opts.Lifetime }

// maxSaveAttempts bounds the load-apply-save loop under contention. After
// a conflict the loop waits a short random time, growing with each
// attempt (conflictBackoff), so that many writers of one session spread
// out instead of colliding again in lock-step.
const maxSaveAttempts = 32

// conflictBackoff returns the wait before attempt n (n ≥ 1) of a save:
// a random time up to min(1ms·2^(n-1), 64ms).
func conflictBackoff(n int) time.Duration {
	ceil := time.Millisecond << min(n-1, 6)
	return rand.N(ceil) + 1
}

// encode seals (when encryption is on) the envelope of r for key.
func (e *Engine) encode(key string, r Record) []byte {
	b := EncodeRecord(r)
	if e.ring != nil {
		b = e.ring.Seal(key, b)
	}
	return b
}

// decode opens and decodes a record stored under key.
func (e *Engine) decode(key string, rec []byte) (Record, error) {
	if e.ring != nil {
		plain, err := e.ring.Open(key, rec)
		if err != nil {
			return Record{}, err
		}
		rec = plain
	}
	return DecodeRecord(rec)
}

// checkRecord refuses a record the store should not be asked to hold.
func (e *Engine) checkRecord(op string, values Values, rec []byte) error {
	if max := e.opts.MaxKeys; max > 0 && len(values) > max {
		return &Error{Op: op, Kind: KindOversize, Err: fmt.Errorf("the session holds %d values, over the limit of %d (Config.MaxKeys)", len(values), max)}
	}
	if max := e.opts.MaxRecordSize; max > 0 && len(rec) > max {
		return &Error{Op: op, Kind: KindOversize, Err: fmt.Errorf("the session encodes to %d bytes, over the limit of %d (Config.MaxRecordSize)", len(rec), max)}
	}
	return nil
}

// ttlAt returns the time to live of a save or touch made at now of a
// session created at created, for an idle lifetime of lifetime, capped by
// the absolute lifetime; ok is false when the absolute deadline has passed.
func (e *Engine) ttlAt(created, now time.Time, lifetime time.Duration) (time.Duration, bool) {
	ttl := lifetime
	if abs := e.opts.AbsoluteLifetime; abs > 0 {
		left := created.Add(abs).Sub(now)
		if left <= 0 {
			return 0, false
		}
		ttl = min(ttl, left)
	}
	return max(ttl, time.Millisecond), true
}

// pastAbsolute reports whether a session created at created has outlived
// the absolute lifetime. Without one it reads no clock.
func (e *Engine) pastAbsolute(created time.Time) bool {
	return e.opts.AbsoluteLifetime > 0 && !time.Now().Before(created.Add(e.opts.AbsoluteLifetime))
}

// TouchDue reports whether the idle deadline of a loaded, unchanged
// session is stale enough to extend: more than TouchInterval (scaled to
// lifetime, when a caller uses another lifetime than the Engine's) has
// passed since it was last set.
func (e *Engine) TouchDue(st *State, lifetime time.Duration) bool {
	interval := e.opts.TouchInterval
	if interval > 0 && lifetime != e.opts.Lifetime {
		interval = time.Duration(float64(interval) / float64(e.opts.Lifetime) * float64(lifetime))
	}
	return time.Since(st.Expires.Add(-lifetime)) > interval
}

// cookieDue reports whether a save that sets the idle deadline to
// deadline must send the session cookie: always for a session not stored
// before (a new one, or one that got a new ID); for a browser-session
// cookie (ExpireOnClose) never again; otherwise when the client's cookie,
// last sent with an expiry of cookieUntil, would expire more than
// TouchInterval before the session does. Within that slack a response to
// a write carries no Set-Cookie, as a response to a read does not.
func (e *Engine) cookieDue(existed bool, meta Meta, deadline time.Time) bool {
	switch {
	case !existed:
		return true
	case e.ExpireOnClose(meta):
		return false
	default:
		return deadline.Sub(meta.CookieUntil) > max(e.opts.TouchInterval, 0)
	}
}

// ExpireOnClose reports whether the session whose metadata is meta gets a
// browser-session cookie: its own choice (RememberMe) if it made one,
// else Config.ExpireOnClose.
func (e *Engine) ExpireOnClose(meta Meta) bool {
	switch meta.Persist {
	case PersistCookie:
		return false
	case PersistBrowser:
		return true
	}
	return e.opts.ExpireOnClose
}

// Access is the token a *sessions.Manager asks for before it hands over
// its Engine (Manager.Engine). Only ModuleAccess makes a valid one, and
// only packages of this module can import internal/core to call it; a
// zero Access, which code outside the module could still produce, gets
// nil. So the gin-contrib adapter shares a Manager's engine through a
// call a reader can follow, and the engine stays out of the public API.
type Access struct{ valid bool }

// ModuleAccess returns the Access that makes Manager.Engine hand over its
// Engine. It is for this module's packages (package contrib); see EngineOf.
func ModuleAccess() Access { return Access{valid: true} }

// Valid reports whether a was made by ModuleAccess.
func (a Access) Valid() bool { return a.valid }

// EngineOf returns the Engine of m, a *sessions.Manager (named by the
// method it has, since this package cannot import the root): the route
// by which package contrib reaches a Manager's engine. It is nil for a
// nil Manager.
func EngineOf(m interface{ Engine(Access) *Engine }) *Engine {
	return m.Engine(ModuleAccess())
}

// Options returns the settings the Engine was made with.
func (e *Engine) Options() Options { return e.opts }
