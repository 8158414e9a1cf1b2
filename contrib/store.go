// Package contrib is the gin-contrib/sessions adapter of
// github.com/ginkit/sessions: an application written against
// github.com/gin-contrib/sessions keeps every handler and changes one
// line, the store's construction:
//
//	store, err := contrib.NewStore(os.Getenv("SESSION_DSN"))
//	router.Use(ginsessions.Sessions("mysession", store))
//
// It lives in its own package so that applications that do not use it
// compile neither gin-contrib/sessions nor gorilla/sessions, and run no
// gob.Register at start-up. Every store operation goes through the
// engine of a sessions.Manager, so the adapter and the native middleware
// follow the same rules and, on one Manager, share sessions.
package contrib

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"sync"
	"time"
	"weak"

	ginsessions "github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// Store is a gin-contrib/sessions Store (ginsessions.Sessions,
// ginsessions.Default, Session.Get/Set/Delete/Clear/AddFlash/Flashes/
// Options/Save) over a sessions.Manager. It keeps the Manager's guarantees
// where gin-contrib's API lets it:
//
//   - Strict IDs. The cookie holds the raw 43-character session ID
//     (256 random bits; no securecookie signing is needed for a bearer
//     token of that strength). An ID of another shape, or one the store
//     does not know, is never adopted: the session is new, and a save
//     stores it under a fresh ID.
//   - Hashed keys at rest: records are stored under a SHA-256 of the ID,
//     never the ID.
//   - No lost updates of distinct keys. Save does not overwrite the whole
//     map: it compares the session's Values with what this *Session loaded
//     (or last saved), and merges only that difference (keys set, keys
//     deleted) into the newest stored record with the core's conditional
//     save, retried on conflict. Two overlapping requests that change
//     different keys both keep their changes; on the same key the later
//     save wins.
//   - The record format is the core's: a session written through the
//     adapter and one written by the native middleware on the same backend
//     are the same bytes, given the same Codec (see GobCodec).
//
// Where gin-contrib's API forces a difference, the store says so:
//
//   - Keys must be strings. gorilla's Values is a map[interface{}]interface{},
//     but records are keyed by string so the native API can read them; Save
//     of a session with a non-string key fails with an error naming the key
//     and writes nothing. (A stringified key would not read back as the key
//     the handler used: Get(1) would miss a value stored as "1".)
//   - Values are encoded with the Manager's Codec. NewStore and
//     NewStoreWith default it to GobCodec, which keeps Go types
//     behind interface{} as gorilla's stores do; as with gorilla, call
//     gob.Register for your own types (and time.Time, map[string]any).
//     With JSONCodec, Get returns JSON's types (float64, string, bool,
//     []any, map[string]any).
//   - A value that does not decode with the Codec (written by another codec,
//     or of a type not registered with gob in this process) is left out of
//     Values, kept in the store untouched by this request, and logged.
//   - A new session that holds no values is not stored and gets no cookie
//     (gorilla stores write empty sessions).
//   - The session ID is the raw cookie value; Session.ID() returns it. It is
//     a bearer credential: do not log it.
type Store struct {
	m      *sessions.Manager
	eng    *core.Engine
	cfg    sessions.Config
	ownM   bool
	mu     sync.RWMutex
	opts   gsessions.Options
	states sync.Map // weak.Pointer[gsessions.Session] → *contribState
}

var _ ginsessions.Store = (*Store)(nil)

// contribState is what the store knows about one *gsessions.Session: the
// stored view the merge loop works on, and the encoded values the
// Session's Values last agreed with the store on (as loaded, or as last
// saved), from which Save computes the request's delta. It lives beside
// the Session in Store.states, keyed by a weak pointer, and goes
// away with it; it never references the Session, and nothing of it shows
// in Values.
type contribState struct {
	mu sync.Mutex
	core.State
	snap      map[string][]byte
	cookieHdr string // the Set-Cookie value this store last added for the session
	renew     bool   // Renew was called: the next Save gives the session a new ID
}

