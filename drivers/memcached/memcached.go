// Package memcached stores sessions in memcached, through
// github.com/bradfitz/gomemcache. The root package registers it under the
// scheme memcached; applications that already hold a gomemcache client use
// New instead.
//
// # Storage format
//
// Each record is one memcached item under Prefix+key. memcached's classic
// protocol cannot report how long an item has left to live, but Load must
// report the expiry, so the item value is an 8-byte big-endian deadline
// (Unix milliseconds, computed at save time) followed by the record bytes,
// and the item flags mark the format. Load reports that deadline and treats
// a record whose deadline has passed as absent, although memcached may
// still hold it for up to two seconds. An item that is shorter than 8
// bytes or carries other flags (written by something else) is corrupt: Load
// reports it as absent, so the core starts a fresh session under a new ID,
// and a Save with version 0 may replace it.
//
// # Expiry
//
// memcached counts time to live in whole seconds on a clock that ticks once
// a second, so an item stored for N seconds can vanish up to a second
// early. Save therefore asks memcached for the ttl rounded up to whole
// seconds plus one, which keeps the item at least until its deadline; the
// deadline itself is exact to the millisecond. Lifetimes over 30 days are
// sent as absolute Unix times, as memcached requires, and so depend on the
// server's clock agreeing with the application's. A lifetime that would end
// after 2038-01-19 (memcached's 32-bit time) is stored without a memcached
// expiry: the deadline in the value still ends it for Load, and memcached
// evicts the item when it needs the memory.
//
// # Versions
//
// A version is the item's CAS unique ID, so a memcached started with -C
// (CAS disabled) cannot be used: Load then returns an error. Save with
// version 0 uses add; on an existing item whose deadline has passed it
// replaces that item with a compare-and-swap. Save with a version uses
// compare-and-swap alone, so a version read while the record was live
// still matches in the moment between its deadline and memcached dropping
// the item; the core saves right after it loads, so this only widens the
// life of a session by the time one request takes.
//
// # No Touch
//
// The driver does not implement sessions.Toucher. memcached's touch keeps
// the CAS ID but cannot change the deadline stored in the value, so Load
// would go on reporting (and enforcing) the old expiry; rewriting the value
// changes the CAS ID, which Touch must keep. The core falls back to a
// conditional Save for the sliding idle lifetime.
//
// # No Scan
//
// The driver does not implement sessions.Scanner: memcached's protocol
// has no way to enumerate keys (gomemcache offers none; the administrative
// dumps are debugging aids: "stats cachedump" shows only part of each slab
// class, and "lru_crawler metadump" may be disabled and promises nothing
// about items changing during the dump), so bulk tools cannot count,
// migrate or purge memcached sessions one by one. To drop every session,
// change the Prefix (or flush the servers, if they hold nothing else).
//
// # User index
//
// The driver keeps a per-user index of sessions (IndexUser, UnindexUser,
// UserKeys; sessions.UserIndexer): one item per user at
// Prefix+"u:"+user holding a compact list of (key, expiry) entries,
// updated with gets and compare-and-swap so concurrent updates from any
// process all take effect. It holds up to driver.MaxUserEntries live
// entries per user and refuses a new one past that rather than forget a
// live one. See IndexUser.
//
// # Several servers
//
// With several servers, gomemcache's ServerList spreads keys over them by
// a CRC-32 hash of the key modulo the number of servers. A session lives
// on one server only: when that server is down its sessions cannot be
// loaded, and changing the server list moves most keys to another server,
// where they are absent (their users start new sessions).
//
// # Record size
//
// memcached refuses items larger than its item size limit (-I, default
// 1m), which counts the key, the 8-byte deadline and some overhead on top
// of the record. Save then returns an error that names the record's size;
// the record stored before under that key stays as it was.
//
// # Batched reads
//
// gomemcache sends each command on a connection of its own and waits for
// the answer, so every Load would pay a write and a read system call on
// each side. Instead, a Driver keeps at most four gets on the wire at
// once: a Load that finds one of those lanes free sends its get at once,
// and Loads that arrive while all four are busy wait and go out together
// on the first lane that frees up, as one multi-key gets per server
// (gomemcache's GetMulti). A quiet server sees no added latency; a busy
// one answers many Loads per round trip. Two Loads of one key in a batch
// each get a copy of their own. With several servers, a Driver from Open
// fetches each server's part of a batch on its own, at the same time, so a
// server that is down fails only the Loads of its keys; a Driver from New
// cannot tell which server holds a key, and a batch that meets a failing
// server fails every Load in it whose key was not found.
//
// # Contexts and timeouts
//
// gomemcache has no context support. Each method returns the context's
// error without any I/O if the context is already done; otherwise the
// client's socket timeout bounds each network round trip, and a Save may
// take up to three round trips. A Load that waits for a lane waits for
// the round trip in flight first, so when the server stops answering a
// Load may take about twice the timeout.
package memcached

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/ginkit/sessions/driver"
)

