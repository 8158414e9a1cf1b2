// Package memory is the in-process session store behind memory:// DSNs.
//
// Records live in a sharded map inside the current process: they are lost
// when the process exits and are not shared with other processes, so the
// driver suits development, tests and single-instance deployments. Every
// method is safe for concurrent use.
//
// The store is bounded. It never holds more than Options.MaxEntries records;
// when it is full, saving a new key first drops expired records and then
// evicts the live record that expires soonest among a small random sample
// (the approximation Redis uses for its volatile-ttl policy). An evicted
// record is gone: its user is logged out. The bound exists to protect the
// process from running out of memory when clients create sessions faster
// than they expire (a crawler or an attacker that never returns its
// cookie); Stats reports how often it has struck. Note that the bound counts
// records, not bytes: the core keeps records small, and memory use is about
// MaxEntries times the typical record size plus some 150 bytes per entry.
//
// Records are kept as given: Save keeps the caller's slice and Load returns
// it, without copies, as the sessions.Driver contract allows.
//
// The driver also enumerates its records (Scan) and keeps a per-user index
// of sessions (IndexUser, UnindexUser, UserKeys) beside the records. The
// index does not count toward MaxEntries; it has bounds of its own,
// driver.MaxUserEntries live entries per user and max(MaxEntries,
// MinIndexBound) overall, at which it refuses a new entry rather than
// forget a live one (see IndexUser).
//
// The package does not import github.com/ginkit/sessions; its *Driver
// satisfies sessions.Driver, sessions.Toucher, sessions.Scanner and
// sessions.UserIndexer implicitly.
package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ginkit/sessions/driver"
)

// Defaults applied by New to zero (or negative) fields of Options.
const (
	// DefaultMaxEntries bounds the store when Options.MaxEntries is zero.
	// A hundred thousand live sessions is more than most single-process
	// applications ever hold at once, so legitimate users are not evicted,
	// while a flood of new sessions stops at roughly 100–150 MiB for the
	// typical record of under a kilobyte: far below what would endanger the
	// process. Applications with more concurrent sessions than this should
	// raise the bound or, better, use a shared store.
	DefaultMaxEntries = 100_000

	// DefaultShards is the number of independently locked shards when
	// Options.Shards is zero: enough that 64 cores rarely wait for one
	// another, small enough that the per-shard bookkeeping stays negligible.
	DefaultShards = 64

	// DefaultSweepInterval is how often the janitor removes expired records
	// when Options.SweepInterval is zero.
	DefaultSweepInterval = time.Minute

	// maxShards caps Options.Shards.
	maxShards = 1 << 16

	// evictionSample is how many records a full shard compares to choose
	// the one to evict.
	evictionSample = 5
)

// ErrClosed is returned (possibly wrapped) by every method called after
// Close, including a second Close. Test for it with errors.Is.
var ErrClosed = errors.New("memory: driver closed")

// Options configures a Driver. The zero value gives the documented defaults.
type Options struct {
	// MaxEntries is the most records the store holds at any moment,
	// expired-but-not-yet-removed ones included. Zero or negative means
	// DefaultMaxEntries. The store never exceeds it: the bound is split
	// exactly over the shards (some shards hold one record more than
	// others), so a shard can be full while others still have room.
	MaxEntries int

	// Shards is the number of independently locked parts of the store.
	// Zero or negative means DefaultShards. It is rounded up to a power of
	// two, capped at 65536, and lowered (to a power of two) so that no
	// shard has room for less than one record when MaxEntries is tiny.
	Shards int

	// SweepInterval is how often a background goroutine (the janitor)
	// removes expired records. Zero means DefaultSweepInterval; a negative
	// value disables the janitor, in which case expired records are still
	// never returned and are removed when read or when their shard fills.
	SweepInterval time.Duration
}