// NewStore returns a gin-contrib/sessions Store backed by the driver
// the DSN names (memory://, file:///dir, redis://…, rediss://…,
// memcached://…, or any registered scheme; "" means memory://), with
// DefaultConfig otherwise and GobCodec for values. Its default cookie
// options are Path "/", HttpOnly, SameSite=Lax, MaxAge 7200 (the default
// 120-minute lifetime) and not Secure; change them with Options, as with
// any gin-contrib store.
//
// The dynamic type of the Store is *Store; close it on shutdown
// (store.(*contrib.Store).Close()) or use NewStoreWith,
// which returns the concrete type. A DSN that does not open is an error
// with any password masked.
func NewStore(dsn string) (ginsessions.Store, error) {
	cfg := sessions.DefaultConfig()
	cfg.DSN = dsn
	cs, err := NewStoreWith(cfg)
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// NewStoreWith returns a gin-contrib/sessions Store over a new
// Manager built from cfg (NewManager's validation and defaults), except
// that a nil cfg.Codec means GobCodec rather than JSONCodec, so Get
// returns values with the Go types they were stored with.
//
// The store's default cookie options come from cfg: Path, Domain, Secure,
// HttpOnly (unless ScriptAccess), SameSite, and MaxAge = Lifetime in seconds (0, a browser-session
// cookie, with ExpireOnClose). cfg.CookieName is not used: gin-contrib
// names the cookie after the session (ginsessions.Sessions(name, store)).
// Close closes the Manager and its driver.
func NewStoreWith(cfg sessions.Config) (*Store, error) {
	if cfg.Codec == nil {
		cfg.Codec = GobCodec{}
	}
	m, err := sessions.NewManager(cfg)
	if err != nil {
		return nil, err
	}
	cs := NewStoreFromManager(m)
	cs.ownM = true
	return cs, nil
}

// NewStoreFromManager returns a gin-contrib/sessions Store that
// shares m's driver, Codec, lifetimes and size limit: the native middleware
// (m.Handler) and the adapter then read and write the same sessions.
// Values are encoded with m's Codec, so give m GobCodec for gorilla-style
// typed values. Default cookie options are derived from m's Config as in
// NewStoreWith. Close leaves m open; the caller closes it.
func NewStoreFromManager(m *sessions.Manager) *Store {
	cfg := m.Config()
	maxAge := 0
	if !cfg.ExpireOnClose {
		maxAge = max(1, int((cfg.Lifetime+time.Second-1)/time.Second))
	}
	return &Store{m: m, eng: core.EngineOf(m), cfg: cfg, opts: gsessions.Options{
		Path:        cfg.Path,
		Domain:      cfg.Domain,
		MaxAge:      maxAge,
		Secure:      cfg.Secure,
		HttpOnly:    !cfg.ScriptAccess,
		SameSite:    cfg.SameSite,
		Partitioned: cfg.Partitioned,
	}}
}

// Manager returns the store's Manager, for Snapshot or for the native
// middleware on the same sessions.
func (cs *Store) Manager() *sessions.Manager { return cs.m }

// Close closes the Manager (and its driver) if the store created it:
// stores from NewStore and NewStoreWith. A store from
// NewStoreFromManager leaves its Manager open.
func (cs *Store) Close() error {
	if !cs.ownM {
		return nil
	}
	return cs.m.Close()
}

// Options replaces the default cookie options of sessions this store
// creates from now on, as every gin-contrib store does: the whole set is
// replaced, so fields left zero are zero (no Path attribute if Path is
// empty). MaxAge also sets the store's time to live: MaxAge > 0 keeps a
// session that long after its last save (and sends Max-Age), MaxAge == 0
// keeps it for the Manager's Lifetime (and sends a browser-session
// cookie), and MaxAge < 0 on a session deletes it at Save. The absolute
// lifetime, if configured, caps every time to live.
func (cs *Store) Options(o ginsessions.Options) {
	g := o.ToGorillaOptions()
	// gin-contrib's Options has no Partitioned: the Config's stands.
	g.Partitioned = cs.cfg.Partitioned
	cs.mu.Lock()
	cs.opts = *g
	cs.mu.Unlock()
}

func (cs *Store) defaultOptions() gsessions.Options {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	return cs.opts
}

// Get returns the request's session of the given name, loading it on the
// first call and returning the same *Session afterwards (gorilla's
// per-request registry), as gorilla/sessions stores do.
func (cs *Store) Get(r *http.Request, name string) (*gsessions.Session, error) {
	return gsessions.GetRegistry(r).Get(cs, name)
}

// New loads the session named name from the request's cookie of that name,
// without the registry: each call loads again. It never returns a nil
// session. The session is new (IsNew, empty ID, no values) unless the
// cookie holds a well-formed ID of a live record (strict mode); a store
// error returns a new, empty session and the error, and Save then retries
// the load before it writes anything. Values that do not decode with the
// Codec are left out and logged.
func (cs *Store) New(r *http.Request, name string) (*gsessions.Session, error) {
	s := gsessions.NewSession(cs, name)
	opts := cs.defaultOptions()
	s.Options = &opts
	s.IsNew = true
	st := cs.track(s, &contribState{})
	st.mu.Lock()
	defer st.mu.Unlock()
	ck, err := r.Cookie(name)
	if err != nil || !core.ValidID(ck.Value) {
		return s, nil
	}
	st.SetID(ck.Value)
	found, err := cs.eng.Load(r.Context(), &st.State)
	if err != nil {
		st.Fresh = false
		return s, core.Wrap(fmt.Sprintf("contrib: session %q", name), err)
	}
	if !found {
		st.Drop()
		return s, nil
	}
	s.ID, s.IsNew = st.ID, false
	st.snap = make(map[string][]byte, len(st.Base))
	hidden := 0
	for _, e := range st.Base {
		k, raw := e.Key, e.Val
		var v any
		if err := cs.cfg.Codec.Unmarshal(raw, &v); err != nil {
			hidden++
			continue
		}
		s.Values[k] = v
		st.snap[k] = raw
	}
	if hidden > 0 {
		cs.cfg.Logger.Warn("sessions: contrib: stored values that do not decode with the store's codec are left out of the session and kept in the store (gob.Register their types, or use the codec that wrote them)",
			"session", name, "values", hidden)
	}
	return s, nil
}

// Save stores what the handler changed in s and sets the session cookie
// on w with s.Options, in gorilla's manner:
//
//   - With s.Options.MaxAge < 0 it deletes the session's record and
//     expires the cookie (logout). The session is new afterwards.
//   - Otherwise it merges the difference between s.Values and what s
//     loaded (or last saved) into the newest stored record by conditional
//     save, retried on conflict: keys another request changed meanwhile
//     keep their values unless s changed them too. A record that vanished
//     meanwhile (expired, deleted) is not resurrected: the changes start a
//     new session under a new ID. The time to live is MaxAge seconds if
//     positive, else the Manager's Lifetime. A save with no change extends
//     the idle deadline when it is stale (Config.TouchInterval) and resends
//     the cookie. A new session with no values stores nothing and sets no
//     cookie.
//
// An error writes nothing: a non-string key, a value the Codec cannot
// encode (with GobCodec: a type not registered with gob), a record over
// Config.MaxRecordSize, a store failure, or ErrResponseWritten when a new
// session is saved after the response headers went out (its cookie could
// no longer reach the client). Each Save replaces the Set-Cookie header
// the previous Save of the same session added.
func (cs *Store) Save(r *http.Request, w http.ResponseWriter, s *gsessions.Session) error {
	if s == nil {
		return errors.New("sessions: contrib: Save of a nil session")
	}
	st := cs.stateFor(s)
	st.mu.Lock()
	defer st.mu.Unlock()
	opts := s.Options
	if opts == nil {
		o := cs.defaultOptions()
		opts = &o
	}
	if cs.cfg.Partitioned && !opts.Partitioned {
		// Session.Options(ginsessions.Options{…}) cannot carry it.
		o := *opts
		o.Partitioned = true
		opts = &o
	}
	ctx := context.Background()
	if r != nil {
		ctx = core.Detach(r.Context())
	}

	if opts.MaxAge < 0 {
		if st.Key != "" {
			if err := cs.eng.Destroy(ctx, st.Key, st.Meta.User); err != nil {
				return core.Wrap(fmt.Sprintf("contrib: session %q", s.Name()), err)
			}
		}
		st.Drop()
		st.Delta.Reset()
		st.snap = nil
		s.ID, s.IsNew = "", true
		cs.setCookie(w, st, gsessions.NewCookie(s.Name(), "", opts))
		return nil
	}

	d, cur, err := cs.diff(s, st)
	if err != nil {
		return err
	}
	if st.renew {
		if err := cs.renew(ctx, st, d, w); err != nil {
			return core.Wrap(fmt.Sprintf("contrib: session %q", s.Name()), err)
		}
		// Renewed: nothing is left to save. Not renewed because the
		// session ended meanwhile, or never stored: the changes go to the
		// fresh ID by the save below.
		d, st.Delta = st.Delta, core.Delta{}
		if d.Empty() {
			st.snap = cur
		}
	}
	lifetime := cs.cfg.Lifetime
	if opts.MaxAge > 0 {
		lifetime = time.Duration(opts.MaxAge) * time.Second
	}
	if d.Empty() {
		if !st.Exists {
			return nil // nothing stored, nothing to store
		}
		cs.touch(ctx, st, lifetime)
	} else {
		if !st.Exists && responseWritten(w) {
			return sessions.ErrResponseWritten
		}
		if st.ID == "" {
			st.StartNew()
		}
		st.Delta = d
		out, err := cs.eng.Save(ctx, &st.State, lifetime)
		st.Delta.Reset()
		if err != nil {
			return core.Wrap(fmt.Sprintf("contrib: session %q", s.Name()), err)
		}
		st.snap = cur
		if !out.Written {
			// The changes left nothing to store in a session that does
			// not exist (any more).
			s.ID, s.IsNew = "", true
			return nil
		}
	}
	s.ID, s.IsNew = st.ID, false
	cs.setCookie(w, st, gsessions.NewCookie(s.Name(), st.ID, opts))
	return nil
}

// diff encodes s.Values and compares them with st.snap: keys whose value
// changed (or appeared) are set, keys that disappeared are deleted. A
// value whose encoding differs from the snapshot's but decodes to an equal
// value (gob writes maps in random order) counts as unchanged, so a
// request that only read it never overwrites another request's change.
// cur is the new snapshot.
func (cs *Store) diff(s *gsessions.Session, st *contribState) (d core.Delta, cur map[string][]byte, err error) {
	codec := cs.cfg.Codec
	cur = make(map[string][]byte, len(s.Values))
	for k, v := range s.Values {
		key, ok := k.(string)
		if !ok {
			return core.Delta{}, nil, fmt.Errorf("sessions: contrib: session %q: key %#v is a %T, not a string; nothing was saved", s.Name(), k, k)
		}
		raw, err := codec.Marshal(v)
		if err != nil {
			return core.Delta{}, nil, fmt.Errorf("sessions: contrib: session %q: encode %q (%T): %w (gob.Register the type); nothing was saved", s.Name(), key, v, err)
		}
		if old, ok := st.snap[key]; ok && cs.sameValue(old, raw, v) {
			cur[key] = old
			continue
		}
		cur[key] = raw
		d.Set(key, raw)
	}
	for k := range st.snap {
		if _, ok := cur[k]; !ok {
			d.Del(k)
		}
	}
	return d, cur, nil
}

func (cs *Store) sameValue(old, raw []byte, v any) bool {
	if bytes.Equal(old, raw) {
		return true
	}
	var prev any
	if cs.cfg.Codec.Unmarshal(old, &prev) != nil {
		return false
	}
	return reflect.DeepEqual(prev, v)
}

// touch extends the idle deadline of an unchanged session when it is
// stale, as the middleware does: Touch if the driver has it, else a
// conditional save of the record as loaded. A failure is logged, not
// returned: no change of the handler's is lost by it.
func (cs *Store) touch(ctx context.Context, st *contribState, lifetime time.Duration) {
	if !cs.eng.TouchDue(&st.State, lifetime) {
		return
	}
	if _, err := cs.eng.Touch(ctx, &st.State, lifetime); err != nil {
		cs.cfg.Logger.Warn("sessions: contrib: extending a session's idle deadline failed", "error", err)
	}
}

// setCookie adds ck to w, replacing the cookie an earlier Save of the same
// session added, so a response carries one Set-Cookie per session.
func (cs *Store) setCookie(w http.ResponseWriter, st *contribState, ck *http.Cookie) {
	v := ck.String()
	if v == "" || w == nil {
		return
	}
	h := w.Header()
	if st.cookieHdr != "" {
		cur := h["Set-Cookie"]
		for i, x := range cur {
			if x == st.cookieHdr {
				h["Set-Cookie"] = append(cur[:i:i], cur[i+1:]...)
				break
			}
		}
	}
	st.cookieHdr = v
	h.Add("Set-Cookie", v)
}

// responseWritten reports whether w (gin's writer, or any writer that
// tells) has sent its headers already.
func responseWritten(w http.ResponseWriter) bool {
	ww, ok := w.(interface{ Written() bool })
	return ok && ww.Written()
}

// track registers st for s, unless s already has a state, which it
// returns. The entry is removed when s is garbage-collected.
func (cs *Store) track(s *gsessions.Session, st *contribState) *contribState {
	// The cookie this adapter sends carries the gorilla Options' expiry,
	// not the store's deadline: no save or touch of its (a touch may
	// renew the user index by a save) records it as the cookie the
	// middleware's saves measure against.
	st.NoCookie = true
	wp := weak.Make(s)
	if v, loaded := cs.states.LoadOrStore(wp, st); loaded {
		return v.(*contribState)
	}
	runtime.AddCleanup(s, cs.untrack, wp)
	return st
}

func (cs *Store) untrack(wp weak.Pointer[gsessions.Session]) { cs.states.Delete(wp) }

// stateFor returns s's state. A session this store did not create with
// New (gsessions.NewSession(store, name) by hand) starts with nothing
// loaded: its values are all new, and an ID set on it is used only if
// the store holds a live record under it at Save (never adopted
// otherwise).
func (cs *Store) stateFor(s *gsessions.Session) *contribState {
	if v, ok := cs.states.Load(weak.Make(s)); ok {
		return v.(*contribState)
	}
	st := &contribState{}
	if core.ValidID(s.ID) {
		st.SetID(s.ID)
	}
	return cs.track(s, st)
}

// Renew gives the session s a new ID at its next Save (s.Save()), with the
// same values, and ends the old ID at once: call it at login, before
// binding the user, to defeat session fixation, as the native
// sessions.Refresh does (gin-contrib's Session has no call for it).
//
//	session := ginsessions.Default(c)
//	if err := contrib.Renew(session); err != nil { … }
//	session.Set("user", user.ID)
//	if err := session.Save(); err != nil { … }
//
// The renewal is the engine's: conditional on the stored record still
// being the one this request loaded, so a session revoked or logged out
// meanwhile is not renewed (the save then starts a new session holding
// only what this request set). A session not stored yet simply gets a
// fresh ID. Renew returns an error when s does not come from this
// package's Store.
func Renew(s ginsessions.Session) error {
	inner, ok := s.(interface{ Session() *gsessions.Session })
	if !ok {
		return errors.New("sessions: contrib: Renew: not a gin-contrib session")
	}
	gs := inner.Session()
	if gs == nil {
		return errors.New("sessions: contrib: Renew: the session could not be loaded")
	}
	cs, ok := gs.Store().(*Store)
	if !ok {
		return fmt.Errorf("sessions: contrib: Renew: the session's store is a %T, not this package's Store", gs.Store())
	}
	st := cs.stateFor(gs)
	st.mu.Lock()
	st.renew = true
	st.mu.Unlock()
	return nil
}

// renew performs a Renew at Save: the pending changes d ride along to the
// new ID. A session the store does not hold gets a fresh ID for its save.
func (cs *Store) renew(ctx context.Context, st *contribState, d core.Delta, w http.ResponseWriter) error {
	st.renew = false
	if !st.Exists {
		st.StartNew()
		st.Delta = d
		return nil
	}
	if responseWritten(w) {
		return sessions.ErrResponseWritten
	}
	st.Delta = d
	if err := cs.eng.Rekey(ctx, &st.State); err != nil {
		st.Delta.Reset()
		return err
	}
	return nil
}
