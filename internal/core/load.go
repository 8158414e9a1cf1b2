package core

import (
	"context"
	"time"
)

// Load reads the record under st.Key into st and reports whether a usable
// one was there. A session the current backend lacks is moved over from
// the previous backend first, when one is configured. A record that does
// not open or decode, or one past its absolute lifetime, is deleted (with
// ctx's values but not its cancellation) and reported as not found; st is
// then unchanged, as it is on a store error. The caller decides what
// absence means for its state (strict mode: never adopt the ID).
func (e *Engine) Load(ctx context.Context, st *State) (bool, error) {
	ctx, start := e.begin(ctx, OpLoad)
	found, err := e.load(ctx, st)
	e.count.loads.Add(1)
	result := ResultMiss
	switch {
	case err != nil:
		e.count.loadErrors.Add(1)
	case found:
		e.count.hits.Add(1)
		result = ResultHit
	default:
		e.count.misses.Add(1)
	}
	e.end(ctx, start, Done{Op: OpLoad, Result: result, Err: err})
	return found, err
}

// load is Load without the counting, for the reload inside a save.
func (e *Engine) load(ctx context.Context, st *State) (bool, error) {
	rec, ver, exp, err := e.driver.Load(ctx, st.Key)
	if err != nil {
		return false, wrap("load", KindStore, err)
	}
	if rec == nil && e.prev != nil {
		if _, err := e.moveFromPrevious(ctx, st.Key); err != nil {
			return false, wrap("load", KindStore, err)
		}
		// Look again whatever moveFromPrevious found: the session moved
		// either by us or, between our two looks, by another request or
		// process (a mover writes the new copy before deleting the old).
		if rec, ver, exp, err = e.driver.Load(ctx, st.Key); err != nil {
			return false, wrap("load", KindStore, err)
		}
	}
	if rec == nil {
		return false, nil
	}
	r, ok := e.usable(ctx, st.Key, rec)
	if !ok {
		return false, nil
	}
	st.Exists = true
	st.Fresh = true
	st.Version = ver
	st.Created = r.Created
	st.Expires = exp
	st.Raw = rec
	st.Base = r.Values
	st.Meta = r.Meta
	return true, nil
}

// usable decodes rec, stored under key. A record that does not open or
// decode, or one past its absolute lifetime, is deleted and reported as
// unusable: the visitor gets a fresh session.
func (e *Engine) usable(ctx context.Context, key string, rec []byte) (Record, bool) {
	r, err := e.decode(key, rec)
	if err != nil {
		e.opts.Logger.Warn("sessions: a stored record did not open or decode; the visitor gets a fresh session and the record is removed",
			"error", err)
		_ = e.driver.Delete(Detach(ctx), key)
		return Record{}, false
	}
	if e.pastAbsolute(r.Created) {
		_ = e.driver.Delete(Detach(ctx), key)
		return Record{}, false
	}
	return r, true
}

// reload reads the newest record under st.Key for the merge loop. A record
// that vanished (expired, destroyed, revoked) since the request loaded it
// is never resurrected under the old ID: st starts a new session, which
// what the request changed goes to.
func (e *Engine) reload(ctx context.Context, st *State) error {
	found, err := e.load(ctx, st)
	if err != nil {
		st.Fresh = false
		return err
	}
	if !found {
		st.Drop()
		st.StartNew()
	}
	return nil
}

// expiresAt is when a save or touch made at now with ttl lets the
// session lapse.
func expiresAt(now time.Time, ttl time.Duration) time.Time { return now.Add(ttl) }
