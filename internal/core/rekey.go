package core

import (
	"context"
	"errors"
	"time"
)

// Rekey moves the session in st to a new ID with the same data (its delta
// applied) and ends the old ID at once: the defence against session
// fixation. The renewal is conditional on the old record still being the
// version the request loaded: the new record is written first, then the
// old one is retired by one conditional write (a tombstone: deleted at
// once, or for a session bound to a user kept for a minute, naming the
// new key for a revocation that races the renewal). When another request changed the session meanwhile, the renewal
// reloads and merges as a save does; when the session was ended meanwhile
// (Destroy, RevokeUser, expiry), the new record is discarded and st starts
// an anonymous session under a new ID, keeping only what the request
// itself changed, never the user binding it had loaded (see reload): a
// revoked session cannot be renewed back to life.
//
// On error the new record is discarded and st keeps the old ID, unless
// the error came from the conditional write itself, whose outcome the
// store left unknown.
func (e *Engine) Rekey(ctx context.Context, st *State) error {
	ctx, start := e.begin(ctx, OpRefresh)
	err := e.rekey(ctx, st)
	if err == nil {
		e.count.refreshes.Add(1)
	}
	e.end(ctx, start, Done{Op: OpRefresh, Result: ResultWritten, Err: err})
	return err
}

func (e *Engine) rekey(ctx context.Context, st *State) error {
	for attempt := 0; attempt < maxSaveAttempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, conflictBackoff(attempt)); err != nil {
				return wrap("refresh", KindCanceled, err)
			}
		}
		if !st.Fresh && st.Exists {
			if err := e.reload(ctx, st); err != nil {
				return wrap("refresh", KindStore, err)
			}
		}
		if !st.Exists {
			return nil // ended meanwhile: st is a new, anonymous session
		}
		done, err := e.rekeyOnce(ctx, st)
		if err != nil || done {
			return err
		}
		st.Fresh = false
	}
	return wrap("refresh", KindConflict, ErrConflict)
}

// rekeyOnce tries one renewal of the loaded, fresh session in st. It
// reports false with a nil error when the old record changed since it was
// loaded: st is then unchanged, for the caller to reload and try again.
func (e *Engine) rekeyOnce(ctx context.Context, st *State) (bool, error) {
	now := time.Now()
	ttl, ok := e.ttlAt(st.Created, now, e.opts.Lifetime)
	if !ok {
		return false, fail("refresh", KindExpired, "the session has passed its absolute lifetime")
	}
	values, err := st.Delta.Apply(st.Base)
	if err != nil {
		return false, wrap("refresh", KindDecode, err)
	}
	meta := st.CurrentMeta()
	id := NewID()
	key := StoreKey(id)
	if err := e.indexFor(ctx, key, &meta, "", now, ttl); err != nil {
		return false, wrap("refresh", KindStore, err)
	}
	rec := e.encode(key, Record{Created: st.Created, Meta: meta, Values: values})
	if err := e.checkRecord("refresh", values, rec); err != nil {
		e.discard(ctx, key, meta.User)
		return false, err
	}
	saved, err := e.driver.Save(ctx, key, rec, 0, ttl)
	if err == nil && !saved {
		err = errors.New("a record already exists under the new key")
	}
	if err != nil {
		e.discard(ctx, key, meta.User)
		return false, wrap("refresh", KindStore, err)
	}
	// During a move, an old copy left in the previous backend must not
	// come back once the tombstone below expires.
	if err := e.endPrevious(ctx, st.Key); err != nil {
		e.discard(ctx, key, meta.User)
		return false, wrap("refresh", KindStore, err)
	}
	// The old ID dies in the same step that checks it is still the
	// session this request loaded. A user's session leaves a forward for
	// a revocation racing the renewal (see tombstone.go).
	forward := ""
	if st.Meta.User != "" {
		forward = key
	}
	moved, err := e.retire(ctx, st.Key, st.Version, forward)
	if err != nil || !moved {
		e.discard(ctx, key, meta.User)
		if err != nil {
			return false, wrap("refresh", KindStore, err)
		}
		return false, nil
	}
	if old := st.Meta.User; old != "" {
		e.unindex(ctx, old, st.Key)
	}
	st.ID, st.Key = id, key
	st.Exists, st.Fresh = true, false
	st.Base, st.Raw, st.Meta = values, rec, meta
	st.Expires = expiresAt(now, ttl)
	st.Delta.Reset()
	return true, nil
}
