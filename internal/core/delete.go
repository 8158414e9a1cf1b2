package core

import "context"

// Destroy ends the session stored under key (a logout) by a conditional
// write, so a request in flight cannot write it back or renew it: see
// endKey. user is the session's user as the caller knows it, whose index
// entry goes too.
func (e *Engine) Destroy(ctx context.Context, key, user string) error {
	ctx, start := e.begin(ctx, OpDestroy)
	_, err := e.endKey(ctx, key, user, endAny)
	if err == nil {
		e.count.destroys.Add(1)
	}
	e.end(ctx, start, Done{Op: OpDestroy, Result: ResultWritten, Err: err})
	return err
}

// discard deletes a record no client holds yet (a renewal's new copy that
// lost its race) from the current backend and its index entry, best
// effort: the record has never been handed out, and a stale index entry
// is pruned when the index is next read.
func (e *Engine) discard(ctx context.Context, key, user string) {
	if err := e.driver.Delete(ctx, key); err != nil {
		e.opts.Logger.Warn("sessions: an unused renewed session could not be deleted; it expires on its own", "error", err)
	}
	if user != "" {
		e.unindex(ctx, user, key)
	}
}
