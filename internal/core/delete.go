package core

import "context"

// Destroy ends the session stored under key (a logout): see delete.
func (e *Engine) Destroy(ctx context.Context, key, user string) error {
	ctx, start := e.begin(ctx, OpDestroy)
	err := e.delete(ctx, key, user)
	if err == nil {
		e.count.destroys.Add(1)
	}
	e.end(ctx, start, Done{Op: OpDestroy, Result: ResultWritten, Err: err})
	return err
}

// delete deletes the record under key from the current backend and,
// during a move, from the previous one too, so a logout can never be
// undone by an old copy; then it drops the key from user's index (best
// effort: a stale entry is pruned when the index is next read).
func (e *Engine) delete(ctx context.Context, key, user string) error {
	if err := e.driver.Delete(ctx, key); err != nil {
		return wrap("delete", KindStore, err)
	}
	if e.prev != nil {
		if err := e.prev.Delete(ctx, key); err != nil {
			return wrap("delete from the previous backend", KindStore, err)
		}
	}
	if user != "" {
		e.unindex(ctx, user, key)
	}
	return nil
}