// Stats is a snapshot of the store's counters, as returned by Driver.Stats.
type Stats struct {
	// Entries is the number of records held, including expired records
	// not yet removed. It never exceeds Options.MaxEntries. It is zero
	// after Close.
	Entries int

	// Evictions counts live records removed to make room for a new key
	// because the store was full. Each one logged a user out; a growing
	// count means MaxEntries is too small for the traffic (or that someone
	// is creating sessions in bulk).
	Evictions uint64

	// Expired counts records removed, or replaced, after their expiry by
	// the janitor, by a read or by a save.
	Expired uint64
}

// The contract this package implements, checked at compile time.
var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.Toucher     = (*Driver)(nil)
	_ driver.Scanner     = (*Driver)(nil)
	_ driver.UserIndexer = (*Driver)(nil)
)

// Driver is an in-memory session store. Create one with New or Open; the
// zero value is not usable. All methods are safe for concurrent use.
type Driver struct {
	shards []shard
	mask   uint64
	seed   maphash.Seed

	version   atomic.Uint64 // last version handed out; versions start at 1
	evictions atomic.Uint64
	expired   atomic.Uint64

	index userIndex // the per-user index of index.go

	closeOnce sync.Once
	stop      chan struct{} // closed by Close to stop the janitor
	done      chan struct{} // closed by the janitor when it exits; nil without one
}

// entry is one stored record. expires is in Unix nanoseconds.
type entry struct {
	record  []byte
	version uint64
	expires int64
}

// shard is one independently locked part of the store. m is nil once the
// driver is closed.
type shard struct {
	mu  sync.Mutex
	m   map[string]entry
	cap int // the most entries this shard may hold
	// minExpires is a lower bound on the expiry of every entry in m (exact
	// after a sweep), so a shard with nothing expired is skipped cheaply.
	minExpires int64
	_          [32]byte // keep hot shards on separate cache lines
}

// New returns a running in-memory store configured by opts (zero fields
// take the defaults documented on Options) and starts its janitor unless
// opts.SweepInterval is negative. Call Close to stop the janitor.
func New(opts Options) *Driver {
	maxEntries := opts.MaxEntries
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	n := opts.Shards
	if n <= 0 {
		n = DefaultShards
	}
	if n > maxShards {
		n = maxShards
	}
	n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	for n > maxEntries {
		n >>= 1 // every shard must have room for at least one record
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}

	d := &Driver{
		shards: make([]shard, n),
		mask:   uint64(n - 1),
		seed:   maphash.MakeSeed(),
		stop:   make(chan struct{}),
	}
	// Split maxEntries exactly: the first maxEntries%n shards get one more.
	base, extra := maxEntries/n, maxEntries%n
	for i := range d.shards {
		s := &d.shards[i]
		s.cap = base
		if i < extra {
			s.cap++
		}
		s.m = make(map[string]entry)
		s.minExpires = math.MaxInt64
	}
	if interval > 0 {
		d.done = make(chan struct{})
		go d.janitor(interval)
	}
	return d
}

func (d *Driver) shardFor(key string) *shard {
	return &d.shards[maphash.String(d.seed, key)&d.mask]
}

// Load returns the live record under key, its version and its expiry, or
// (nil, 0, time.Time{}, nil) if there is none. It never returns an expired
// record; finding one, it removes it. The returned slice is the one given
// to Save, not a copy: the caller must not modify it.
func (d *Driver) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("memory: load: %w", err)
	}
	now := time.Now().UnixNano()
	s := d.shardFor(key)
	s.mu.Lock()
	if s.m == nil {
		s.mu.Unlock()
		return nil, 0, time.Time{}, ErrClosed
	}
	e, ok := s.m[key]
	if ok && e.expires <= now {
		delete(s.m, key)
		d.expired.Add(1)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return nil, 0, time.Time{}, nil
	}
	return e.record, e.version, time.Unix(0, e.expires), nil
}

