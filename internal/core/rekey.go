package core

import (
	"context"
	"errors"
	"time"
)

// Rekey moves the session in st to a new ID with the same data (its delta
// applied) and deletes the old record everywhere, so the old ID is dead:
// the defence against session fixation. On error st is unchanged and the
// session keeps its old ID.
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
	now := time.Now()
	ttl, ok := e.ttlAt(st.Created, now, e.opts.Lifetime)
	if !ok {
		return fail("refresh", KindExpired, "the session has passed its absolute lifetime")
	}
	values, err := st.Delta.Apply(st.Base)
	if err != nil {
		return wrap("refresh", KindDecode, err)
	}
	meta := st.CurrentMeta()
	id := NewID()
	key := StoreKey(id)
	if err := e.indexFor(ctx, key, &meta, "", now, ttl); err != nil {
		return wrap("refresh", KindStore, err)
	}
	rec := e.encode(key, Record{Created: st.Created, Meta: meta, Values: values})
	if err := e.checkRecord("refresh", values, rec); err != nil {
		return err
	}
	saved, err := e.driver.Save(ctx, key, rec, 0, ttl)
	if err == nil && !saved {
		err = errors.New("a record already exists under the new key")
	}
	if err != nil {
		return wrap("refresh", KindStore, err)
	}
	if err := e.delete(ctx, st.Key, st.Meta.User); err != nil {
		// The old ID must not stay valid beside the new one: undo.
		_ = e.driver.Delete(ctx, key)
		if meta.User != "" {
			e.unindex(ctx, meta.User, key)
		}
		return wrap("refresh", KindStore, err)
	}
	st.ID, st.Key = id, key
	st.Exists, st.Fresh = true, false
	st.Base, st.Raw, st.Meta = values, rec, meta
	st.Expires = expiresAt(now, ttl)
	st.Delta.Reset()
	return nil
}