// ErrClosed is returned by every method of a Driver after Close.
var ErrClosed = errors.New("memcached: driver closed")

// Options configures a Driver made by New. The zero value is valid.
type Options struct {
	// Prefix is prepended to every key to make the memcached key, so that
	// sessions do not collide with other data on the same servers. Empty
	// means DefaultPrefix. It must be at most 100 bytes long and contain
	// no whitespace or control characters; New panics otherwise.
	Prefix string
}

// The contract this package implements, checked at compile time.
var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.UserIndexer = (*Driver)(nil)
)

// Driver stores session records in memcached. It satisfies
// sessions.Driver (Load, Save, Delete, Close) and is safe for concurrent
// use; its conditional Save is atomic across processes sharing the
// servers. It does not implement Touch (see the package documentation).
type Driver struct {
	client *memcache.Client
	owned  bool // Close closes client's connections
	prefix string

	gets getBatcher // Load's gets, coalesced under load (batch.go)

	mu       sync.RWMutex // guards closed; held shortly by begin and Close
	closed   bool
	inflight sync.WaitGroup // calls admitted by begin and not yet done
}

// newDriver returns a Driver over client.
func newDriver(client *memcache.Client, owned bool, prefix string) *Driver {
	d := &Driver{client: client, owned: owned, prefix: prefix}
	d.gets = getBatcher{one: d.get, many: d.getMulti}
	return d
}

// Open returns a Driver for a DSN of the form
//
//	memcached://host[:port][,host[:port]...][?option=value&...]
//
// A server without a port uses DefaultPort; an IPv6 address is written in
// brackets, [::1]:11211, and because url.Parse rejects brackets inside a
// list it can only be the sole server (use host names, or New, for a pool
// over IPv6). With several servers, give each one its port: url.Parse
// rejects a list whose last server has no port while an earlier one has.
//
// Options:
//
//	timeout   socket read/write timeout, a Go duration (default 500ms)
//	max_idle  idle connections kept per server (default 64)
//	prefix    key prefix (default "sess:"), at most 100 bytes,
//	          no whitespace or control characters
//
// Open resolves the host names but does not connect: an unreachable
// server shows as errors from Load and Save. Unknown options, malformed
// values, a missing host, user info and host names that do not resolve
// are errors. The Driver owns its client: Close closes its connections.
func Open(u *url.URL) (*Driver, error) {
	cfg, err := parseDSN(u)
	if err != nil {
		return nil, err
	}
	servers := new(memcache.ServerList)
	if err := servers.SetServers(cfg.servers...); err != nil {
		return nil, fmt.Errorf("memcached: resolve servers: %w", err)
	}
	client := memcache.NewFromSelector(servers)
	client.Timeout = cfg.timeout
	client.MaxIdleConns = cfg.maxIdle
	d := newDriver(client, true, cfg.prefix)
	if len(cfg.servers) > 1 {
		// PickServer hands out the server list's own net.Addr values, so
		// a batch groups its keys without formatting an address per key.
		d.gets.server = func(key string) net.Addr {
			addr, err := servers.PickServer(key)
			if err != nil {
				return nil
			}
			return addr
		}
	}
	return d, nil
}

// New returns a Driver that uses client, which must not be nil. The
// Driver does not own the client: Close makes later calls on the Driver
// fail but leaves the client and its connections open for the
// application. New panics if opts.Prefix is invalid (see Options).
//
// gomemcache keeps idle connections per server; after a server restarts,
// each stale one fails one call. A Driver from Open drops its idle
// connections on the first such failure; one from New leaves the
// application's client alone. A Driver from New cannot see the client's
// server list, so with several servers a batched read that meets a failing
// server fails every Load of the batch that found nothing (see Batched
// reads); use Open for a pool of servers.
func New(client *memcache.Client, opts Options) *Driver {
	if client == nil {
		panic("memcached: New: nil client")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := checkPrefix(prefix); err != nil {
		panic(fmt.Sprintf("memcached: New: Options.Prefix %q: %v", prefix, err))
	}
	return newDriver(client, false, prefix)
}

// Load returns the live record under key, its version (the item's CAS
// ID) and its expiry deadline. A missing, expired or corrupt item is
// absent: (nil, 0, time.Time{}, nil). Errors start with
// "memcached: load:".
func (d *Driver) Load(ctx context.Context, key string) (record []byte, version uint64, expires time.Time, err error) {
	if err := d.begin(ctx); err != nil {
		return nil, 0, time.Time{}, wrap("load", err)
	}
	defer d.inflight.Done()
	mkey, err := d.itemKey(key)
	if err != nil {
		return nil, 0, time.Time{}, wrap("load", err)
	}
	it, err := d.gets.get(mkey)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, 0, time.Time{}, nil
	}
	if err != nil {
		return nil, 0, time.Time{}, wrap("load", err)
	}
	rec, exp, live := decode(it, time.Now())
	if !live {
		return nil, 0, time.Time{}, nil
	}
	if it.CasID == 0 {
		return nil, 0, time.Time{}, wrap("load", errNoCAS)
	}
	return rec, it.CasID, exp, nil
}

