package sessions

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// store.go holds everything the core does through a Driver on behalf of
// one session — load, merge-save, touch, re-key, delete — in one place,
// shared by the middleware (session.go), the gin-contrib adapter
// (contrib.go), Snapshot and the Manager's per-user operations (users.go).
// Records are sealed (crypt.go) and user-indexed here, and a session the
// current backend lacks is moved over from the previous one here, so every
// caller gets those for free.

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

// stored is one request's view of one stored session: what the merge loop
// (mergeSave) reads and updates. The middleware's session embeds it; so
// does the gin-contrib adapter's per-session state (contrib.go).
type stored struct {
	id      string // the session ID the client holds or will get; "" if none
	key     string // storeKey(id)
	exists  bool   // a record under key was loaded or saved by this request
	version uint64 // version of base; 0 with exists means "reload before saving"
	fresh   bool   // base and version are as loaded, usable for a conditional save
	created time.Time
	expires time.Time // the store's idle deadline for key
	raw     []byte    // the record bytes as loaded (for the touch fallback)
	base    values
	meta    recordMeta
	d       delta

	// noCookie is set by the caller when a Set-Cookie header it adds now
	// would not reach the client (the headers are out): a save then does
	// not record a cookie as sent.
	noCookie bool
	// cookieDue is set by mergeSave: the client's cookie must be (re)sent
	// with the response: the session is new or has a new ID, or its idle
	// deadline moved more than TouchInterval past the cookie's expiry.
	cookieDue bool
}

// drop forgets the ID and the loaded record.
func (st *stored) drop() {
	st.id, st.key = "", ""
	st.exists, st.fresh = false, false
	st.version = 0
	st.raw, st.base = nil, nil
	st.meta = recordMeta{}
}

// startNew gives st a fresh, not yet stored ID.
func (st *stored) startNew() {
	st.id = newID()
	st.key = storeKey(st.id)
	st.exists, st.fresh = false, true
	st.version = 0
	st.created = time.Now()
	st.raw, st.base = nil, nil
	st.meta = recordMeta{}
}

// reloader is what mergeSave needs from its caller besides the stored view:
// load the newest record under st.key into it (leaving st.exists false,
// with no ID, when there is none), and start a new session.
type reloader interface {
	load(ctx context.Context) error
	newSession()
}

// encode seals (when encryption is on) the envelope of r for key.
func (m *Manager) encode(key string, r record) []byte {
	b := encodeRecord(r)
	if m.ring != nil {
		b = m.ring.seal(key, b)
	}
	return b
}

// decode opens and decodes a record stored under key.
func (m *Manager) decode(key string, rec []byte) (record, error) {
	if m.ring != nil {
		plain, err := m.ring.open(key, rec)
		if err != nil {
			return record{}, err
		}
		rec = plain
	}
	return decodeRecord(rec)
}

// checkRecord refuses a record the store should not be asked to hold.
func (m *Manager) checkRecord(values values, rec []byte) error {
	if max := m.cfg.MaxKeys; max > 0 && len(values) > max {
		return fmt.Errorf("sessions: save: the session holds %d values, over the limit of %d (Config.MaxKeys); nothing was written", len(values), max)
	}
	if max := m.cfg.MaxRecordSize; max > 0 && len(rec) > max {
		return fmt.Errorf("sessions: save: the session encodes to %d bytes, over the %d-byte limit (Config.MaxRecordSize); nothing was written", len(rec), max)
	}
	return nil
}

// ttlAt returns the time to live of a save or touch made at now of a
// session created at created, for an idle lifetime of lifetime, capped by
// the absolute lifetime; ok is false when the absolute deadline has passed.
func (m *Manager) ttlAt(created, now time.Time, lifetime time.Duration) (time.Duration, bool) {
	ttl := lifetime
	if abs := m.cfg.AbsoluteLifetime; abs > 0 {
		left := created.Add(abs).Sub(now)
		if left <= 0 {
			return 0, false
		}
		ttl = min(ttl, left)
	}
	return max(ttl, time.Millisecond), true
}

