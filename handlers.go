package sessions

import (
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions/internal/core"
)

// The handler API. Every helper takes the request's *gin.Context, works
// only on a route behind a Manager's Handler (elsewhere reads report
// nothing and changes return or record ErrNoMiddleware), and never
// panics. The first helper that needs the data loads the session; changes
// are saved automatically before the response headers go out.
//
// A gin.Context belongs to one goroutine; a goroutine started by a handler
// must not use the helpers on the request's context after the handler
// returns.

// withSession runs f on the request's session with its lock held, after
// loading it. A load error is reported and leaves the session empty for
// reads (fail closed).
func withSession(c *gin.Context, f func(s *session)) bool {
	s := sessionOf(c)
	if s == nil {
		return false
	}
	s.mu.Lock()
	err := s.ensureLoaded()
	f(s)
	s.mu.Unlock()
	if err != nil {
		s.m.report(c, err)
	}
	return true
}

// Get returns the value stored under key, decoded into a T, and true; or
// the zero T and false when the key is absent, the session could not be
// loaded, or the stored value does not decode into a T (Set(c, "n", 42)
// then Get[string](c, "n") gives "", false).
func Get[T any](c *gin.Context, key string) (T, bool) {
	var v T
	var raw []byte
	var ok bool
	var m *Manager
	withSession(c, func(s *session) {
		raw, ok = s.Value(key)
		m = s.m
	})
	if !ok {
		return v, false
	}
	if err := m.cfg.Codec.Unmarshal(raw, &v); err != nil {
		var zero T
		return zero, false
	}
	return v, true
}

// GetOr returns the value under key decoded into a T, or fallback when Get
// would report false.
func GetOr[T any](c *gin.Context, key string, fallback T) T {
	if v, ok := Get[T](c, key); ok {
		return v
	}
	return fallback
}

// Has reports whether the session holds a value under key.
func Has(c *gin.Context, key string) bool {
	var ok bool
	withSession(c, func(s *session) { _, ok = s.Value(key) })
	return ok
}

// Keys returns the keys the session holds, sorted.
func Keys(c *gin.Context) []string {
	var keys []string
	withSession(c, func(s *session) { keys = s.keys() })
	return keys
}

// Set stores value under key. The value is encoded at once with the
// Manager's Codec, so later changes to it by the handler are not seen, and
// it is saved with the response. A value that does not encode is recorded
// as an error: the request's save then fails as a whole (nothing is
// written) and the response becomes a 500; use Put to get the error back.
func Set(c *gin.Context, key string, value any) {
	if err := set(c, key, value); err != nil {
		_ = c.Error(err)
	}
}

func set(c *gin.Context, key string, value any) error {
	s := sessionOf(c)
	if s == nil {
		return ErrNoMiddleware
	}
	raw, err := s.m.cfg.Codec.Marshal(value)
	if err != nil {
		err = &core.Error{Op: "set", Kind: core.KindEncode, Err: fmt.Errorf("%q: encode %T: %w", key, value, err)}
	}
	withSession(c, func(s *session) {
		if err != nil {
			if s.encodeErr == nil {
				s.encodeErr = err
			}
			return
		}
		if cur, ok := s.Value(key); ok && string(cur) == string(raw) {
			return // unchanged: nothing to write
		}
		s.beginChange()
		s.Delta.Set(key, raw)
	})
	return err
}

// Put stores value under key and saves the session now, before the
// handler goes on; it returns an encoding or store error instead of
// leaving it to the end of the request.
func Put(c *gin.Context, key string, value any) error {
	if err := set(c, key, value); err != nil {
		return err
	}
	return Save(c)
}

// Update reads the value under key, stores fn's result and saves the
// session before it returns, atomically with respect to every other
// request of the session, on every instance and every driver: when
// another request changed the session between this one's load and its
// conditional save, fn runs again on the newest stored value. That makes
// counters, carts and rate limits safe under concurrency without a lock.
// It returns the value it stored.
//
// fn gets the current value and whether there is one (ok is false when
// the key is absent, and cur is the zero T). fn may run more than once,
// so it must be pure: no side effects, no I/O, only its result.
//
// A visitor without a session gets one, cookie included, as with Set. A
// stored value that does not decode as a T is an error, and nothing is
// stored; so is a store failure, and nothing is claimed. Other changes
// the request made before are saved with it. After the response headers
// are out, Update of a session the client does not hold yet returns
// ErrResponseWritten.
func Update[T any](c *gin.Context, key string, fn func(cur T, ok bool) T) (T, error) {
	var stored T
	s := sessionOf(c)
	if s == nil {
		return stored, ErrNoMiddleware
	}
	codec := s.m.cfg.Codec
	run := func(raw []byte, ok bool) ([]byte, error) {
		var cur T
		if ok {
			if err := codec.Unmarshal(raw, &cur); err != nil {
				return nil, fmt.Errorf("update %q: the stored value is not a %T", key, cur)
			}
		}
		next := fn(cur, ok)
		b, err := codec.Marshal(next)
		if err != nil {
			return nil, &core.Error{Op: "update", Kind: core.KindEncode, Err: fmt.Errorf("%q: encode %T: %w", key, next, err)}
		}
		stored = next
		return b, nil
	}
	err := saveNow(s, func() (undo func()) { return s.Delta.Update(key, run) })
	if err != nil {
		var zero T
		return zero, err
	}
	return stored, nil
}

