package redis

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
	"unsafe"
)

// Client-side caching.
//
// With Options.ClientCache (DSN client_cache=true) Load reads through
// rueidis' server-assisted client-side cache: the first Load of a key asks
// Redis to track it (CLIENT CACHING YES, then GET with the key's PTTL in
// one MULTI), later Loads of it are answered from the process' memory with
// no round trip, and Redis sends an invalidation the moment anything
// changes the key (a Save or Touch from any process, a Delete, an expiry,
// a FLUSHALL), after which the next Load asks Redis again. The cached
// entry also lapses at the key's own expiry. A read-only request of a
// session whose idle deadline needs no extension thus costs Redis nothing.
//
// Staleness. An invalidation reaches the process asynchronously, so for a
// short time after another process changed a session this one may still
// serve the previous record (normally well under a millisecond; bounded by
// how fast the invalidation travels). That is harmless for the core: a
// write based on a stale record fails its conditional Save and is retried.
// Within one process the driver closes the gap entirely: a key this Driver
// saved, deleted or failed to save is read from Redis directly, not from
// the cache, for recentWindow afterwards, by which time its invalidation
// has long arrived. So a request always sees what an earlier request in the
// same process wrote, a destroyed or refreshed session is dead at once, and
// a conflicting save re-reads the current record. It also keeps sessions
// that are written on every request from churning the cache: they are read
// with a plain GET, as without caching.
//
// Expiry. The record's deadline travels in the value's header, so a cached
// GET reports it exactly; rueidis also drops the entry at the key's own
// expiry (it asks for the PTTL with the GET, and the driver asks for a
// local time to live far longer than any session). A Touch changes the key
// (its header and its expiry), so Redis invalidates the entry and the next
// Load sees the new deadline.

// recentWindow is how long after this Driver wrote, deleted or failed to
// save a key its Loads bypass the client-side cache.
const recentWindow = 5 * time.Second

// cacheTTL is the local time to live asked of rueidis for a cached GET:
// longer than any session, so the key's own expiry (which rueidis takes
// when shorter) always governs. A key without expiry (not written by this
// driver) keeps it, and Load reports it without expiry, as direct reads
// do.
const cacheTTL = 100 * 365 * 24 * time.Hour

// loadCached is Load through the client-side cache.
func (d *Driver) loadCached(ctx context.Context, k string) ([]byte, uint64, time.Time, error) {
	res := d.client.DoCache(ctx, d.client.B().Get().Key(k).Cache().Pin(), cacheTTL) // see loadDirect
	s, err := res.ToString()
	if absent(err) {
		return nil, 0, time.Time{}, nil
	}
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("redis: load: %w", err)
	}
	pxat := res.CachePXAT()
	if pxat <= 0 {
		// The client has caching turned off (ClientOption.DisableCache)
		// and answered a plain GET without the key's expiry: read it
		// again the direct way, and from now on always.
		d.cacheOff.Store(true)
		return d.loadDirect(ctx, k)
	}
	// The cached string is immutable and shared; the core never modifies
	// a loaded record (the Driver contract), so hand it out without a copy.
	val := unsafe.Slice(unsafe.StringData(s), len(s))
	rec, version, expires, ok := parseValue(val, time.Now())
	if !ok {
		return nil, 0, time.Time{}, nil
	}
	return rec, version, expires, nil
}

// useCache reports whether a Load of k may be answered from the cache.
func (d *Driver) useCache(k string) bool {
	return d.cache && !d.cacheOff.Load() && !d.recent.has(k, time.Now().UnixNano())
}

// noteWrite records that this Driver changed (or tried to change) k.
func (d *Driver) noteWrite(k string) {
	if d.cache {
		d.recent.mark(k, time.Now().UnixNano())
	}
}

// recentKeys is a set of keys with a deadline each, sharded to keep lock
// contention low, and swept lazily so it holds about recentWindow's worth
// of writes.
type recentKeys struct {
	seed   maphash.Seed
	shards [recentShards]recentShard
}

const recentShards = 32

type recentShard struct {
	mu       sync.Mutex
	m        map[string]int64 // key -> deadline, Unix nanoseconds
	nextScan int64
	_        [24]byte
}

func newRecentKeys() *recentKeys {
	return &recentKeys{seed: maphash.MakeSeed()}
}

func (r *recentKeys) shard(k string) *recentShard {
	return &r.shards[maphash.String(r.seed, k)%recentShards]
}

func (r *recentKeys) mark(k string, now int64) {
	s := r.shard(k)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[string]int64)
	}
	s.m[k] = now + int64(recentWindow)
	if now >= s.nextScan {
		for key, deadline := range s.m {
			if deadline <= now {
				delete(s.m, key)
			}
		}
		s.nextScan = now + int64(recentWindow)
	}
	s.mu.Unlock()
}

func (r *recentKeys) has(k string, now int64) bool {
	s := r.shard(k)
	s.mu.Lock()
	deadline, ok := s.m[k]
	if ok && deadline <= now {
		delete(s.m, k)
		ok = false
	}
	s.mu.Unlock()
	return ok
}