// loadStored reads the record under st.key into st and reports whether a
// usable one was there. A session the current backend lacks is moved over
// from the previous backend first, when one is configured. A record that
// does not open or decode, or one past its absolute lifetime, is deleted
// (with ctx's values but not its cancellation) and reported as not found; st is then unchanged, as it is
// on a store error. The caller decides what absence means for its state
// (strict mode: never adopt the ID).
func (m *Manager) loadStored(ctx context.Context, st *stored) (bool, error) {
	rec, ver, exp, err := m.driver.Load(ctx, st.key)
	if err != nil {
		return false, fmt.Errorf("sessions: load: %w", err)
	}
	if rec == nil && m.prev != nil {
		if _, err := m.moveFromPrevious(ctx, st.key); err != nil {
			return false, err
		}
		// Look again whatever moveFromPrevious found: the session moved
		// either by us or, between our two looks, by another request or
		// process (a mover writes the new copy before deleting the old).
		if rec, ver, exp, err = m.driver.Load(ctx, st.key); err != nil {
			return false, fmt.Errorf("sessions: load: %w", err)
		}
	}
	if rec == nil {
		return false, nil
	}
	r, err := m.decode(st.key, rec)
	if err != nil {
		m.cfg.Logger.Warn("sessions: a stored record did not open or decode; the visitor gets a fresh session and the record is removed",
			"key", st.key, "error", err)
		_ = m.driver.Delete(context.WithoutCancel(ctx), st.key)
		return false, nil
	}
	if m.pastAbsolute(r.created) {
		_ = m.driver.Delete(context.WithoutCancel(ctx), st.key)
		return false, nil
	}
	st.exists = true
	st.fresh = true
	st.version = ver
	st.created = r.created
	st.expires = exp
	st.raw = rec
	st.base = r.values
	st.meta = r.meta
	return true, nil
}

// pastAbsolute reports whether a session created at created has outlived
// Config.AbsoluteLifetime. Without one it reads no clock.
func (m *Manager) pastAbsolute(created time.Time) bool {
	return m.cfg.AbsoluteLifetime > 0 && !time.Now().Before(created.Add(m.cfg.AbsoluteLifetime))
}

// mergeSave is the one save loop of the core, used by the middleware and
// by the gin-contrib adapter: it applies st.d to the newest stored record
// and writes it conditionally: load (with its version), apply, conditional
// write; on a version conflict, load again (r.load) and re-apply, after a
// growing random backoff. A record that vanished meanwhile is never
// resurrected under its old ID: r.newSession starts a new one. The time to
// live is lifetime, capped by the absolute lifetime.
//
// A session bound to a user is entered in the user index before the
// record is written (an index entry ahead of its record is harmless; a
// record its index does not cover would escape RevokeUser), and the entry
// is renewed when the session would outlive it.
//
// saved reports whether a record was written; it is false with a nil
// error when a new session's changes cancel out (nothing to store). On
// success st holds what was written, with st.d reset.
func (m *Manager) mergeSave(ctx context.Context, st *stored, r reloader, lifetime time.Duration) (saved bool, err error) {
	for attempt := 0; attempt < maxSaveAttempts; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(conflictBackoff(attempt))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return false, fmt.Errorf("sessions: save: %w", ctx.Err())
			}
		}
		if !st.fresh {
			if err := r.load(ctx); err != nil {
				return false, fmt.Errorf("sessions: save: %w", err)
			}
			if !st.exists {
				// The record vanished (expired, destroyed, revoked) since
				// this request loaded it: never resurrect it under the old
				// ID. What this request changed starts a new session.
				r.newSession()
			}
		}
		values := st.d.apply(st.base)
		meta := st.meta
		if st.d.meta != nil {
			meta = *st.d.meta
			meta.cookieUntil = st.meta.cookieUntil // not the request's to change
		}
		if !st.exists && len(values) == 0 && meta.user == "" {
			// A new session whose changes cancel out: nothing to store.
			st.d.reset()
			return false, nil
		}
		now := time.Now()
		ttl, ok := m.ttlAt(st.created, now, lifetime)
		if !ok {
			r.newSession()
			continue
		}
		if err := m.indexFor(ctx, st.key, &meta, st.meta.user, now, ttl); err != nil {
			return false, err
		}
		cookieDue := m.cookieDue(st.exists, meta.cookieUntil, now.Add(ttl))
		if cookieDue && !st.noCookie && !m.cfg.ExpireOnClose {
			meta.cookieUntil = now.Add(ttl)
		}
		rec := m.encode(st.key, record{created: st.created, meta: meta, values: values})
		if err := m.checkRecord(values, rec); err != nil {
			return false, err
		}
		written, err := m.driver.Save(ctx, st.key, rec, st.version, ttl)
		if err != nil {
			return false, fmt.Errorf("sessions: save: %w", err)
		}
		if !written {
			st.fresh = false
			continue
		}
		if old := st.meta.user; old != "" && old != meta.user {
			m.unindex(ctx, old, st.key)
		}
		st.exists = true
		st.fresh = false // the driver does not report the new version
		st.base, st.raw, st.meta = values, rec, meta
		st.expires = now.Add(ttl)
		st.cookieDue = cookieDue
		st.d.reset()
		return true, nil
	}
	return false, ErrConflict
}