// Save stores record under key for ttl if the stored version equals
// version (0: no live record), and reports whether it wrote. A version
// mismatch is (false, nil). A record over the server's item size limit
// is an error that names its size, and leaves the stored record as it
// was. Errors start with "memcached: save:".
func (d *Driver) Save(ctx context.Context, key string, record []byte, version uint64, ttl time.Duration) (saved bool, err error) {
	if err := d.begin(ctx); err != nil {
		return false, wrap("save", err)
	}
	defer d.inflight.Done()
	if ttl <= 0 {
		return false, wrap("save", fmt.Errorf("ttl %v is not positive", ttl))
	}
	mkey, err := d.itemKey(key)
	if err != nil {
		return false, wrap("save", err)
	}
	now := time.Now()
	it := &memcache.Item{
		Key:        mkey,
		Value:      encode(record, now.Add(ttl)),
		Flags:      itemFlags,
		Expiration: expiration(now, ttl),
	}
	if version == 0 {
		saved, err = d.create(it)
	} else {
		it.CasID = version
		saved, err = d.swap(it)
	}
	if err != nil {
		if isTooLarge(err) {
			return false, fmt.Errorf("memcached: save: record of %d bytes is larger than the server accepts (memcached -I, default 1m): %w", len(record), err)
		}
		return false, wrap("save", err)
	}
	return saved, nil
}

// Delete removes the record under key; a missing key is not an error.
// Errors start with "memcached: delete:".
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := d.begin(ctx); err != nil {
		return wrap("delete", err)
	}
	defer d.inflight.Done()
	mkey, err := d.itemKey(key)
	if err != nil {
		return wrap("delete", err)
	}
	err = d.retry(func() error { return d.client.Delete(mkey) })
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return wrap("delete", err)
	}
	return nil
}

// Close makes every later call return ErrClosed, waits for calls in
// flight, and for a Driver from Open then closes the client's
// connections. If ctx ends first, Close returns its error and the rest
// finishes in the background, within the socket timeout. Closing twice
// returns ErrClosed.
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.closed = true
	d.mu.Unlock()

	var closeErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.inflight.Wait()
		if d.owned {
			closeErr = d.client.Close()
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done:
		default:
			return wrap("close", ctx.Err())
		}
	}
	if closeErr != nil {
		return wrap("close", closeErr)
	}
	return nil
}

// begin admits a call: it fails after Close or when ctx is done, and
// otherwise counts the call in flight until d.inflight.Done.
func (d *Driver) begin(ctx context.Context) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.inflight.Add(1)
	return nil
}

// wrap adds the driver and operation to err; ErrClosed stays as it is.
func wrap(op string, err error) error {
	if err == ErrClosed {
		return err
	}
	return fmt.Errorf("memcached: %s: %w", op, err)
}

// maxKey is memcached's key length limit, in bytes.
const maxKey = 250

// itemKey returns the memcached key for a session key.
func (d *Driver) itemKey(key string) (string, error) {
	if len(d.prefix)+len(key) > maxKey {
		return "", fmt.Errorf("key of %d bytes after the prefix %q is longer than memcached's %d-byte limit", len(key), d.prefix, maxKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] == 0x7f {
			return "", fmt.Errorf("key contains a space or control character at byte %d; memcached keys cannot", i)
		}
	}
	return d.prefix + key, nil
}

// get fetches an item with its CAS ID.
func (d *Driver) get(mkey string) (*memcache.Item, error) {
	var it *memcache.Item
	err := d.retry(func() error {
		var err error
		it, err = d.client.Get(mkey)
		return err
	})
	return it, err
}

// getMulti fetches several items with their CAS IDs, in one gets per
// server.
func (d *Driver) getMulti(mkeys []string) (map[string]*memcache.Item, error) {
	var items map[string]*memcache.Item
	err := d.retry(func() error {
		var err error
		items, err = d.client.GetMulti(mkeys)
		return err
	})
	return items, err
}

// maxCreateAttempts bounds the add / get / compare-and-swap loop of create.
const maxCreateAttempts = 3

