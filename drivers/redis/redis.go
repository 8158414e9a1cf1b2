// Package redis is the session storage driver for Redis (standalone, Redis
// Cluster and Sentinel-managed primaries), built on github.com/redis/rueidis.
//
// Each session is one Redis string under Prefix+key whose value is a
// 16-byte header — the record's 8-byte big-endian version, then its
// expiry deadline in Unix milliseconds — followed by the record bytes, with
// the record's time to live as the key's expiry too. Everything a session needs
// lives in that one key, so the driver works unchanged on Redis Cluster,
// and expiry is Redis' own: nothing sweeps.
//
// Every operation is one command and one round trip: Load is a single GET
// (the deadline travels in the value, so no PTTL is needed, and the GET
// can be served by the client-side cache), Save runs a small Lua script
// (EVALSHA, falling back to EVAL) that compares the stored version and
// writes in one atomic step, Touch runs a script that rewrites only the
// 8-byte deadline (SETRANGE) and the key's expiry (PEXPIRE), never the
// record, and Delete is DEL. A read-only request thus costs one command
// and a write two (GET, EVALSHA). With client-side caching on (Options.ClientCache, DSN
// client_cache=true), a Load of a session that was only read is answered
// from the process' memory with no round trip at all (see cache.go).
//
// A value under a session key that is shorter than the header or carries
// version 0 was not written by this driver (the driver always writes a
// non-zero version). Load reports it as absent, and a Save with version 0
// replaces it, so the core simply starts a fresh session instead of
// failing on it forever.
package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginkit/sessions/driver"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty or the
// DSN has no prefix option.
const DefaultPrefix = "sess:"

// DefaultTimeout is the per-operation deadline used when Options.Timeout is
// zero or the DSN has no timeout option.
const DefaultTimeout = 5 * time.Second

// ErrClosed is returned by every method of a Driver after Close.
var ErrClosed = errors.New("redis: driver closed")

// Options tunes a Driver made by New. The zero value is ready to use.
type Options struct {
	// Prefix is prepended to every session key. Empty means DefaultPrefix
	// ("sess:"). Give each application sharing a Redis its own prefix. On
	// Redis Cluster, do not put a hash tag ({...}) in it: that would pin
	// every session to one slot.
	Prefix string

	// Timeout bounds each Load, Save, Delete and Touch: the driver derives
	// a context with this deadline from the caller's (the earlier deadline
	// wins). Zero means DefaultTimeout (5s); a negative value means no
	// deadline of the driver's own, only the caller's context.
	Timeout time.Duration

	// ClientCache makes Load read through rueidis' server-assisted
	// client-side cache (see cache.go): a session that is only read is
	// served from the process' memory, and Redis invalidates the copy when
	// anything changes it. The client must have caching on (the default of
	// rueidis.ClientOption, which needs RESP3 and Redis 6 or later); if it
	// has DisableCache set, Load notices and reads directly.
	ClientCache bool
}

// The contract this package implements, checked at compile time.
var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.Toucher     = (*Driver)(nil)
	_ driver.Scanner     = (*Driver)(nil)
	_ driver.UserIndexer = (*Driver)(nil)
)

// Driver stores sessions in Redis. It implements the sessions.Driver and
// sessions.Toucher contracts, and is safe for concurrent use.
type Driver struct {
	client  rueidis.Client
	prefix  string
	timeout time.Duration
	owned   bool // Close closes client
	closed  atomic.Bool

	cache    bool        // Options.ClientCache
	cacheOff atomic.Bool // the client turned out to have caching off
	recent   *recentKeys // keys written lately: read directly, not from the cache
}

// New returns a Driver that uses client, which may be a standalone,
// cluster or sentinel client. The Driver does not own client: Close marks
// the Driver closed (later calls fail with ErrClosed) but leaves client
// open, and the caller remains responsible for closing it.
func New(client rueidis.Client, opts Options) *Driver {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	d := &Driver{client: client, prefix: opts.Prefix, timeout: opts.Timeout, cache: opts.ClientCache}
	if d.cache {
		d.recent = newRecentKeys()
	}
	return d
}

