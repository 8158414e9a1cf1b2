package file

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// DefaultReadCacheEntries is the number of session records the read
	// cache holds at most when Options.ReadCache is zero.
	DefaultReadCacheEntries = 10000

	// DefaultReadCacheBytes is the read cache's memory bound when
	// Options.ReadCacheBytes is zero: 32 MiB.
	DefaultReadCacheBytes = 32 << 20

	// maxCacheShards is the number of independently locked parts of the
	// read cache (fewer when it holds fewer entries than this).
	maxCacheShards = 64

	// entryOverhead approximates the memory of one cache entry besides its
	// record and key: the entry itself and its map slot.
	entryOverhead = 128
)

// fileID identifies one state of one session file, as stat(2) reports
// it: the device and inode number (which file), its size, and its
// modification and status-change times in nanoseconds. Load trusts a
// cached record only while the file at the key's path still has the
// identity that the cached bytes were read from (or, after a Save in this
// process, written to).
//
// Every change the driver makes to a session file changes the identity:
// a save in place (Save, Touch) sets the modification time to the new
// record's expiry, and the write and that change set the kernel's
// status-change time; a save that writes a new file renames it into
// place, and the new file was created while the old one still existed, so
// the two never share an inode number on one device; Delete and the
// sweeper remove the file, and a missing file reads as absent. The
// modification time is the record's expiry, which every save sets from the
// clock in nanoseconds plus a time to live, so a cached record can be
// wrong only if two saves of one key picked the same expiry to the
// nanosecond and the file also kept its status-change time (or, for a
// replaced file, the file system gave the new file the old one's inode
// number again): in practice this does not happen. Only a settled file is
// cached, one whose modification time equals the expiry in its current
// slot; between a write in place and the setting of the time stamp, Load
// reads the file. The cache only keeps files whose modification time is
// not a whole number of milliseconds, which a nanosecond clock gives
// 999,999 times in a million: on a file system that stores coarser time
// stamps (FAT, HFS+, ext3) it keeps nothing, and every Load reads the
// file.
//
// The worst case, should it happen anyway, is bounded: Load returns an
// older record of the same key (a record that passed its checksum when it
// was read) with that older record's version and the current file's
// expiry. It never returns another key's record, a torn or damaged one, an
// expired one or a deleted one, because the expiry and the existence come
// from the stat of every Load. A conditional Save based on that version
// fails its version check (Save always reads the file itself, under the
// key's lock) and replaces the cache entry with what it read, so the
// core's retry sees the current record.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the Unix epoch
}

// cacheable reports whether a record read from (or written to) a file
// with this identity may be cached: see fileID on coarse time stamps.
func (id fileID) cacheable() bool {
	return id.mtime%int64(time.Millisecond) != 0
}

// cacheEntry is one cached session record. It is never changed after it
// is put into the cache (except used): a Load may read it after releasing
// the shard's lock, and a change replaces the entry.
type cacheEntry struct {
	id      fileID
	record  []byte // len == cap, so an append by a caller never writes into it
	version uint64
	cost    int64        // bytes charged against the bound
	used    atomic.Int64 // Unix nanoseconds of the last hit (roughly), for eviction
}

// readCache is the bounded in-process cache of session records that Load
// consults after a stat. Its total size is bounded exactly: every shard
// has its own share of the entry and byte bounds.
type readCache struct {
	shards []cacheShard
}

type cacheShard struct {
	mu         sync.RWMutex
	m          map[string]*cacheEntry
	bytes      int64
	maxEntries int
	maxBytes   int64
	_          [64]byte // keep shards' locks on separate cache lines
}

// newReadCache returns a cache of at most maxEntries entries costing at
// most maxBytes bytes, or nil (no cache) if either bound is not positive.
func newReadCache(maxEntries int, maxBytes int64) *readCache {
	if maxEntries <= 0 || maxBytes <= 0 {
		return nil
	}
	n := min(maxEntries, maxCacheShards)
	c := &readCache{shards: make([]cacheShard, n)}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[string]*cacheEntry)
		s.maxEntries = maxEntries / n
		if i < maxEntries%n {
			s.maxEntries++
		}
		s.maxBytes = maxBytes / int64(n)
		if int64(i) < maxBytes%int64(n) {
			s.maxBytes++
		}
	}
	return c
}