// Save stores record under key with time to live ttl if the live version
// under key equals version (0: no live record), atomically, and reports
// whether it wrote. The new version is taken from a per-driver counter, so
// it is non-zero and never repeats. Save keeps record itself, without a
// copy. If key is new and its shard is full, Save makes room as the package
// documentation describes, so it never fails for lack of space. A ttl of
// zero or less is an error.
func (d *Driver) Save(ctx context.Context, key string, record []byte, version uint64, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("memory: save: %w", err)
	}
	if ttl <= 0 {
		return false, fmt.Errorf("memory: save: ttl %v is not positive", ttl)
	}
	if record == nil {
		record = []byte{} // a stored record is never nil: nil means absent
	}
	now := time.Now()
	expires := now.Add(ttl).UnixNano()
	nowNano := now.UnixNano()

	s := d.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return false, ErrClosed
	}
	e, ok := s.m[key]
	if ok && e.expires <= nowNano {
		delete(s.m, key)
		d.expired.Add(1)
		ok = false
	}
	var current uint64
	if ok {
		current = e.version
	}
	if current != version {
		return false, nil
	}
	if !ok && len(s.m) >= s.cap {
		d.makeRoom(s, nowNano)
	}
	s.m[key] = entry{record: record, version: d.version.Add(1), expires: expires}
	if expires < s.minExpires {
		s.minExpires = expires
	}
	return true, nil
}

// makeRoom frees one slot in the full shard s, whose lock the caller holds:
// it drops the expired entries, and if none had expired, evicts the entry
// expiring soonest among a small sample. Go randomises the starting point
// of every map iteration, so the first entries of a range form the sample.
func (d *Driver) makeRoom(s *shard, now int64) {
	if d.sweepShardLocked(s, now) > 0 {
		return
	}
	var (
		victim   string
		earliest int64 = math.MaxInt64
		seen     int
	)
	for k, e := range s.m {
		if e.expires < earliest || seen == 0 {
			victim, earliest = k, e.expires
		}
		seen++
		if seen == evictionSample {
			break
		}
	}
	if seen > 0 {
		delete(s.m, victim)
		d.evictions.Add(1)
	}
}

// Touch sets the expiry of the live record under key to now plus ttl,
// keeping its bytes and version. If there is no live record it does nothing
// and returns nil. A ttl of zero or less is an error.
func (d *Driver) Touch(ctx context.Context, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: touch: %w", err)
	}
	if ttl <= 0 {
		return fmt.Errorf("memory: touch: ttl %v is not positive", ttl)
	}
	now := time.Now()
	expires := now.Add(ttl).UnixNano()
	s := d.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return ErrClosed
	}
	e, ok := s.m[key]
	if !ok {
		return nil
	}
	if e.expires <= now.UnixNano() {
		delete(s.m, key)
		d.expired.Add(1)
		return nil
	}
	e.expires = expires
	s.m[key] = e
	if expires < s.minExpires {
		s.minExpires = expires
	}
	return nil
}

// Delete removes the record under key. Deleting a missing key returns nil.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: delete: %w", err)
	}
	s := d.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return ErrClosed
	}
	delete(s.m, key)
	return nil
}

// Stats returns a snapshot of the store's counters. It is safe to call at
// any time, also after Close.
func (d *Driver) Stats() Stats {
	st := Stats{Evictions: d.evictions.Load(), Expired: d.expired.Load()}
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		st.Entries += len(s.m)
		s.mu.Unlock()
	}
	return st
}

// Close stops the janitor, waits for it to exit (no longer than ctx
// allows) and drops every record. Afterwards every method except Stats
// returns ErrClosed. Close never panics; a second Close returns ErrClosed,
// as every call after Close does.
func (d *Driver) Close(ctx context.Context) error {
	first := false
	d.closeOnce.Do(func() {
		first = true
		close(d.stop)
		for i := range d.shards {
			s := &d.shards[i]
			s.mu.Lock()
			s.m = nil
			s.mu.Unlock()
		}
	})
	if !first {
		return ErrClosed
	}
	if d.done == nil {
		return nil
	}
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("memory: close: waiting for the janitor: %w", ctx.Err())
	}
}