// cookieDue reports whether a save that sets the idle deadline to
// deadline must send the session cookie: always for a session not stored
// before (a new one, or one that got a new ID); for a browser-session
// cookie (ExpireOnClose) never again; otherwise when the client's cookie,
// last sent with an expiry of cookieUntil, would expire more than
// TouchInterval before the session does. Within that slack a response to
// a write carries no Set-Cookie, as a response to a read does not.
func (m *Manager) cookieDue(existed bool, cookieUntil, deadline time.Time) bool {
	switch {
	case !existed:
		return true
	case m.cfg.ExpireOnClose:
		return false
	default:
		return deadline.Sub(cookieUntil) > max(m.cfg.TouchInterval, 0)
	}
}

// touchStored extends the idle deadline of an unchanged, loaded session to
// lifetime from now (capped by the absolute lifetime), without rewriting
// the data when the driver can (Toucher), else by a conditional save of the
// record as loaded. A session whose user-index entry would expire before
// the new deadline is saved in full instead, renewing the entry. touched
// reports whether the deadline moved.
func (m *Manager) touchStored(ctx context.Context, st *stored, r reloader, lifetime time.Duration) (touched bool, err error) {
	now := time.Now()
	ttl, ok := m.ttlAt(st.created, now, lifetime)
	if !ok || !now.Add(ttl).After(st.expires) {
		return false, nil // capped by the absolute lifetime: nothing to extend
	}
	if st.meta.user != "" && m.index != nil && now.Add(ttl).After(st.meta.indexedUntil) {
		return m.mergeSave(ctx, st, r, lifetime)
	}
	switch {
	case m.toucher != nil:
		err = m.toucher.Touch(ctx, st.key, ttl)
	case st.fresh:
		var saved bool
		saved, err = m.driver.Save(ctx, st.key, st.raw, st.version, ttl)
		st.fresh = false
		if err == nil && !saved {
			return false, nil // another request wrote it, which extended it
		}
	default:
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sessions: touch: %w", err)
	}
	st.expires = now.Add(ttl)
	return true, nil
}

