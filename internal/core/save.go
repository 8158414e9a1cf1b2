package core

import (
	"context"
	"time"
)

// Save is the one save loop of the engine, used by the middleware and by
// the gin-contrib adapter: it applies st.Delta to the newest stored record
// and writes it conditionally: load (with its version), apply, conditional
// write; on a version conflict, load again and re-apply, after a growing
// random backoff. A record that vanished meanwhile is never resurrected
// under its old ID: st starts a new session. The time to live is lifetime,
// capped by the absolute lifetime.
//
// A session bound to a user is entered in the user index before the
// record is written (an index entry ahead of its record is harmless; a
// record its index does not cover would escape revocation), and the entry
// is renewed when the session would outlive it.
//
// Outcome.Written is false with a nil error when a new session's changes
// cancel out (nothing to store). On success st holds what was written,
// with st.Delta reset. On error nothing was claimed: the store holds the
// old record or, when the driver's error leaves it unknown, possibly the
// new one.
func (e *Engine) Save(ctx context.Context, st *State, lifetime time.Duration) (Outcome, error) {
	ctx, start := e.begin(ctx, OpSave)
	out, attempts, conflicts, err := e.save(ctx, st, lifetime)
	e.count.saveConflicts.Add(uint64(conflicts))
	result := ResultNoChange
	switch {
	case err != nil:
		e.count.saveErrors.Add(1)
	case out.Written:
		e.count.saves.Add(1)
		result = ResultWritten
	}
	e.end(ctx, start, Done{Op: OpSave, Result: result, Attempts: attempts, Conflicts: conflicts, Err: err})
	return out, err
}

// save is Save without the counting; attempts is how many conditional
// writes it tried, conflicts how many of them met a newer version.
func (e *Engine) save(ctx context.Context, st *State, lifetime time.Duration) (out Outcome, attempts, conflicts int, err error) {
	for attempt := 0; attempt < maxSaveAttempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, conflictBackoff(attempt)); err != nil {
				return out, attempts, conflicts, wrap("save", KindCanceled, err)
			}
		}
		if !st.Fresh {
			out.Reloaded = true
			if err := e.reload(ctx, st); err != nil {
				out.ReloadFailed = true
				return out, attempts, conflicts, wrap("save", KindStore, err)
			}
		}
		values, err := st.Delta.Apply(st.Base)
		if err != nil {
			return out, attempts, conflicts, wrap("save", KindDecode, err)
		}
		meta := st.Meta
		if st.Delta.Meta != nil {
			meta = *st.Delta.Meta
			meta.CookieUntil = st.Meta.CookieUntil // not the request's to change
		}
		if !st.Exists && len(values) == 0 && meta.User == "" {
			// A new session whose changes cancel out: nothing to store.
			st.Delta.Reset()
			return out, attempts, conflicts, nil
		}
		now := time.Now()
		ttl, ok := e.ttlAt(st.Created, now, lifetime)
		if !ok {
			st.StartNew()
			st.Delta.Orphan()
			continue
		}
		if err := e.indexFor(ctx, st.Key, &meta, st.Meta.User, now, ttl); err != nil {
			return out, attempts, conflicts, wrap("save", KindStore, err)
		}
		// A changed cookie choice (RememberMe) re-sends the cookie at once.
		cookieDue := e.cookieDue(st.Exists, meta, expiresAt(now, ttl)) || meta.Persist != st.Meta.Persist
		if cookieDue && !st.NoCookie && !e.ExpireOnClose(meta) {
			meta.CookieUntil = expiresAt(now, ttl)
		}
		rec := e.encode(st.Key, Record{Created: st.Created, Meta: meta, Values: values})
		if err := e.checkRecord("save", values, rec); err != nil {
			return out, attempts, conflicts, err
		}
		attempts++
		written, err := e.driver.Save(ctx, st.Key, rec, st.Version, ttl)
		if err != nil {
			return out, attempts, conflicts, wrap("save", KindStore, err)
		}
		if !written {
			conflicts++
			st.Fresh = false
			e.opts.Logger.Debug("sessions: save: a newer version was stored meanwhile; merging again", "attempt", attempts)
			continue
		}
		if old := st.Meta.User; old != "" && old != meta.User {
			e.unindex(ctx, old, st.Key)
		}
		if meta.User != "" && meta.User != st.Meta.User {
			e.capUser(ctx, meta.User, st.Key)
		}
		st.Exists = true
		st.Fresh = false // the driver does not report the new version
		st.Base, st.Raw, st.Meta = values, rec, meta
		st.Expires = expiresAt(now, ttl)
		st.Delta.Reset()
		out.Written, out.CookieDue = true, cookieDue
		return out, attempts, conflicts, nil
	}
	return out, attempts, conflicts, ErrConflict
}
