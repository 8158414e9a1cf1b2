package memory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Bounds of the user index.
const (
	// MaxUserEntries is the most index entries one user has. IndexUser of
	// a new key for a user who has this many live entries first drops the
	// entry that expires soonest: that session is then missing from
	// UserKeys, so a "log out everywhere" would not reach it. Nobody has a
	// thousand live sessions; the bound only stops one account from
	// growing the index without limit.
	MaxUserEntries = 1000

	// MinIndexBound is the least bound on the entries of the whole index.
	// The index holds at most max(Options.MaxEntries, MinIndexBound)
	// entries over all users; see IndexUser for what happens at the bound.
	MinIndexBound = 10_000

	// indexPruneEvery is how often IndexUser also drops the expired
	// entries of every user, so users who never return do not keep dead
	// entries until the bound is reached.
	indexPruneEvery = time.Minute

	// indexEvictionSample is how many entries (of as many users) an index
	// at its bound compares to choose the one to evict.
	indexEvictionSample = 5
)

// userIndex maps user → key → expiry (Unix nanoseconds), under its own
// mutex. Its zero value is ready: the map is made on first use.
type userIndex struct {
	mu        sync.Mutex
	users     map[string]map[string]int64
	entries   int   // entries over all users
	bound     int   // the most entries; set on first use
	lastPrune int64 // when every user's expired entries were last dropped
}

// errEmpty is the reason an empty user or key is refused.
var errEmpty = errors.New("empty user or key")

// closedIndex reports whether the driver is closed, and if so drops the
// index. The caller holds d.index.mu.
func (d *Driver) closedIndex() bool {
	select {
	case <-d.stop:
		d.index.users = nil
		d.index.entries = 0
		return true
	default:
		return false
	}
}

// IndexUser adds key to user's index with the given expiry, or replaces
// the expiry of the existing entry, so one key has at most one entry per
// user; it implements sessions.UserIndexer. An expiry that has already
// passed removes the entry, which is dead anyway. The entry stays until
// it expires or UnindexUser removes it: deleting or evicting the session
// record leaves it alone. Each call also drops user's expired entries.
//
// The index lives in the process beside the records and does not count
// toward Options.MaxEntries. It is bounded twice over. A user has at most
// MaxUserEntries entries: at that bound a new key evicts the user's entry
// that expires soonest. The whole index has at most
// max(Options.MaxEntries, MinIndexBound) entries: at that bound IndexUser
// drops every expired entry and, if the index is still more than
// seven-eighths full, every entry whose session record the store no
// longer holds (those the core would prune itself, but also one indexed
// just before its record is first saved), and then, while it is more than
// seven-eighths full, the entry expiring soonest in a small random sample
// (one entry each of a few users).
// An evicted entry's session no longer shows in UserKeys. With a store
// holding at most MaxEntries records and the core unindexing what it
// deletes, the second bound is only reached when many indexed sessions
// were evicted or abandoned. Besides, at most once a minute an IndexUser
// drops the expired entries of every user.
//
// user and key must not be empty. After Close IndexUser returns ErrClosed.
func (d *Driver) IndexUser(ctx context.Context, user, key string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: index: %w", err)
	}
	if user == "" || key == "" {
		return fmt.Errorf("memory: index: %w", errEmpty)
	}
	nowT := time.Now()
	now := nowT.UnixNano()
	exp := unixNano(expires)
	ix := &d.index
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if d.closedIndex() {
		return ErrClosed
	}
	if ix.users == nil {
		ix.users = make(map[string]map[string]int64)
		ix.bound = max(d.maxEntries(), MinIndexBound)
		ix.lastPrune = now
	}
	if now-ix.lastPrune > int64(indexPruneEvery) {
		d.pruneIndexLocked(now)
	}
	m := ix.users[user]
	d.pruneUserLocked(user, m, now)
	if exp <= now {
		if _, ok := m[key]; ok {
			d.removeEntryLocked(user, m, key)
		}
		return nil
	}
	if len(m) == 0 {
		m = make(map[string]int64)
		ix.users[user] = m
	}
	if _, ok := m[key]; ok {
		m[key] = exp
		return nil
	}
	if len(m) >= MaxUserEntries {
		d.removeEntryLocked(user, m, soonest(m))
	}
	if ix.entries >= ix.bound {
		d.makeIndexRoomLocked(now)
		// Making room may have emptied and dropped user's map.
		if ix.users[user] == nil {
			ix.users[user] = m
		}
	}
	m[key] = exp
	ix.entries++
	return nil
}