// saveScript is the conditional write. KEYS[1] is the session key,
// ARGV[1] the expected version as 8 bytes ("" for "must be absent"),
// ARGV[2] the new value (header, then the record), ARGV[3] the time to
// live in milliseconds and ARGV[4] the caller's clock in Unix
// milliseconds. A stored value shorter than the header, with version 0,
// of another type, in its last millisecond (PTTL 0) or past the deadline
// in its header all count as absent, exactly as Load sees them, so a
// record Load reported gone can be created again at once. It returns 1 if
// it wrote and 0 on a version mismatch.
var saveScript = rueidis.NewLuaScript(`
local cur = ''
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('PTTL', KEYS[1]) ~= 0 then
  local h = redis.call('GETRANGE', KEYS[1], 0, 15)
  if string.len(h) == 16 then
    local dl = 0
    for i = 9, 16 do dl = dl * 256 + string.byte(h, i) end
    if dl == 0 or dl > tonumber(ARGV[4]) then cur = string.sub(h, 1, 8) end
  end
end
if cur == '\0\0\0\0\0\0\0\0' then cur = '' end
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// touchScript extends a record's life without rewriting it: KEYS[1] is
// the session key, ARGV[1] the new 8-byte deadline and ARGV[2] the time to
// live in milliseconds. It rewrites only the deadline bytes of the header
// (SETRANGE at offset 8) and the key's expiry, and does nothing to a
// missing key, a key of another type or a value too short to be ours.
var touchScript = rueidis.NewLuaScript(`
if redis.call('TYPE', KEYS[1]).ok ~= 'string' or redis.call('STRLEN', KEYS[1]) < 16 then return 0 end
redis.call('SETRANGE', KEYS[1], 8, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// Load returns the record under key, its version and its expiry, with one
// command (GET). The expiry is the deadline in the value's header, set by
// the application's clock when the record was saved or touched; Redis
// expires the key at the same moment or a few milliseconds later, and a
// record past its header deadline is reported absent. A deadline of zero
// (only possible if something else wrote the value) is returned as a zero
// expiry. Absence, including a value this driver
// did not write, gives (nil, 0, time.Time{}, nil).
//
// With Options.ClientCache, Load answers from the client-side cache when
// it can (no round trip), as cache.go describes.
func (d *Driver) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	if d.closed.Load() {
		return nil, 0, time.Time{}, ErrClosed
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	k := d.prefix + key
	if d.useCache(k) {
		return d.loadCached(ctx, k)
	}
	return d.loadDirect(ctx, k)
}

// headerLen is the size of the value header: version, then deadline.
const headerLen = 16

// loadDirect is Load without the client-side cache: one GET.
//
// The commands rueidis may retry on a new connection after losing one
// (read-only and ToRetryable ones) are pinned: rueidis recycles a command
// when Do returns, while the dead connection's writer may have been
// reading it, a data race the race detector reports when Redis stops under
// load (integration's TestFaultsRedis). A pinned command is never
// recycled; it costs one allocation.
func (d *Driver) loadDirect(ctx context.Context, k string) ([]byte, uint64, time.Time, error) {
	val, err := d.client.Do(ctx, d.client.B().Get().Key(k).Build().Pin()).AsBytes()
	if absent(err) {
		return nil, 0, time.Time{}, nil
	}
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("redis: load: %w", err)
	}
	rec, version, expires, ok := parseValue(val, time.Now())
	if !ok {
		return nil, 0, time.Time{}, nil
	}
	return rec, version, expires, nil
}

// parseValue splits a stored value into record, version and deadline. It
// reports false for a value this driver did not write (too short, version
// 0) and for one whose deadline has passed at now, though Redis may not
// have expired the key yet. A zero deadline means no expiry.
func parseValue(val []byte, now time.Time) (rec []byte, version uint64, expires time.Time, ok bool) {
	if len(val) < headerLen {
		return nil, 0, time.Time{}, false
	}
	version = binary.BigEndian.Uint64(val)
	if version == 0 {
		return nil, 0, time.Time{}, false
	}
	if ms := int64(binary.BigEndian.Uint64(val[8:])); ms != 0 {
		expires = time.UnixMilli(ms)
		if !expires.After(now) {
			return nil, 0, time.Time{}, false
		}
	}
	return val[headerLen:], version, expires, true
}

// absent reports whether a GET error means "no record of ours": a nil
// reply, or a key of another type (WRONGTYPE) that something else wrote
// under our prefix. Treating the latter as an error would fail every
// request of that visitor for as long as the key lives.
func absent(err error) bool {
	if rueidis.IsRedisNil(err) {
		return true
	}
	re, ok := rueidis.IsRedisErr(err)
	return ok && strings.HasPrefix(re.Error(), "WRONGTYPE")
}

// Save writes record under key with time to live ttl (rounded up to whole
// milliseconds, at least one) if and only if the stored version equals
// version, in one atomic round trip. The new version is a random non-zero
// number different from version, not a counter, so a key that is deleted
// and created again does not bring an old version back (no ABA).
func (d *Driver) Save(ctx context.Context, key string, record []byte, version uint64, ttl time.Duration) (bool, error) {
	if d.closed.Load() {
		return false, ErrClosed
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	expect := ""
	if version != 0 {
		expect = string(binary.BigEndian.AppendUint64(nil, version))
	}
	next := rand.Uint64()
	for next == 0 || next == version {
		next = rand.Uint64()
	}
	var value strings.Builder
	value.Grow(headerLen + len(record))
	var h [headerLen]byte
	binary.BigEndian.PutUint64(h[:8], next)
	binary.BigEndian.PutUint64(h[8:], uint64(deadline(ttl)))
	value.Write(h[:])
	value.Write(record)
	k := d.prefix + key
	n, err := saveScript.Exec(ctx, d.client,
		[]string{k},
		[]string{expect, value.String(), millis(ttl), strconv.FormatInt(time.Now().UnixMilli(), 10)},
	).AsInt64()
	// Written, refused (so the caller's version was stale) or unknown:
	// either way the next Load must see Redis, not a cached copy.
	d.noteWrite(k)
	if err != nil {
		return false, fmt.Errorf("redis: save: %w", err)
	}
	return n == 1, nil
}

// Touch sets the time to live of the record under key to ttl (rounded up to
// whole milliseconds, at least one), rewriting only the 8-byte deadline in
// its header and the key's expiry, in one atomic script: the record and
// its version stay unchanged. A missing key stays missing and is not an
// error.
func (d *Driver) Touch(ctx context.Context, key string, ttl time.Duration) error {
	if d.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	k := d.prefix + key
	var dl [8]byte
	binary.BigEndian.PutUint64(dl[:], uint64(deadline(ttl)))
	err := touchScript.Exec(ctx, d.client, []string{k}, []string{string(dl[:]), millis(ttl)}).Error()
	d.noteWrite(k)
	if err != nil {
		return fmt.Errorf("redis: touch: %w", err)
	}
	return nil
}

// deadline returns the Unix millisecond at which a record saved or touched
// now with ttl expires, as stored in the header.
func deadline(ttl time.Duration) int64 {
	return time.Now().UnixMilli() + ttlMillis(ttl)
}

// Delete removes the record under key with DEL. A missing key is not an
// error.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if d.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	// DEL is idempotent, so rueidis may retry it after a network error.
	k := d.prefix + key
	cmd := d.client.B().Del().Key(k).Build().ToRetryable().Pin() // see loadDirect
	err := d.client.Do(ctx, cmd).Error()
	d.noteWrite(k) // a deleted session is dead at once for this process
	if err != nil {
		return fmt.Errorf("redis: delete: %w", err)
	}
	return nil
}

// Close marks the Driver closed: every later call, Close included, returns
// ErrClosed. A Driver made by Open also closes its rueidis client, waiting
// for that no longer than ctx allows (the client then finishes closing in
// the background); a Driver made by New leaves the client open.
func (d *Driver) Close(ctx context.Context) error {
	if !d.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	if !d.owned {
		return nil
	}
	done := make(chan struct{})
	go func() {
		d.client.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redis: close: %w", ctx.Err())
	}
}

// withTimeout applies the driver's per-operation deadline to ctx.
func (d *Driver) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.timeout < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d.timeout)
}

// ttlMillis converts ttl to whole milliseconds, rounding up, at least one.
func ttlMillis(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond > 0 {
		ms++
	}
	if ms < 1 {
		ms = 1
	}
	return ms
}

// millis is ttlMillis as a command argument.
func millis(ttl time.Duration) string { return strconv.FormatInt(ttlMillis(ttl), 10) }
