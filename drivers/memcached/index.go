package memcached

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/ginkit/sessions/internal/indexlist"
)

const (
	// indexInfix separates the prefix from the user in an index item's
	// key. Session keys never hold a ':', so no session item has the key
	// of an index item.
	indexInfix = "u:"

	// indexFlags marks index items written in this driver's format
	// ("SSI1").
	indexFlags uint32 = 0x53534931

	// maxIndexAttempts bounds the read / compare-and-swap loop of an
	// index update. Every round of a contended loop lets one writer
	// through, so this is far more than concurrent logins of one user
	// ever need.
	maxIndexAttempts = 64

	// maxIndexBackoff caps the random pause between attempts.
	maxIndexBackoff = 20 * time.Millisecond
)

// An index item's value is the entries' wire form of internal/indexlist;
// the item flags are indexFlags. indexEntry is one entry.
type indexEntry = indexlist.Entry

// errShape is the reason a user or key of the wrong shape is refused.
var errShape = errors.New("user and key must be 1 to 250 bytes from [A-Za-z0-9_-]")

// isKeyShape reports whether k is 1 to 250 bytes from [A-Za-z0-9_-].
func isKeyShape(k string) bool {
	if k == "" || len(k) > maxKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// indexItemKey returns the memcached key of user's index.
func (d *Driver) indexItemKey(user string) (string, error) {
	if !isKeyShape(user) {
		return "", errShape
	}
	mkey := d.prefix + indexInfix + user
	if len(mkey) > maxKey {
		return "", fmt.Errorf("user of %d bytes after the prefix %q and %q is longer than memcached's %d-byte limit", len(user), d.prefix, indexInfix, maxKey)
	}
	return mkey, nil
}

// IndexUser adds key to user's index with the given expiry, or replaces the
// expiry of its entry, so a key has at most one entry per user; it
// implements sessions.UserIndexer. An expiry that has already passed
// removes the entry, which is dead anyway. Expiries are kept to the
// millisecond, rounded down, on the application's clock.
//
// The index of user is one item at Prefix + "u:" + user holding the list
// of its entries. IndexUser reads it with its CAS ID, drops the expired
// entries, applies the change and writes it back with compare-and-swap (add when there is no item), retrying after a random
// pause of up to 20ms when another writer got there first. So concurrent
// calls, from any number of processes, all take effect; each costs two
// round trips plus two per lost race, and gives up with an error after 64
// attempts. The item expires (in memcached's whole seconds, rounded up,
// with the 30-day rule of Save) when its last entry does; an index left
// with no live entry is made to expire at once. memcached may still evict
// the item under memory pressure, as it may evict sessions: the index is
// then empty, and sessions it listed are no longer found through it.
//
// A user has at most driver.MaxUserEntries live entries, so an item is at
// most about 265 KB (53 KB with the core's 43-byte keys), within
// memcached's default 1 MB item size. A new key for a user who has that
// many is refused: IndexUser writes nothing and returns an error wrapping
// driver.ErrUserIndexFull. No live entry is ever dropped to make room.
//
// The entry says nothing about the session record: deleting or expiring
// the record leaves it alone. A corrupt item (other flags, a malformed
// list) reads as empty and is replaced. user and key must be 1 to 250
// bytes of [A-Za-z0-9_-], and the item key must fit memcached's 250 bytes.
// After Close IndexUser returns ErrClosed.
func (d *Driver) IndexUser(ctx context.Context, user, key string, expires time.Time) error {
	if err := d.begin(ctx); err != nil {
		return wrap("index", err)
	}
	defer d.inflight.Done()
	mkey, err := d.indexItemKey(user)
	if err != nil {
		return wrap("index", err)
	}
	if !isKeyShape(key) {
		return wrap("index", errShape)
	}
	exp := expires.UnixMilli()
	var refused error // the index is full: nothing is written
	err = d.updateIndex(ctx, mkey, func(entries []indexEntry, now int64) ([]indexEntry, bool) {
		var changed bool
		entries, changed, refused = indexlist.Put(entries, key, exp, now) // a retry starts afresh
		return entries, changed
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return wrap("index", err)
	}
	return nil
}

// UnindexUser removes key from user's index, with the read and
// compare-and-swap loop of IndexUser; it implements sessions.UserIndexer.
// If there is no such entry it writes nothing and returns nil. user and
// key must be 1 to 250 bytes of [A-Za-z0-9_-]. After Close it returns
// ErrClosed.
func (d *Driver) UnindexUser(ctx context.Context, user, key string) error {
	return d.unindex(ctx, user, key)
}

// UnindexUserKeys removes keys from user's index with one compare-and-swap
// of the index item (retried as IndexUser's), as UnindexUser would one by
// one; it implements sessions.UserBatchUnindexer. Keys not in the index
// are ignored. user and every key must be 1 to 250 bytes of
// [A-Za-z0-9_-]. After Close it returns ErrClosed.
func (d *Driver) UnindexUserKeys(ctx context.Context, user string, keys []string) error {
	return d.unindex(ctx, user, keys...)
}

func (d *Driver) unindex(ctx context.Context, user string, keys ...string) error {
	if err := d.begin(ctx); err != nil {
		return wrap("unindex", err)
	}
	defer d.inflight.Done()
	mkey, err := d.indexItemKey(user)
	if err != nil {
		return wrap("unindex", err)
	}
	for _, key := range keys {
		if !isKeyShape(key) {
			return wrap("unindex", errShape)
		}
	}
	err = d.updateIndex(ctx, mkey, func(entries []indexEntry, now int64) ([]indexEntry, bool) {
		return indexlist.Remove(entries, keys...)
	})
	if err != nil {
		return wrap("unindex", err)
	}
	return nil
}

// UserKeys returns the keys of user's live index entries, in no particular
// order, or an empty (non-nil) slice; it implements sessions.UserIndexer.
// It is one round trip and writes nothing. An entry says nothing about
// whether its session record still exists. user must be 1 to 250 bytes of
// [A-Za-z0-9_-]. After Close it returns ErrClosed.
func (d *Driver) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := d.begin(ctx); err != nil {
		return nil, wrap("user keys", err)
	}
	defer d.inflight.Done()
	mkey, err := d.indexItemKey(user)
	if err != nil {
		return nil, wrap("user keys", err)
	}
	keys := []string{}
	it, err := d.get(mkey)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return keys, nil
	}
	if err != nil {
		return nil, wrap("user keys", err)
	}
	entries, _ := decodeIndex(it)
	now := time.Now().UnixMilli()
	for _, e := range entries {
		if e.Expires > now {
			keys = append(keys, e.Key)
		}
	}
	return keys, nil
}

