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

// unindex removes key from user's index in every backend, best effort: a
// stale entry is harmless and pruned when the index is next read.
func (e *Engine) unindex(ctx context.Context, userID, key string) {
	for _, ix := range e.indexers() {
		if err := ix.UnindexUser(ctx, UserKey(userID), key); err != nil {
			e.opts.Logger.Debug("sessions: removing a user index entry failed; it is pruned later", "error", err)
		}
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
// bound to another user are pruned on the way. Without a per-user index
// it returns ErrNoUserIndex.
func (e *Engine) UserSessions(ctx context.Context, userID string) ([]*Snapshot, error) {
	keys, err := e.userKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]*Snapshot, 0, len(keys))
	for _, key := range keys {
		snap, err := e.Snapshot(ctx, key)
		if err != nil {
			return nil, err
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

// RevokeUser ends every session bound to userID except the one stored
// under keep ("" keeps none), in every process sharing the backend, and
// returns how many it ended. A request of a revoked session that is in
// flight cannot bring it back: its save finds the record gone and starts
// a new, anonymous session instead.
func (e *Engine) RevokeUser(ctx context.Context, userID, keep string) (int, error) {
	ctx, start := e.begin(ctx, OpRevoke)
	n, err := e.revokeUser(ctx, userID, keep)
	e.count.revocations.Add(uint64(n))
	e.end(ctx, start, Done{Op: OpRevoke, Result: ResultWritten, Count: n, Err: err})
	return n, err
}

func (e *Engine) revokeUser(ctx context.Context, userID, keep string) (int, error) {
	keys, err := e.userKeys(ctx, userID)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, key := range keys {
		if key == keep {
			continue
		}
		snap, err := e.Snapshot(ctx, key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if snap != nil && snap.Meta.User != userID {
			e.unindex(ctx, userID, key) // rebound to someone else: not theirs to end
			continue
		}
		if err := e.delete(ctx, key, userID); err != nil {
			errs = append(errs, err)
			continue
		}
		if snap != nil {
			n++
		}
	}
	if len(errs) > 0 {
		return n, &Error{Op: "revoke", Kind: KindOf(errs[0]), Err: fmt.Errorf("%d of %d sessions could not be ended: %w", len(errs), len(keys), errors.Join(errs...))}
	}
	return n, nil
}

// RevokeSession ends the session of userID stored under key, and reports
// whether it ended one: a key not bound to userID is left alone.
func (e *Engine) RevokeSession(ctx context.Context, userID, key string) (bool, error) {
	ctx, start := e.begin(ctx, OpRevoke)
	ok, err := e.revokeSession(ctx, userID, key)
	n := 0
	if ok {
		n = 1
		e.count.revocations.Add(1)
	}
	e.end(ctx, start, Done{Op: OpRevoke, Result: ResultWritten, Count: n, Err: err})
	return ok, err
}

func (e *Engine) revokeSession(ctx context.Context, userID, key string) (bool, error) {
	snap, err := e.Snapshot(ctx, key)
	if err != nil {
		return false, wrap("revoke", KindStore, err)
	}
	if snap == nil || snap.Meta.User != userID {
		return false, nil
	}
	if err := e.delete(ctx, key, userID); err != nil {
		return false, wrap("revoke", KindStore, err)
	}
	return true, nil
}
