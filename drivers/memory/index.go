package memory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/ginkit/sessions/driver"
)

// Bounds of the user index.
const (
	// MinIndexBound is the least bound on the entries of the whole index.
	// The index holds at most max(Options.MaxEntries, MinIndexBound)
	// entries over all users; see IndexUser for what happens at the bound.
	MinIndexBound = 10_000

	// indexPruneEvery is how often IndexUser also drops the expired
	// entries of every user, so users who never return do not keep dead
	// entries until the bound is reached.
	indexPruneEvery = time.Minute

	// indexGhostGrace is how long after IndexUser an entry is kept even
	// though the store holds no record under its key: the core indexes a
	// session just before it first saves it, and that entry must not be
	// taken for one whose record is gone.
	indexGhostGrace = time.Minute
)

// userIndex maps user → key → entry, under its own mutex. Its zero value
// is ready: the map is made on first use.
type userIndex struct {
	mu        sync.Mutex
	users     map[string]map[string]indexEntry
	entries   int   // entries over all users
	bound     int   // the most entries; set on first use
	lastPrune int64 // when every user's expired entries were last dropped
}

// indexEntry is one entry of the user index, its times in Unix
// nanoseconds.
type indexEntry struct {
	expires int64 // live while greater than now
	added   int64 // when IndexUser last wrote it
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
// toward Options.MaxEntries. It never drops a live entry to make room;
// it refuses instead, changing nothing and returning an error that wraps
// driver.ErrUserIndexFull, in two cases. A user has at most
// driver.MaxUserEntries live entries: one more new key is refused. The
// whole index has at most max(Options.MaxEntries, MinIndexBound) entries:
// at that bound IndexUser drops every expired entry and, if the index is
// still more than seven-eighths full, every entry whose session record the
// store no longer holds and that was written more than a minute ago (an
// entry written just before its record is first saved is kept); if the
// index is still full, the new key is refused. With a store holding at
// most MaxEntries records and the core unindexing what it deletes, the
// second bound is only reached when a minute's logins outnumber the
// bound. Besides, at most once a minute an IndexUser drops the expired
// entries of every user.
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
		ix.users = make(map[string]map[string]indexEntry)
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
	// Pruning may have emptied and dropped user's map.
	m = ix.users[user]
	e := indexEntry{expires: exp, added: now}
	if _, ok := m[key]; ok {
		m[key] = e
		return nil
	}
	if len(m) >= driver.MaxUserEntries {
		return fmt.Errorf("memory: index: %w: the user has %d live entries", driver.ErrUserIndexFull, len(m))
	}
	if ix.entries >= ix.bound {
		d.makeIndexRoomLocked(now)
		if ix.entries >= ix.bound {
			return fmt.Errorf("memory: index: %w: the index holds %d live entries, its bound", driver.ErrUserIndexFull, ix.entries)
		}
		// Making room may have emptied and dropped user's map.
		m = ix.users[user]
	}
	if m == nil {
		m = make(map[string]indexEntry)
		ix.users[user] = m
	}
	m[key] = e
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
func (d *Driver) removeEntryLocked(user string, m map[string]indexEntry, key string) {
	delete(m, key)
	d.index.entries--
	if len(m) == 0 {
		delete(d.index.users, user)
	}
}

// pruneUserLocked drops the entries of m (user's map, possibly nil)
// expired at now. The caller holds d.index.mu.
func (d *Driver) pruneUserLocked(user string, m map[string]indexEntry, now int64) {
	for k, e := range m {
		if e.expires <= now {
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
// describes, dropping only expired entries and entries whose record is
// gone. The caller holds d.index.mu; it takes shard locks inside it (no
// code takes the index lock while holding a shard lock).
func (d *Driver) makeIndexRoomLocked(now int64) {
	ix := &d.index
	d.pruneIndexLocked(now)
	if ix.entries <= ix.bound-ix.bound/8 {
		return
	}
	for user, m := range ix.users {
		for k, e := range m {
			if now-e.added > int64(indexGhostGrace) && !d.holds(k, now) {
				d.removeEntryLocked(user, m, k)
			}
		}
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