// updateIndex applies change to the index item mkey with a read and
// compare-and-swap loop. change gets the live entries and the time in Unix
// milliseconds, and returns the new entries and whether it changed them;
// when it did not and no entry had expired, nothing is written.
func (d *Driver) updateIndex(ctx context.Context, mkey string, change func(entries []indexEntry, now int64) ([]indexEntry, bool)) error {
	for attempt := 0; attempt < maxIndexAttempts; attempt++ {
		if attempt > 0 {
			pause := min(time.Millisecond<<min(attempt, 10), maxIndexBackoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(rand.N(pause) + 1):
			}
		}
		old, err := d.get(mkey)
		exists := err == nil
		if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
			return err
		}
		var entries []indexEntry
		corrupt := false
		if exists {
			var ok bool
			entries, ok = decodeIndex(old)
			corrupt = !ok
			if old.CasID == 0 {
				return errNoCAS
			}
		}
		nowT := time.Now()
		now := nowT.UnixMilli()
		n := len(entries)
		entries = slices.DeleteFunc(entries, func(e indexEntry) bool { return e.Expires <= now })
		entries, changed := change(entries, now)
		if !changed && len(entries) == n && !corrupt {
			return nil
		}
		it := &memcache.Item{Key: mkey, Flags: indexFlags, Value: encodeIndex(entries)}
		if len(entries) == 0 {
			if !exists {
				return nil
			}
			it.Expiration = -1 // expire at once, unless someone wrote first
		} else {
			latest := entries[0].Expires
			for _, e := range entries[1:] {
				latest = max(latest, e.Expires)
			}
			it.Expiration = expiration(nowT, time.UnixMilli(latest).Sub(nowT))
		}
		if !exists {
			err = d.once(func() error { return d.client.Add(it) })
		} else {
			it.CasID = old.CasID
			err = d.once(func() error { return d.client.CompareAndSwap(it) })
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrNotStored),
			errors.Is(err, memcache.ErrCASConflict),
			errors.Is(err, memcache.ErrCacheMiss):
			continue // another writer got there first, or the item went away
		case isTooLarge(err):
			return fmt.Errorf("index of %d entries is larger than the server accepts (memcached -I): %w", len(entries), err)
		}
		return err
	}
	return fmt.Errorf("gave up after %d attempts: other writers kept changing the index", maxIndexAttempts)
}

// decodeIndex parses an index item; ok is false if it is corrupt, in which
// case it has no entries.
func decodeIndex(it *memcache.Item) (entries []indexEntry, ok bool) {
	if it.Flags != indexFlags {
		return nil, false
	}
	return indexlist.Decode(it.Value)
}

// encodeIndex returns the value of an index item holding entries.
func encodeIndex(entries []indexEntry) []byte {
	return indexlist.Append(make([]byte, 0, indexlist.EncodedLen(entries)), entries)
}