// shard returns the shard of key (FNV-1a).
func (c *readCache) shard(key string) *cacheShard {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return &c.shards[h%uint32(len(c.shards))]
}

// get returns the entry of key, or nil.
func (c *readCache) get(key string) *cacheEntry {
	s := c.shard(key)
	s.mu.RLock()
	e := s.m[key]
	s.mu.RUnlock()
	return e
}

// hit reports whether e, key's entry, was read from the file state id,
// and notes the use at now (Unix nanoseconds) if so. An entry replaced
// in the cache since get returned it still describes its own file state.
func (c *readCache) hit(e *cacheEntry, id fileID, now int64) bool {
	if e.id != id {
		return false
	}
	// Update the use time coarsely: a store on every hit would make
	// concurrent readers of one session fight over its cache line.
	if now-e.used.Load() > int64(10*time.Millisecond) {
		e.used.Store(now)
	}
	return true
}

// put caches record and version under key as read from (or written to)
// the file state id, replacing any entry of key and evicting others as
// the bounds require. A record the bounds cannot hold, or one from a file
// with coarse time stamps, is not cached, and key's old entry goes.
func (c *readCache) put(key string, id fileID, record []byte, version uint64, now int64) {
	cost := int64(len(record)+len(key)) + entryOverhead
	s := c.shard(key)
	if cost > s.maxBytes || !id.cacheable() {
		c.drop(key)
		return
	}
	e := &cacheEntry{id: id, record: record[:len(record):len(record)], version: version, cost: cost}
	e.used.Store(now)
	key = strings.Clone(key) // do not keep a caller's larger string alive
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[key]; ok {
		s.bytes -= old.cost
		delete(s.m, key)
	}
	for len(s.m) >= s.maxEntries || s.bytes+cost > s.maxBytes {
		s.evictLocked(now)
	}
	s.m[key] = e
	s.bytes += cost
}

// evictSample is how many entries eviction looks at to choose one.
const evictSample = 5

// evictLocked removes one entry: among a few taken in the map's random
// iteration order, an expired one if there is one, else the least recently
// used. The shard must not be empty.
func (s *cacheShard) evictLocked(now int64) {
	var victim string
	var oldest int64
	seen := 0
	for k, e := range s.m {
		if e.id.mtime <= now {
			victim = k
			break
		}
		if u := e.used.Load(); seen == 0 || u < oldest {
			victim, oldest = k, u
		}
		if seen++; seen == evictSample {
			break
		}
	}
	s.bytes -= s.m[victim].cost
	delete(s.m, victim)
}

// drop removes the entry of key, if any.
func (c *readCache) drop(key string) {
	s := c.shard(key)
	s.mu.RLock()
	_, ok := s.m[key]
	s.mu.RUnlock()
	if !ok {
		return // the common case for absent keys: no exclusive lock
	}
	s.mu.Lock()
	if e, ok := s.m[key]; ok {
		s.bytes -= e.cost
		delete(s.m, key)
	}
	s.mu.Unlock()
}

// purgeExpired removes the entries of records that expired by now (Unix
// nanoseconds); Sweep calls it, so memory goes back even for sessions no
// Load asks for again.
func (c *readCache) purgeExpired(now int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.id.mtime <= now {
				s.bytes -= e.cost
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

// clear removes every entry.
func (c *readCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.bytes = 0
		s.mu.Unlock()
	}
}

// stats returns the number of entries and the bytes charged for them.
func (c *readCache) stats() (entries int, bytes int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		entries += len(s.m)
		bytes += s.bytes
		s.mu.RUnlock()
	}
	return entries, bytes
}
