package core

import (
	"context"
	"time"
)

// Deletes win. A session is ended (Destroy, revocation, the per-user cap)
// and its old ID retired by a renewal (Refresh) in one conditional write
// over its record, at the version the caller read: a tombstone. A request
// still in flight with the old version then finds its own conditional
// write refused, reloads, finds no session and starts an anonymous one: it
// can never write the ended session back, nor renew it after it ended.
//
// An ended tombstone is deleted right after it is written; its short TTL
// covers a failed delete. The old ID of a renewed session bound to a user
// keeps a moved tombstone instead, naming the new store key, for
// forwardTTL: a revocation that listed the old key follows it to the new
// one, so a client renewing its session in a loop cannot stay ahead of
// RevokeUser. Only revocation follows it (the user's index named the
// chain's first key, and every key is checked to be the user's); a
// Destroy does not, so a planted (fixated) ID cannot log its victim out.
//
// A tombstone is never sealed and never decodes as a session:
//
//	byte  tombstoneTag (0x00: no record format starts with it)
//	byte  tombEnded or tombMoved
//	rest  for tombMoved: the store key the session moved to
//
// While it is there, every reader takes it for no session, and no
// instance reports it as unreadable.
const (
	tombstoneTag = 0x00
	tombEnded    = 'E'
	tombMoved    = 'M'
)

// tombstoneTTL bounds how long an ended tombstone stays if its delete
// fails.
const tombstoneTTL = time.Minute

// forwardTTL is how long a renewed session's old key names the new one:
// far longer than a revocation takes from listing a key to reading it.
const forwardTTL = time.Minute

// maxForwards bounds the renewals a revocation follows from one key.
const maxForwards = 64

// tombstone is the record that ends a session.
var tombstone = []byte{tombstoneTag, tombEnded}

// movedTombstone is the record that retires a renewed session's old key,
// naming the new one.
func movedTombstone(next string) []byte {
	return append([]byte{tombstoneTag, tombMoved}, next...)
}

// IsTombstone reports whether rec, as a driver stores it, is a tombstone
// (of a session ended or renewed a moment ago) rather than a session
// record.
func IsTombstone(rec []byte) bool { return isTombstone(rec) }

// isTombstone reports whether rec is a tombstone of either kind.
func isTombstone(rec []byte) bool {
	return len(rec) >= 2 && rec[0] == tombstoneTag && (rec[1] == tombEnded || rec[1] == tombMoved)
}

// forwardOf returns the store key a moved tombstone names, or "".
func forwardOf(rec []byte) string {
	if len(rec) > 2 && rec[0] == tombstoneTag && rec[1] == tombMoved {
		return string(rec[2:])
	}
	return ""
}

// endMode says whose session endKey may end.
type endMode int

const (
	endAny       endMode = iota // Destroy: the client holds the ID
	endIndexed                  // RevokeUser, the cap: the user's index lists the key
	endConfirmed                // RevokeSession: only a record that shows the user
)

// endKey ends the session stored under key by a conditional tombstone,
// retrying when a request wrote the record meanwhile, and reports whether
// it ended one. A revocation (endIndexed, endConfirmed) that finds a moved
// tombstone follows it to the renewed session and ends that. With endAny (the client presented the ID) it ends
// whatever session is there; user, when known, is whose index entry goes
// with it. With endIndexed and endConfirmed it ends only a session bound
// to user: one bound to someone else is left alone (and its entry under
// user dropped); a record this instance cannot open is left alone by
// endConfirmed and ended by endIndexed (the user's own index lists it,
// and an instance without the record's key cannot check).
//
// During a move the previous backend's copy is ended first
// (endPrevious), so a move racing the end either copied before the end
// (and the end finds the copy) or finds the old copy ended (and undoes
// its copy).
func (e *Engine) endKey(ctx context.Context, key, user string, mode endMode) (bool, error) {
	return e.endKeyWith(ctx, key, user, mode, e.unindex)
}

// endKeyWith is endKey with the removal of index entries given: drop is
// e.unindex, or RevokeUser's collector, which removes a pass's entries
// at once (unindexAll).
func (e *Engine) endKeyWith(ctx context.Context, key, user string, mode endMode, drop unindexFunc) (bool, error) {
	for hop := 0; hop < maxForwards; hop++ {
		next, ended, err := e.endOne(ctx, key, user, mode, drop)
		if next == "" || err != nil || mode == endAny {
			return ended, err
		}
		key = next
	}
	return false, nil
}

// endOne is endKey for one key; next is the key a moved tombstone there
// names.
func (e *Engine) endOne(ctx context.Context, key, user string, mode endMode, drop unindexFunc) (next string, ended bool, err error) {
	if err := e.endPrevious(ctx, key); err != nil {
		return "", false, err
	}
	for attempt := 0; attempt < maxSaveAttempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, conflictBackoff(attempt)); err != nil {
				return "", false, wrap("delete", KindCanceled, err)
			}
		}
		rec, ver, _, err := e.driver.Load(ctx, key)
		if err != nil {
			return "", false, wrap("delete", KindStore, err)
		}
		if rec == nil || isTombstone(rec) {
			if user != "" {
				drop(ctx, user, key)
			}
			return forwardOf(rec), false, nil
		}
		owner := user
		if r, derr := e.decode(key, rec); derr == nil {
			owner = r.Meta.User
		} else if mode == endConfirmed {
			return "", false, nil
		}
		if mode != endAny && owner != user {
			drop(ctx, user, key) // bound to someone else since: not theirs to end
			return "", false, nil
		}
		written, err := e.retire(ctx, key, ver, "")
		if err != nil {
			return "", false, wrap("delete", KindStore, err)
		}
		if !written {
			continue // a request wrote it meanwhile: read it again
		}
		if owner != "" {
			drop(ctx, owner, key)
		}
		return "", true, nil
	}
	return "", false, wrap("delete", KindConflict, ErrConflict)
}

// retire ends the record under key if it is still at version ver: a
// conditional tombstone, then its delete; or, when next is not "", a
// moved tombstone naming next that stays for forwardTTL. It reports false
// when the record changed or vanished since it was read.
func (e *Engine) retire(ctx context.Context, key string, ver uint64, next string) (bool, error) {
	if next != "" {
		return e.driver.Save(ctx, key, movedTombstone(next), ver, forwardTTL)
	}
	written, err := e.driver.Save(ctx, key, tombstone, ver, tombstoneTTL)
	if err != nil || !written {
		return false, err
	}
	if err := e.driver.Delete(ctx, key); err != nil {
		e.opts.Logger.Debug("sessions: an ended session's tombstone could not be deleted; it expires on its own", "error", err)
	}
	return true, nil
}

// endPrevious ends the previous backend's copy of the session under key,
// during a move: a tombstone over it (kept for tombstoneTTL), so that a
// request copying it right now sees that it ended and undoes its copy
// (moveFromPrevious); a plain delete would look like a finished move.
func (e *Engine) endPrevious(ctx context.Context, key string) error {
	if e.prev == nil {
		return nil
	}
	for attempt := 0; attempt < maxSaveAttempts; attempt++ {
		rec, ver, _, err := e.prev.Load(ctx, key)
		if err != nil {
			return wrap("delete from the previous backend", KindStore, err)
		}
		if rec == nil || isTombstone(rec) {
			return nil
		}
		written, err := e.prev.Save(ctx, key, tombstone, ver, tombstoneTTL)
		if err != nil {
			return wrap("delete from the previous backend", KindStore, err)
		}
		if written {
			return nil
		}
	}
	return wrap("delete from the previous backend", KindConflict, ErrConflict)
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