// RememberMe sets this session's cookie to persistent (remember true:
// Max-Age follows the idle deadline, so the session survives a browser
// restart) or to a browser-session cookie (false: no Max-Age or Expires;
// the server still enforces the lifetime), as the "remember me" box of a
// login form does. The choice is stored with the session and holds for
// every later response that sends the cookie, across Refresh and on every
// instance; the cookie is re-sent with this response. Without a call,
// Config.ExpireOnClose decides. It never binds a user: if the session was
// revoked or logged out elsewhere meanwhile, the choice is not saved onto
// a session bound to the user.
func RememberMe(c *gin.Context, remember bool) {
	want := core.PersistBrowser
	if remember {
		want = core.PersistCookie
	}
	if !withSession(c, func(s *session) {
		meta := s.CurrentMeta()
		if meta.Persist == want {
			return
		}
		meta.Persist = want
		s.beginChange()
		s.Delta.SetMeta(meta)
	}) {
		_ = c.Error(ErrNoMiddleware)
	}
}

// Pop returns the value under key decoded into a T and deletes it, as for
// a flash message. If the value does not decode into a T, Pop reports
// false and leaves it in place.
func Pop[T any](c *gin.Context, key string) (T, bool) {
	v, ok := Get[T](c, key)
	if ok {
		Delete(c, key)
	}
	return v, ok
}

// Delete removes key from the session. Deleting an absent key changes
// nothing and writes nothing.
func Delete(c *gin.Context, key string) {
	if !withSession(c, func(s *session) {
		if _, ok := s.Value(key); ok {
			s.Delta.Del(key)
		}
	}) {
		_ = c.Error(ErrNoMiddleware)
	}
}

// Clear removes every key. The session (and its ID) lives on, empty; use
// Destroy to end it.
func Clear(c *gin.Context) {
	if !withSession(c, func(s *session) {
		if s.Exists || !s.Delta.Empty() {
			s.Delta.Clear()
		}
	}) {
		_ = c.Error(ErrNoMiddleware)
	}
}

// LoadError returns the store error that kept this request from loading
// its session, or nil. Get reports "not found" both for a visitor without
// a session and when the store is down; a handler that treats "not found"
// as "not logged in" can tell the two apart with LoadError and answer 503
// instead of sending a logged-in user to the login page during a store
// outage.
func LoadError(c *gin.Context) error {
	var err error
	withSession(c, func(s *session) { err = s.loadErr })
	return err
}

// ID returns the session ID the client holds or is about to receive, or ""
// when the request has no session and has written nothing. An ID from the
// cookie counts only once the store has confirmed it (strict mode). Treat
// it as a secret: it is the bearer credential.
func ID(c *gin.Context) string {
	var id string
	withSession(c, func(s *session) { id = s.ID })
	return id
}

// Refresh gives the session a new ID with the same data and deletes the
// old record, so the old ID is dead at once. Call it right after a login
// (or any change of privilege) to defeat session fixation. The absolute
// lifetime keeps running from the session's creation. If it fails, the
// session keeps its old ID and its data, and the error says why.
//
// The renewal wins no race against an end: if the session was revoked or
// logged out elsewhere since this request loaded it, Refresh renews
// nothing and the request goes on as a new, anonymous session under a
// fresh ID, holding only the values it set itself (a SetUser after
// Refresh, as at a login, binds that new session).
func Refresh(c *gin.Context) error {
	var err error
	if !withSession(c, func(s *session) { err = s.refresh() }) {
		return ErrNoMiddleware
	}
	return err
}

// Destroy deletes the session's record and expires its cookie: logout.
// A change made after Destroy in the same request starts a new session
// under a new ID. If it fails, the session still exists and the error says
// why.
func Destroy(c *gin.Context) error {
	s := sessionOf(c)
	if s == nil {
		return ErrNoMiddleware
	}
	s.mu.Lock()
	err := s.destroy()
	s.mu.Unlock()
	return err
}

// Save persists the session's changes now. It is seldom needed: changes
// are saved before the response headers go out. After the headers are
// sent, Save can still store changes of a session whose cookie the client
// already holds.
func Save(c *gin.Context) error {
	s := sessionOf(c)
	if s == nil {
		return ErrNoMiddleware
	}
	return saveNow(s, nil)
}

// saveNow commits the session now, for Save and Update. change, when not
// nil, records one more change first, and its undo is called if the
// commit fails, so that the end of the request does not save what the
// caller was told failed.
func saveNow(s *session, change func() (undo func())) error {
	s.mu.Lock()
	err := s.ensureLoaded()
	var undo func()
	if change != nil {
		undo = change()
	}
	switch {
	case err != nil && s.Delta.Empty():
	case (s.ID == "" || !s.Exists) && !s.Delta.Empty() && s.c.Writer.Written():
		err = ErrResponseWritten
	default:
		err = s.commit()
	}
	if err != nil && undo != nil {
		undo()
	}
	soft := s.takeSoftErr()
	s.mu.Unlock()
	if soft != nil {
		s.m.warn(s.c, soft)
	}
	return err
}
