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

// usable decodes rec, stored under key. A tombstone (a session ended or
// renewed) is no session. A record that does not open or decode (sealed
// under a key this instance does not have yet during a rotation, corrupt,
// tampered) is no session for this request, and is left as it is: it is
// not this instance's to delete or overwrite, and an instance that can
// open it keeps using it. It is counted (Stats.Unreadable) and logged,
// rate-limited. A record past its absolute lifetime is deleted.
func (e *Engine) usable(ctx context.Context, key string, rec []byte) (Record, bool) {
	if isTombstone(rec) {
		return Record{}, false
	}
	r, err := e.decode(key, rec)
	if err != nil {
		e.unreadable(err)
		return Record{}, false
	}
	if e.pastAbsolute(r.Created) {
		_ = e.driver.Delete(Detach(ctx), key)
		return Record{}, false
	}
	return r, true
}

// unreadableLogEvery bounds the warnings about records that do not open:
// during a rotation every request of a stale instance may meet one.
const unreadableLogEvery = time.Minute

// unreadable counts a record that did not open or decode and logs it, at
// most once per unreadableLogEvery, with how many were met since.
func (e *Engine) unreadable(err error) {
	n := e.count.unreadable.Add(1)
	now := time.Now().UnixNano()
	last := e.unreadableLogged.Load()
	if now-last < int64(unreadableLogEvery) || !e.unreadableLogged.CompareAndSwap(last, now) {
		return
	}
	since := n - e.unreadableAtLog.Swap(n)
	e.opts.Logger.Warn("sessions: stored records did not open or decode; they read as no session and are left in place (a key rotation in progress, or records written with another key)",
		"count", since, "error", err)
}

// reload reads the newest record under st.Key for the merge loop. A record
// that vanished (expired, destroyed, revoked, renewed by another request)
// since the request loaded it is never resurrected under the old ID, nor
// its user binding carried over: st starts a new, anonymous session, which
// what the request changed goes to (Delta.Orphan).
func (e *Engine) reload(ctx context.Context, st *State) error {
	found, err := e.load(ctx, st)
	if err != nil {
		st.Fresh = false
		return err
	}
	if !found {
		st.Drop()
		st.StartNew()
		st.Delta.Orphan()
	}
	return nil
}

// expiresAt is when a save or touch made at now with ttl lets the
// session lapse.
func expiresAt(now time.Time, ttl time.Duration) time.Time { return now.Add(ttl) }