// rekeyStored moves the session in st to a new ID with the same data (its
// delta applied) and deletes the old record everywhere, so the old ID is
// dead. On error st is unchanged and the session keeps its old ID.
func (m *Manager) rekeyStored(ctx context.Context, st *stored) error {
	now := time.Now()
	ttl, ok := m.ttlAt(st.created, now, m.cfg.Lifetime)
	if !ok {
		return errors.New("sessions: refresh: the session has passed its absolute lifetime")
	}
	values := st.d.apply(st.base)
	meta := st.meta
	if st.d.meta != nil {
		meta = *st.d.meta
	}
	id := newID()
	key := storeKey(id)
	if err := m.indexFor(ctx, key, &meta, "", now, ttl); err != nil {
		return fmt.Errorf("sessions: refresh: %w", err)
	}
	rec := m.encode(key, record{created: st.created, meta: meta, values: values})
	if err := m.checkRecord(values, rec); err != nil {
		return err
	}
	saved, err := m.driver.Save(ctx, key, rec, 0, ttl)
	if err == nil && !saved {
		err = errors.New("a record already exists under the new key")
	}
	if err != nil {
		return fmt.Errorf("sessions: refresh: save under the new ID: %w", err)
	}
	if err := m.deleteStored(ctx, st.key, st.meta.user); err != nil {
		// The old ID must not stay valid beside the new one: undo.
		_ = m.driver.Delete(ctx, key)
		if meta.user != "" {
			m.unindex(ctx, meta.user, key)
		}
		return fmt.Errorf("sessions: refresh: the session keeps its old ID: %w", err)
	}
	st.id, st.key = id, key
	st.exists, st.fresh = true, false
	st.base, st.raw, st.meta = values, rec, meta
	st.expires = now.Add(ttl)
	st.d.reset()
	return nil
}

// deleteStored deletes the record under key from the current backend and,
// during a move, from the previous one too, so a logout can never be
// undone by an old copy; then it drops the key from user's index (best
// effort: a stale entry is pruned when the index is next read).
func (m *Manager) deleteStored(ctx context.Context, key, user string) error {
	if err := m.driver.Delete(ctx, key); err != nil {
		return fmt.Errorf("sessions: delete: %w", err)
	}
	if m.prev != nil {
		if err := m.prev.Delete(ctx, key); err != nil {
			return fmt.Errorf("sessions: delete from the previous backend: %w", err)
		}
	}
	if user != "" {
		m.unindex(ctx, user, key)
	}
	return nil
}

// moveFromPrevious copies the session under key from the previous backend
// to the current one, keeping its remaining lifetime exactly (the record
// bytes move unchanged, so its creation time and absolute deadline do
// too), enters it in the current backend's user index, and deletes the old
// copy. It reports whether the current backend now holds the session.
func (m *Manager) moveFromPrevious(ctx context.Context, key string) (bool, error) {
	rec, _, exp, err := m.prev.Load(ctx, key)
	if err != nil {
		return false, fmt.Errorf("sessions: load from the previous backend: %w", err)
	}
	if rec == nil {
		return false, nil
	}
	ttl := m.cfg.Lifetime
	if !exp.IsZero() {
		ttl = time.Until(exp)
	}
	if ttl < time.Millisecond {
		return false, nil
	}
	if r, err := m.decode(key, rec); err == nil && r.meta.user != "" && m.index != nil {
		until := r.meta.indexedUntil
		if until.Before(time.Now().Add(ttl)) {
			until = time.Now().Add(ttl + m.cfg.Lifetime)
		}
		if err := m.index.IndexUser(ctx, userKey(r.meta.user), key, until); err != nil {
			return false, fmt.Errorf("sessions: move from the previous backend: index: %w", err)
		}
	}
	// The deadline, not a duration measured before the index round trip,
	// is what carries over.
	if !exp.IsZero() {
		if ttl = time.Until(exp); ttl < time.Millisecond {
			return false, nil
		}
	}
	if _, err := m.driver.Save(ctx, key, rec, 0, ttl); err != nil {
		return false, fmt.Errorf("sessions: move from the previous backend: %w", err)
	}
	// Saved, or another request moved it first: either way the current
	// backend holds it now. The old copy goes; if that fails it is only
	// read again after the new one is gone, and Destroy deletes both.
	if err := m.prev.Delete(ctx, key); err != nil {
		m.cfg.Logger.Warn("sessions: a session moved to the new backend could not be deleted from the previous one", "key", key, "error", err)
	}
	return true, nil
}