// create stores it if no live record exists under its key: add, and if
// memcached still holds an item whose deadline has passed (or a corrupt
// one), replace that item by compare-and-swap on its CAS ID.
func (d *Driver) create(it *memcache.Item) (bool, error) {
	for range maxCreateAttempts {
		err := d.once(func() error { return d.client.Add(it) })
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, memcache.ErrNotStored) {
			return false, err
		}
		old, err := d.get(it.Key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			continue // gone since the add: try again
		}
		if err != nil {
			return false, err
		}
		if _, _, live := decode(old, time.Now()); live {
			return false, nil
		}
		if old.CasID == 0 {
			return false, errNoCAS
		}
		replace := *it
		replace.CasID = old.CasID
		err = d.once(func() error { return d.client.CompareAndSwap(&replace) })
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, memcache.ErrCASConflict):
			return false, nil // another writer stored a record first
		case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			continue // the old item went away: try again
		}
		return false, err
	}
	return false, nil
}

// swap stores it if the item under its key has CAS ID it.CasID.
func (d *Driver) swap(it *memcache.Item) (bool, error) {
	err := d.once(func() error { return d.client.CompareAndSwap(it) })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrCASConflict),
		errors.Is(err, memcache.ErrNotStored),
		errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	}
	return false, err
}

// once runs a call that must not be repeated (a write whose first attempt
// may have reached the server). After a connection failure it drops the
// idle connections of an owned client, which are likely stale too.
func (d *Driver) once(call func() error) error {
	err := call()
	if err != nil && isConnError(err) && d.owned {
		_ = d.client.Close() // closes idle connections; the client stays usable
	}
	return err
}

// retry runs an idempotent call, and runs it again once if it failed on a
// connection that had gone stale (closed or reset by the server, as after a
// server restart). Timeouts are not retried: the server is slow or away.
func (d *Driver) retry(call func() error) error {
	err := d.once(call)
	if err != nil && isStaleConn(err) {
		err = d.once(call)
	}
	return err
}

// isConnError reports whether err is a network failure rather than a
// memcached answer.
func isConnError(err error) bool {
	var ne net.Error
	var cte *memcache.ConnectTimeoutError
	return isStaleConn(err) || errors.As(err, &ne) || errors.As(err, &cte)
}

// isStaleConn reports whether err means the peer had closed or reset the
// connection.
func isStaleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

// isTooLarge reports whether err is memcached's refusal of an item over
// its size limit. gomemcache has no error value for it: it returns
// `memcache: unexpected response line from "add": "SERVER_ERROR object too
// large for cache\r\n"` (and closes that connection).
func isTooLarge(err error) bool {
	return strings.Contains(err.Error(), "object too large for cache")
}

// errNoCAS reports a server that returns no CAS IDs.
var errNoCAS = errors.New("server returned no CAS ID; is memcached running with -C (CAS disabled)? versions need CAS")

// itemFlags marks items written in this driver's format ("SSN1").
const itemFlags uint32 = 0x53534e31

// headerLen is the size of the deadline before the record in an item value.
const headerLen = 8

// encode returns the item value for record: deadline, then record.
func encode(record []byte, deadline time.Time) []byte {
	v := make([]byte, headerLen, headerLen+len(record))
	binary.BigEndian.PutUint64(v, uint64(deadline.UnixMilli()))
	return append(v, record...)
}

// decode splits an item value into record and deadline, and reports
// whether it is a well-formed record still live at now.
func decode(it *memcache.Item, now time.Time) (record []byte, deadline time.Time, live bool) {
	if it.Flags != itemFlags || len(it.Value) < headerLen {
		return nil, time.Time{}, false
	}
	deadline = time.UnixMilli(int64(binary.BigEndian.Uint64(it.Value)))
	if !now.Before(deadline) {
		return nil, time.Time{}, false
	}
	return it.Value[headerLen:], deadline, true
}

// maxRelative is the longest expiration memcached takes as relative
// seconds; larger values are absolute Unix times.
const maxRelative = 30 * 24 * 60 * 60

// expiration returns the memcached expiration for ttl from now: whole
// seconds rounded up plus one (memcached's clock ticks once a second and
// can expire an item up to a second early), as an absolute Unix time past
// 30 days, and 0 (no memcached expiry) past memcached's 32-bit time.
func expiration(now time.Time, ttl time.Duration) int32 {
	secs := int64(ttl / time.Second)
	if ttl%time.Second != 0 {
		secs++
	}
	secs++
	if secs <= maxRelative {
		return int32(secs)
	}
	abs := now.Unix() + secs
	if abs > math.MaxInt32 {
		return 0
	}
	return int32(abs)
}