// UnindexUser removes key from user's index; it implements
// sessions.UserIndexer. If there is no such entry it does nothing and
// returns nil. After Close it returns ErrClosed.
func (d *Driver) UnindexUser(ctx context.Context, user, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: unindex: %w", err)
	}
	ix := &d.index
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if d.closedIndex() {
		return ErrClosed
	}
	if m := ix.users[user]; m != nil {
		if _, ok := m[key]; ok {
			d.removeEntryLocked(user, m, key)
		}
	}
	return nil
}

// UserKeys returns the keys of user's live index entries, in no particular
// order, or an empty (non-nil) slice; it implements sessions.UserIndexer.
// It drops user's expired entries. An entry says nothing about whether its
// session record still exists. After Close it returns ErrClosed.
func (d *Driver) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: user keys: %w", err)
	}
	now := time.Now().UnixNano()
	ix := &d.index
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if d.closedIndex() {
		return nil, ErrClosed
	}
	m := ix.users[user]
	d.pruneUserLocked(user, m, now)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys, nil
}

// unixNano converts t to Unix nanoseconds, clamped to the int64 range
// (time.Time.UnixNano is undefined outside years 1678 to 2262).
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// maxEntries returns Options.MaxEntries as New applied it: the sum of the
// shards' capacities, which never change.
func (d *Driver) maxEntries() int {
	n := 0
	for i := range d.shards {
		n += d.shards[i].cap
	}
	return n
}

// removeEntryLocked deletes user's entry for key, which exists in m (the
// map of user), and drops m once empty. The caller holds d.index.mu.
func (d *Driver) removeEntryLocked(user string, m map[string]int64, key string) {
	delete(m, key)
	d.index.entries--
	if len(m) == 0 {
		delete(d.index.users, user)
	}
}

// pruneUserLocked drops the entries of m (user's map, possibly nil)
// expired at now. The caller holds d.index.mu.
func (d *Driver) pruneUserLocked(user string, m map[string]int64, now int64) {
	for k, exp := range m {
		if exp <= now {
			d.removeEntryLocked(user, m, k)
		}
	}
}

// pruneIndexLocked drops the expired entries of every user. The caller
// holds d.index.mu.
func (d *Driver) pruneIndexLocked(now int64) {
	for user, m := range d.index.users {
		d.pruneUserLocked(user, m, now)
	}
	d.index.lastPrune = now
}

// makeIndexRoomLocked frees room in an index at its bound, as IndexUser
// describes. The caller holds d.index.mu; it takes shard locks inside it
// (no code takes the index lock while holding a shard lock).
func (d *Driver) makeIndexRoomLocked(now int64) {
	ix := &d.index
	target := ix.bound - ix.bound/8
	d.pruneIndexLocked(now)
	if ix.entries > target {
		for user, m := range ix.users {
			for k := range m {
				if !d.holds(k, now) {
					d.removeEntryLocked(user, m, k)
				}
			}
		}
	}
	for ix.entries > target {
		var (
			victimUser, victimKey string
			earliest              int64 = math.MaxInt64
			seen                  int
		)
		// Sample one entry of each of a few users; Go randomises where
		// a map iteration starts, so the first entries form the sample.
		for user, m := range ix.users {
			for k, exp := range m {
				if exp <= earliest {
					victimUser, victimKey, earliest = user, k, exp
				}
				break
			}
			seen++
			if seen == indexEvictionSample {
				break
			}
		}
		if seen == 0 {
			return
		}
		d.removeEntryLocked(victimUser, ix.users[victimUser], victimKey)
	}
}

// holds reports whether the store holds a live record under key.
func (d *Driver) holds(key string, now int64) bool {
	s := d.shardFor(key)
	s.mu.Lock()
	e, ok := s.m[key]
	s.mu.Unlock()
	return ok && e.expires > now
}

// soonest returns the key of m's entry that expires first; m is not empty.
func soonest(m map[string]int64) string {
	var (
		key      string
		earliest int64 = math.MaxInt64
	)
	for k, exp := range m {
		if exp <= earliest {
			key, earliest = k, exp
		}
	}
	return key
}
