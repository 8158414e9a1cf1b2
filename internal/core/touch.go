package core

import (
	"context"
	"time"
)

// Touch extends the idle deadline of an unchanged, loaded session to
// lifetime from now (capped by the absolute lifetime), without rewriting
// the data when the driver can (driver.Toucher), else by a conditional
// save of the record as loaded. A session whose user-index entry would
// expire before the new deadline is saved in full instead (Save), renewing
// the entry. Outcome.Written reports whether the deadline moved.
func (e *Engine) Touch(ctx context.Context, st *State, lifetime time.Duration) (Outcome, error) {
	ctx, start := e.begin(ctx, OpTouch)
	out, err := e.touch(ctx, st, lifetime)
	result := ResultNoChange
	switch {
	case err != nil:
		e.count.touchErrors.Add(1)
	case out.Written:
		e.count.touches.Add(1)
		result = ResultWritten
	}
	e.end(ctx, start, Done{Op: OpTouch, Result: result, Err: err})
	return out, err
}

func (e *Engine) touch(ctx context.Context, st *State, lifetime time.Duration) (Outcome, error) {
	now := time.Now()
	ttl, ok := e.ttlAt(st.Created, now, lifetime)
	if !ok || !expiresAt(now, ttl).After(st.Expires) {
		return Outcome{}, nil // capped by the absolute lifetime: nothing to extend
	}
	if st.Meta.User != "" && e.index != nil && expiresAt(now, ttl).After(st.Meta.IndexedUntil) {
		out, _, _, err := e.save(ctx, st, lifetime)
		return out, err
	}
	var err error
	switch {
	case e.toucher != nil:
		err = e.toucher.Touch(ctx, st.Key, ttl)
	case st.Fresh:
		var saved bool
		saved, err = e.driver.Save(ctx, st.Key, st.Raw, st.Version, ttl)
		st.Fresh = false
		if err == nil && !saved {
			return Outcome{}, nil // another request wrote it, which extended it
		}
	default:
		return Outcome{}, nil
	}
	if err != nil {
		return Outcome{}, wrap("touch", KindStore, err)
	}
	st.Expires = expiresAt(now, ttl)
	return Outcome{Written: true}, nil
}
