package core

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ginkit/sessions/driver"
)

// The per-user index: a session bound to a user (Meta.User) is entered in
// the driver's UserIndexer before its record is written, and the entry
// outlives the session's idle deadline (it is renewed, by a full save,
// when a session would outlive it); Rekey moves the entry to the new key;
// Delete and revocation remove it; entries whose session expired, or was
// bound to someone else since, are pruned whenever the index is read.

// UserKey derives the index key of a user ID: its hash, so user IDs
// (often e-mail addresses) never appear in the store's key space.
func UserKey(userID string) string {
	sum := sha256.Sum256([]byte("ginkit/sessions user\x00" + userID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// HasUserIndex reports whether the driver keeps a per-user index.
func (e *Engine) HasUserIndex() bool { return e.index != nil }

// indexers returns the user indexes to consult: the current backend's and,
// during a move, the previous one's.
func (e *Engine) indexers() []driver.UserIndexer {
	out := make([]driver.UserIndexer, 0, 2)
	if e.index != nil {
		out = append(out, e.index)
	}
	if pi, ok := e.prev.(driver.UserIndexer); ok && e.prev != nil {
		out = append(out, pi)
	}
	return out
}

// indexFor enters key in meta.User's index when the binding is new (the
// record had oldUser) or the entry would expire before the deadline a save
// at now with ttl sets, and records the entry's expiry in meta.
func (e *Engine) indexFor(ctx context.Context, key string, meta *Meta, oldUser string, now time.Time, ttl time.Duration) error {
	if meta.User == "" || e.index == nil {
		meta.IndexedUntil = time.Time{}
		return nil
	}
	if meta.User == oldUser && meta.IndexedUntil.After(now.Add(ttl)) {
		return nil
	}
	until := now.Add(ttl + e.opts.Lifetime)
	if err := e.index.IndexUser(ctx, UserKey(meta.User), key, until); err != nil {
		return wrap("user index", KindStore, err)
	}
	meta.IndexedUntil = until
	return nil
}

// unindexFunc removes key from userID's index (e.unindex), or notes it for
// later (pendingUnindex.add).
type unindexFunc func(ctx context.Context, userID, key string)

// unindex removes key from user's index in every backend, best effort: a
// stale entry is harmless and pruned when the index is next read.
func (e *Engine) unindex(ctx context.Context, userID, key string) {
	e.unindexAll(ctx, userID, []string{key})
}

// unindexAll removes keys from userID's index in every backend, best
// effort, with one call for all of them where the backend can
// (driver.UserBatchUnindexer), one per key elsewhere.
func (e *Engine) unindexAll(ctx context.Context, userID string, keys []string) {
	if len(keys) == 0 {
		return
	}
	for _, ix := range e.indexers() {
		var err error
		if b, ok := ix.(driver.UserBatchUnindexer); ok && len(keys) > 1 {
			err = b.UnindexUserKeys(ctx, UserKey(userID), keys)
		} else {
			for _, key := range keys {
				err = errors.Join(err, ix.UnindexUser(ctx, UserKey(userID), key))
			}
		}
		if err != nil {
			e.opts.Logger.Debug("sessions: removing a user index entry failed; it is pruned later", "error", err)
		}
	}
}

// pendingUnindex collects the index entries a pass of RevokeUser drops,
// per user, to remove them at once after the pass (flush).
type pendingUnindex map[string][]string

func (p pendingUnindex) add(_ context.Context, userID, key string) {
	p[userID] = append(p[userID], key)
}

// flush removes the collected entries and empties p.
func (p pendingUnindex) flush(ctx context.Context, e *Engine) {
	for userID, keys := range p {
		e.unindexAll(ctx, userID, keys)
		delete(p, userID)
	}
}

// userKeys returns the union of userID's index entries in every backend.
func (e *Engine) userKeys(ctx context.Context, userID string) ([]string, error) {
	if e.index == nil {
		return nil, ErrNoUserIndex
	}
	seen := map[string]bool{}
	var keys []string
	for _, ix := range e.indexers() {
		ks, err := ix.UserKeys(ctx, UserKey(userID))
		if err != nil {
			return nil, wrap("user index", KindStore, err)
		}
		for _, k := range ks {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// UserSessions returns snapshots of the live sessions bound to userID,
// most recently extended first. Index entries whose session is gone or
// bound to another user are pruned on the way; an entry whose record this
// instance cannot open (another encryption key) is kept and not listed.
// Without a per-user index it returns ErrNoUserIndex.
func (e *Engine) UserSessions(ctx context.Context, userID string) ([]*Snapshot, error) {
	keys, err := e.userKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]*Snapshot, 0, len(keys))
	for _, key := range keys {
		snap, unreadable, err := e.snapshot(ctx, key)
		if err != nil {
			return nil, err
		}
		if unreadable {
			continue
		}
		if snap == nil || snap.Meta.User != userID {
			e.unindex(ctx, userID, key)
			continue
		}
		out = append(out, snap)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Expires.After(out[j].Expires) })
	return out, nil
}

// maxRevokePasses bounds the passes of RevokeUser over the user's index.
const maxRevokePasses = 8

// RevokeUser ends every session bound to userID except the one stored
// under keep ("" keeps none), in every process sharing the backend, and
// returns how many it ended. It wins every race with requests in flight:
// each session is ended by a conditional write (endKey), so a request that
// loaded it before cannot save it back or renew it (its save or Refresh
// finds it gone and goes on as a new, anonymous session); and the index is
// read again after each pass until a pass finds no key it has not
// handled, so the new session of a renewal that got in before the end of
// its old one (a renewal indexes the new key before it retires the old)
// is ended too.
func (e *Engine) RevokeUser(ctx context.Context, userID, keep string) (int, error) {
	ctx, start := e.begin(ctx, OpRevoke)
	n, err := e.revokeUser(ctx, userID, keep)
	e.count.revocations.Add(uint64(n))
	e.end(ctx, start, Done{Op: OpRevoke, Result: ResultWritten, Count: n, Err: err})
	return n, err
}

func (e *Engine) revokeUser(ctx context.Context, userID, keep string) (int, error) {
	handled := map[string]bool{keep: true}
	n := 0
	var errs []error
	for pass := 0; ; pass++ {
		keys, err := e.userKeys(ctx, userID)
		if err != nil {
			return n, err
		}
		var fresh []string
		for _, key := range keys {
			if !handled[key] {
				handled[key] = true
				fresh = append(fresh, key)
			}
		}
		if len(fresh) == 0 {
			break
		}
		if pass == maxRevokePasses {
			errs = append(errs, fmt.Errorf("new sessions kept appearing after %d passes", maxRevokePasses))
			break
		}
		// The ended sessions' entries go after the pass, in one call per
		// backend where it can: N rewrites of an index kept as one file
		// or item become one. An entry left meanwhile is harmless: its
		// session is ended, and this pass has handled its key.
		pending := pendingUnindex{}
		for _, key := range fresh {
			ended, err := e.endKeyWith(ctx, key, userID, endIndexed, pending.add)
			if err != nil {
				errs = append(errs, err)
			}
			if ended {
				n++
			}
		}
		pending.flush(ctx, e)
	}
	if len(errs) > 0 {
		return n, &Error{Op: "revoke", Kind: KindOf(errs[0]), Err: fmt.Errorf("%d sessions could not be ended: %w", len(errs), errors.Join(errs...))}
	}
	return n, nil
}

// RevokeSession ends the session of userID stored under key, and reports
// whether it ended one: a key not bound to userID is left alone, and so is
// a record this instance cannot open.
func (e *Engine) RevokeSession(ctx context.Context, userID, key string) (bool, error) {
	ctx, start := e.begin(ctx, OpRevoke)
	ok, err := e.endKey(ctx, key, userID, endConfirmed)
	if err != nil {
		err = wrap("revoke", KindStore, err)
	}
	n := 0
	if ok {
		n = 1
		e.count.revocations.Add(1)
	}
	e.end(ctx, start, Done{Op: OpRevoke, Result: ResultWritten, Count: n, Err: err})
	return ok, err
}

// capUser enforces MaxPerUser after key was bound to userID (a login):
// when the user now holds more sessions than that, the least recently
// used ones other than key are ended on the server, as Spring Session's
// maximum sessions does. Nothing is forgotten: the index keeps every
// entry of a live session, and the sessions over the cap are ended, not
// dropped from it. It costs one index read per login, and a load of each
// of the user's sessions only for a login over the cap. A failure is
// logged; the login stands.
func (e *Engine) capUser(ctx context.Context, userID, key string) {
	max := e.opts.MaxPerUser
	if max <= 0 || e.index == nil {
		return
	}
	keys, err := e.userKeys(ctx, userID)
	if err != nil || len(keys) <= max {
		if err != nil {
			e.opts.Logger.Warn("sessions: the per-user session cap could not be checked", "error", err)
		}
		return
	}
	snaps, err := e.UserSessions(ctx, userID)
	if err != nil {
		e.opts.Logger.Warn("sessions: the per-user session cap could not be checked", "error", err)
		return
	}
	// Least recently used first: the idle deadline moves with use. The
	// session just bound is never the one to go.
	sort.Slice(snaps, func(i, j int) bool {
		if !snaps[i].Expires.Equal(snaps[j].Expires) {
			return snaps[i].Expires.Before(snaps[j].Expires)
		}
		return snaps[i].Created.Before(snaps[j].Created)
	})
	over := len(snaps) - max
	for _, snap := range snaps {
		if over <= 0 {
			break
		}
		if snap.Key == key {
			continue
		}
		ended, err := e.endKey(ctx, snap.Key, userID, endIndexed)
		if err != nil {
			e.opts.Logger.Warn("sessions: a session over the per-user cap could not be ended", "error", err)
			continue
		}
		if ended {
			e.count.revocations.Add(1)
		}
		over--
	}
}
