// Package file is the session store behind file:// DSNs: one file per
// session in a local folder, shared safely by every process that opens the
// same folder on the same machine.
//
// # Layout
//
// The record stored under key lives in the file "<key>.sess". Keys must be
// 1 to 250 bytes from [A-Za-z0-9_-]; the core only produces such keys, and
// the driver checks every key anyway, so no key can name a path outside the
// folder (no separators, no dots, no NUL). Besides session files the folder
// holds 256 lock files ".lock-00" … ".lock-ff", created on first use and
// never deleted, short-lived temporary files ".tmp-*", and the user index
// files "<user>.idx" of IndexUser (users have the shape of keys; see
// IndexUser for their format and locking). Other files are left alone. All
// files are created 0600, and on Unix none is opened through a symbolic
// link: a link where a session or index file should be reads as absent
// (and a save replaces the link, not its target), and one in place of a
// lock file is an error. New refuses a folder other local users could
// write or own (see New). On
// a case-insensitive file system (macOS, Windows) two keys differing only
// in case would share a file; with the core's 43-character hashed keys
// that is astronomically unlikely.
//
// A session file holds two slots of equal size; each holds a header (the
// magic bytes "GKS\x02", a CRC-32C, a generation, the version, the expiry
// and the record's length) and a record (see format.go for the layout).
// The slot with the larger generation among those that pass their
// checksum holds the current record. The file's modification time is set
// to the current record's expiry after every write, so a listing of the
// folder tells expired files from live ones without reading them; the
// expiry in the slot is the one that counts. A file in which no slot is
// valid is treated as absent: the core then starts a fresh session, and
// the next save replaces the damaged file. Files of the previous format
// (one record, the expiry as the modification time) are read, and the
// first save rewrites them.
//
// # Atomicity and crashes
//
// Save writes the new record into the slot that does not hold the current
// one, with one pwrite, then sets the file's modification time to the new
// expiry. The file keeps its size, inode and blocks, so a save allocates
// and frees nothing on the disk (freeing a file's blocks, which a
// rename-over does at every save, costs more than the write on a file
// system that discards freed blocks). A reader always finds the current
// slot whole, because no save touches it; a writer that dies mid-write
// leaves its slot failing the checksum beside the intact previous record;
// one that dies after writing the slot and before setting the time stamp
// leaves a live record that Load reads (a time stamp in the past makes
// Load read the file rather than trust it) and that Sweep keeps, setting
// its time stamp right. A record too large for its slot, a first save and
// a save over a damaged file write a new file under a temporary name and
// rename it into place; a writer that dies then leaves only a stray
// temporary file, which Sweep removes once it is older than five minutes.
// By default Save does not sync: a crashed process loses nothing (the
// kernel holds the data), and only a crash of the whole machine can lose
// the latest saves, which for sessions means at worst an older or fresh
// session; the checksums turn any slot damaged that way into an absent
// one. Options.Sync (DSN sync=true) adds an fdatasync of the file to every
// save in place (and an fsync of the file and the folder to every new
// file), for durability across power loss, at the price of a disk flush
// per save.
//
// # Concurrency
//
// A conditional Save (read the version, compare, write), a Delete,
// a Touch and the removal of an expired file by the sweeper each run under
// one of 256 lock stripes chosen by a hash of the key. A stripe is an
// in-process mutex plus an exclusive flock on its lock file, held on a file
// descriptor the driver keeps open, so saves exclude each other across
// goroutines and across processes. Load takes no lock: a save never
// writes the slot holding the current record, so a Load finds it whole
// unless two saves rewrote both slots while it read (then it reads again
// under the stripe, where no save runs). Such a Load, racing two saves,
// may also return the record from before the first of them: an older
// version, which a conditional save based on it cannot overwrite.
// Multi-process safety needs flock, which this package uses on Linux,
// macOS, the BSDs and illumos; on other systems (Windows among them) only
// the in-process mutex is taken, so one folder must then be used by one
// process at a time. On Linux, flock works on NFS too (the kernel maps it
// to NFS byte-range locks), but a local folder is the tested setup.
//
// # Read cache
//
// Load keeps the records it reads (and Save the records it writes) in a
// bounded in-process cache, and answers from it after a single stat(2)
// of the session file shows that the file is still the one the cached
// bytes came from: same device and inode, size, modification time and
// status-change time. Another process sharing the folder changes at least
// one of those with every Save, Touch or Delete (see the fileID type in
// the source for why a stale hit is practically impossible, and what it
// would mean), so the cache needs no coordination between processes: the
// changes a Driver makes itself only keep its cache current sooner. A hit
// costs a stat instead of an open, a read and a close, and allocates no
// buffer. Expiry and absence always come from the stat, never from the
// cache.
//
// Options.ReadCache and Options.ReadCacheBytes bound the cache (by default
// 10000 records and 32 MiB); eviction drops expired entries first, then
// roughly the least recently used. The cache is off on systems other than
// the Unix ones listed above, on Linux for a folder on a network or FUSE
// file system (whose stat may answer from a stale attribute cache), and on
// file systems with coarse time stamps (where it declines every entry);
// on other systems, turn it off yourself for a folder on NFS or SMB.
//
// The package does not import github.com/ginkit/sessions; its *Driver
// satisfies sessions.Driver, sessions.Toucher, sessions.Scanner and
// sessions.UserIndexer implicitly.
package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ginkit/sessions/driver"
)

const (
	// DefaultSweepInterval is how often the sweeper runs when
	// Options.SweepInterval is zero. Expired files are invisible to Load
	// the moment they expire, so sweeping only reclaims disk space, while
	// each sweep lists the whole folder: every five minutes keeps that cost
	// low even with many processes sharing a large folder.
	DefaultSweepInterval = 5 * time.Minute

	// MaxKeyLen is the longest key the driver accepts, in bytes; with the
	// ".sess" suffix a file name stays within the common 255-byte limit.
	MaxKeyLen = 250

	sessSuffix   = ".sess"
	tempPrefix   = ".tmp-"
	lockPrefix   = ".lock-"
	staleTempAge = 5 * time.Minute
)

// ErrClosed is returned (possibly wrapped) by every method called after
// Close, including a second Close. Test for it with errors.Is.
var ErrClosed = errors.New("file: driver closed")

// Options configures a Driver. The zero value gives the defaults.
type Options struct {
	// SweepInterval is how often a background goroutine removes expired
	// session files and stale temporary files. Zero means
	// DefaultSweepInterval; a negative value disables the background
	// sweeper (call Driver.Sweep yourself, or let another process sweep).
	SweepInterval time.Duration

	// Sync makes every Save fsync the new file before renaming it and the
	// folder after, so a completed Save survives power loss. It costs a
	// disk flush per save. Without it, a crashed process still never
	// leaves a torn or lost record; see the package documentation.
	Sync bool

	// ReadCache is the most session records the read cache holds (see the
	// package documentation). Zero means DefaultReadCacheEntries; a
	// negative value turns the cache off, so every Load reads its file.
	ReadCache int

	// ReadCacheBytes bounds the memory of the read cache: the bytes of the
	// cached records and keys plus a small fixed overhead per entry. Zero
	// means DefaultReadCacheBytes; a negative value turns the cache off.
	// The bound is split evenly over 64 independently locked parts of the
	// cache, so a record larger than a 64th of it is never cached.
	ReadCacheBytes int64
}

// The contract this package implements, checked at compile time.
var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.Toucher     = (*Driver)(nil)
	_ driver.Scanner     = (*Driver)(nil)
	_ driver.UserIndexer = (*Driver)(nil)
)

// Driver is a file-backed session store. Create one with New or Open; the
// zero value is not usable. All methods are safe for concurrent use, also
// by several Drivers and several processes sharing one folder (on systems
// with flock; see the package documentation).
type Driver struct {
	dir    string
	prefix string // dir and a separator: a session file's path is prefix+key+sessSuffix
	sync   bool

	// cache is the read cache, nil when it is off.
	cache *readCache

	// tempMaxAge is how old a temporary file must be before Sweep removes
	// it; tests shorten it.
	tempMaxAge time.Duration

	stripes [numStripes]stripe

	closed      atomic.Bool
	closeOnce   sync.Once
	stopSweeper context.CancelFunc
	sweeperDone chan struct{} // nil without a sweeper
}

// DefaultDir is the folder used by the DSN "file://" and by New with an
// empty dir: "ginkit-sessions-<uid>" under os.TempDir() on Unix, where uid
// is the process' effective user ID (so users of one machine do not
// collide), "ginkit-sessions" elsewhere. The path is predictable, so
// another local user may create it first: New then refuses it (it is
// theirs, or writable by all; see New) instead of using it, so that user
// can make the default folder unusable but cannot plant sessions in it.
// On a machine shared with untrusted users, name a folder of your own.
func DefaultDir() string {
	name := "ginkit-sessions"
	if uid := os.Geteuid(); uid >= 0 {
		name += "-" + strconv.Itoa(uid)
	}
	return filepath.Join(os.TempDir(), name)
}

// New returns a store keeping its files in dir, creating the folder (and
// its parents) with permissions 0700 if it does not exist. On Unix, New
// refuses an existing folder that another local user could plant a
// session file in (a file bound to any user, who would then be logged in
// by it): a folder every user may write (o+w: modes such as 0777, 0757,
// or 1777 like /tmp, as the sticky bit does not stop the creation of new
// files), and a folder owned by a user other than the process' effective
// user or root. If dir is a symbolic link, the link must be owned by that
// user or root as well. The error names the folder, its mode and owner,
// and the chmod or chown that fixes it. Group write permission is
// accepted (the folder's owner chose the group), and an accepted folder's
// mode is left as it is (0755 stays 0755); every file the driver creates
// is 0600. The driver uses no subfolders. An empty dir means DefaultDir();
// a relative dir is made absolute against the current working directory.
// New fails if the folder cannot be created, is refused, or its lock files
// cannot be written. Unless opts.SweepInterval is negative, New starts the
// sweeper; call Close to stop it.
func New(dir string, opts Options) (*Driver, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: folder: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("file: create folder: %w", err)
	}
	if err := checkFolder(abs); err != nil {
		return nil, err
	}
	d := &Driver{dir: abs, prefix: abs, sync: opts.Sync, tempMaxAge: staleTempAge}
	if !os.IsPathSeparator(abs[len(abs)-1]) {
		d.prefix += string(os.PathSeparator)
	}
	if cacheSupported && !networkFS(abs) {
		entries, size := opts.ReadCache, opts.ReadCacheBytes
		if entries == 0 {
			entries = DefaultReadCacheEntries
		}
		if size == 0 {
			size = DefaultReadCacheBytes
		}
		d.cache = newReadCache(entries, size) // nil if either is negative
	}
	// Open one lock file now, so an unwritable folder fails here rather
	// than on the first save.
	if err := d.stripes[0].open(abs, 0); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	if interval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		d.stopSweeper = cancel
		d.sweeperDone = make(chan struct{})
		go d.sweeper(ctx, interval)
	}
	return d, nil
}

// Dir returns the absolute path of the folder the driver stores files in.
func (d *Driver) Dir() string { return d.dir }

// checkKey reports why key is not a valid key, without repeating the key.
func checkKey(key string) error {
	if key == "" {
		return errors.New("invalid key: empty")
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("invalid key: %d bytes, longer than %d", len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("invalid key: byte %#02x at offset %d is not in [A-Za-z0-9_-]", c, i)
		}
	}
	return nil
}

// begin performs the checks every session operation starts with.
func (d *Driver) begin(ctx context.Context, op, key string) error {
	return d.start(ctx, op, checkKey(key))
}

// start performs the checks every operation starts with: the driver is
// open, ctx is not done, and the name it works on passed its check.
func (d *Driver) start(ctx context.Context, op string, nameErr error) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: %s: %w", op, err)
	}
	if nameErr != nil {
		return fmt.Errorf("file: %s: %w", op, nameErr)
	}
	return nil
}

// path returns the path of key's session file (filepath.Join(d.dir,
// key+sessSuffix), without Join's cleaning: dir is clean and key has no
// separator or dot).
func (d *Driver) path(key string) string {
	return d.prefix + key + sessSuffix
}

// Load returns the live record under key, its version and its expiry, or
// (nil, 0, time.Time{}, nil) if there is no file, it has expired, or it is
// damaged. It takes no lock, except to read again a file in which it found
// no whole slot (a writer may have been rewriting both in between, or the
// file is damaged). An invalid key is an error.
//
// With the read cache on, Load stats the file and returns the cached
// record if the file is still the one it was read from (see the package
// documentation); otherwise it reads the file and caches what it read.
// As the sessions.Driver contract allows, the returned slice may then be
// shared with the cache and with other Loads of the same key: callers
// must not modify it (its capacity equals its length, so appending to it
// copies).
func (d *Driver) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	if err := d.begin(ctx, "load", key); err != nil {
		return nil, 0, time.Time{}, err
	}
	now := time.Now()
	var (
		st  fileState
		err error
	)
	if d.cache != nil {
		var hit *cacheEntry
		if hit, st, err = d.loadCached(key, now); hit != nil {
			return hit.record, hit.version, time.Unix(0, hit.id.mtime), nil
		}
	} else {
		st, err = d.readLoad(key)
	}
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("file: load: %w", err)
	}
	if !st.live(now.UnixNano()) {
		return nil, 0, time.Time{}, nil
	}
	return st.record, st.version, time.Unix(0, st.expires), nil
}

// readLoad reads key's file without a lock and, if it holds no whole slot,
// again under key's stripe lock: a reader without the lock can find both
// slots torn only if two saves rewrote them while it read, and under the
// lock no save runs.
func (d *Driver) readLoad(key string) (fileState, error) {
	path := d.path(key)
	st, err := readSession(path)
	if err != nil || !st.damaged {
		return st, err
	}
	s, err := d.lock(key)
	if err != nil {
		return fileState{}, err
	}
	defer s.unlock()
	return readSession(path)
}

// loadCached is Load with the read cache: one stat, and the file is read
// only if the cache holds nothing for the identity the stat reports (a key
// the cache does not hold is read at once, without the stat). It returns
// the cache entry of a hit, or what it read.
func (d *Driver) loadCached(key string, now time.Time) (*cacheEntry, fileState, error) {
	nowNano := now.UnixNano()
	e := d.cache.get(key)
	if e == nil {
		st, err := d.readLoad(key)
		d.remember(key, st, err, nowNano)
		return nil, st, err
	}
	id, regular, err := statFile(d.path(key))
	if err != nil {
		d.cache.drop(key)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fileState{}, nil
		}
		return nil, fileState{}, err
	}
	if !regular || id.size < minFileLen {
		d.cache.drop(key)
		return nil, fileState{}, nil // not a session file
	}
	// A settled file's modification time is its record's expiry, so a hit
	// in the future is live; a time in the past may be a save caught
	// between its write and setting the time, so the file decides.
	if id.mtime > nowNano && d.cache.hit(e, id, nowNano) {
		return e, fileState{}, nil
	}
	st, err := d.readLoad(key)
	d.remember(key, st, err, nowNano)
	return nil, st, err
}

// remember updates the read cache with a read of key's file: a live record
// read from a settled file of known identity is cached (a copy: the record
// aliases the whole file's buffer), anything else (absent, damaged, an
// error, an unknown identity) drops key's entry.
func (d *Driver) remember(key string, st fileState, err error, now int64) {
	if d.cache == nil {
		return
	}
	if err != nil || st.id == nil || !st.live(now) {
		d.cache.drop(key)
		return
	}
	d.cache.put(key, *st.id, bytes.Clone(st.record), st.version, now)
}

// cachedAs returns key's cache entry if it was read from the file state
// id (nil: unknown), or nil.
func (d *Driver) cachedAs(key string, id *fileID) *cacheEntry {
	if d.cache == nil || id == nil {
		return nil
	}
	if e := d.cache.get(key); e != nil && e.id == *id {
		return e
	}
	return nil
}

// fileState is a session file as read.
type fileState struct {
	slotState
	// id is the file's identity if the system has one and the file is
	// settled: its modification time is its record's expiry, which every
	// save sets after writing. Only a settled file is cached.
	id *fileID
	// damaged is true for a regular file that holds no valid record.
	damaged bool
}

// live reports whether the file holds a record that has not expired at
// now (Unix nanoseconds).
func (st *fileState) live(now int64) bool { return st.record != nil && st.expires > now }

// readSession reads the session file at path. A missing file and, on Unix,
// a symbolic link (not followed) read as absent: a zero fileState.
func readSession(path string) (fileState, error) {
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errSymlink) {
			return fileState{}, nil
		}
		return fileState{}, err
	}
	defer f.Close()
	return readOpen(f)
}

// maxFileLen bounds what readOpen reads: twice the largest slot a record
// the core can produce needs, with room to spare.
const maxFileLen = 1 << 30

// readOpen reads the session file open as f from its start.
func readOpen(f *os.File) (fileState, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileState{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileState{}, nil // a directory or another kind of file: absent
	}
	if fi.Size() < minFileLen || fi.Size() > maxFileLen {
		return fileState{damaged: true}, nil
	}
	// A save rewrites a slot in place but never changes the file's size:
	// a larger record goes to a new file renamed into place.
	buf := make([]byte, fi.Size())
	if _, err := f.ReadAt(buf, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return fileState{damaged: true}, nil // truncated behind our back
		}
		return fileState{}, err
	}
	st := fileState{slotState: decodeFile(buf, fi.ModTime())}
	if st.record == nil {
		st.damaged = true
		return st, nil
	}
	if id, ok := idOf(fi); ok && id.mtime == st.expires {
		st.id = &id
	}
	return st, nil
}

// errSymlink is the error of openNoFollow for a symbolic link.
var errSymlink = errors.New("is a symbolic link, which the driver does not follow")

// openNoFollow is os.OpenFile, except that on Unix it does not follow a
// symbolic link at path (O_NOFOLLOW), so a link planted in the folder can
// neither redirect a read nor a write to a file elsewhere: it fails with
// an error matching errSymlink instead.
func openNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|oNoFollow, perm)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	// O_NOFOLLOW fails with ELOOP on Linux, but with other errors on some
	// systems: ask the file system what is there.
	if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errSymlink}
	}
	return nil, err
}

// Save stores record under key with time to live ttl if the live version
// under key equals version (0: no live record), and reports whether it
// wrote. The check and the write happen under the key's lock stripe, so
// they are atomic with respect to every Save, Touch, Delete and sweep in
// this and other processes. The new version is a random non-zero number
// different from the old one. The record goes into the file's slot that
// does not hold the current record, or into a new file renamed into place
// if there is none or it is too small (see the package documentation). An
// invalid key or a ttl of zero or less is an error.
func (d *Driver) Save(ctx context.Context, key string, record []byte, version uint64, ttl time.Duration) (bool, error) {
	if err := d.begin(ctx, "save", key); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, fmt.Errorf("file: save: ttl %v is not positive", ttl)
	}
	s, err := d.lock(key)
	if err != nil {
		return false, fmt.Errorf("file: save: %w", err)
	}
	defer s.unlock()
	now := time.Now()
	// The version check always reads the file, never the read cache, and
	// leaves in the cache what it read: a stale entry (see fileID) costs at
	// most one conflict.
	f, st, err := d.openLocked(key)
	if f != nil {
		defer f.Close()
	}
	if err != nil {
		d.remember(key, fileState{}, err, 0)
		return false, fmt.Errorf("file: save: %w", err)
	}
	current := uint64(0)
	if st.live(now.UnixNano()) {
		current = st.version
	}
	if current != version {
		d.remember(key, st, nil, now.UnixNano())
		return false, nil
	}
	next := rand.Uint64()
	for next == 0 || next == current {
		next = rand.Uint64()
	}
	if err := d.write(key, f, st, next, record, now.Add(ttl)); err != nil {
		d.remember(key, fileState{}, err, 0)
		return false, fmt.Errorf("file: save: %w", err)
	}
	return true, nil
}

// openLocked opens key's session file for writing and reads it; the
// caller holds key's stripe. A missing file (or a symbolic link, which a
// save replaces rather than follows) gives a nil file and a zero state.
func (d *Driver) openLocked(key string) (*os.File, fileState, error) {
	f, err := openNoFollow(d.path(key), os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errSymlink) {
			return nil, fileState{}, nil
		}
		return nil, fileState{}, err
	}
	st, err := readOpen(f)
	return f, st, err
}

// Test hooks: tests kill the process at these points of a write.
var (
	// testHookMidWrite runs after part of a record is written: in place,
	// after the first half of the slot; in a new file, after its first
	// slot's header.
	testHookMidWrite func()
	// testHookBeforeSetExpiry runs after a slot is written in place and
	// before the file's modification time is set to the new expiry.
	testHookBeforeSetExpiry func()
)

// write stores version and record, expiring at expires, in key's file,
// open as f in state st (f is nil if there is no file), and updates the
// read cache. The caller holds key's stripe.
func (d *Driver) write(key string, f *os.File, st fileState, version uint64, record []byte, expires time.Time) error {
	path := d.path(key)
	exp := expires.UnixNano()
	if f != nil && st.half > 0 && slotHeaderLen+len(record) <= st.half {
		if err := d.writeSlot(path, f, st.next, st.gen+1, version, record, exp); err != nil {
			return err
		}
	} else if err := d.replace(path, version, record, exp); err != nil {
		return err
	}
	if d.cache != nil {
		// Under the stripe lock nobody else changes the file, so this stat
		// gives the identity of what was just written.
		if id, regular, err := statFile(path); err == nil && regular && id.mtime == exp {
			d.cache.put(key, id, record, version, time.Now().UnixNano())
		} else {
			d.cache.drop(key)
		}
	}
	return nil
}

// writeSlot writes a slot at offset off of the file f at path, in place,
// then sets the file's modification time to the slot's expiry. The slot
// is written with one pwrite, so a process that dies leaves it whole or
// not written, and a reader racing it finds the other slot whole; with
// Options.Sync it is on disk before writeSlot returns. Until the
// modification time is set the file is not settled: Load reads it rather
// than trusting its time stamp or the cache, and Sweep keeps it.
func (d *Driver) writeSlot(path string, f *os.File, off int, gen, version uint64, record []byte, exp int64) error {
	b := encodeSlot(make([]byte, slotHeaderLen+len(record)), gen, version, exp, record)
	if testHookMidWrite != nil {
		if _, err := f.WriteAt(b[:len(b)/2], int64(off)); err != nil {
			return err
		}
		testHookMidWrite()
	}
	if _, err := f.WriteAt(b, int64(off)); err != nil {
		return err
	}
	if d.sync {
		if err := fdatasync(f); err != nil {
			return err
		}
	}
	if testHookBeforeSetExpiry != nil {
		testHookBeforeSetExpiry()
	}
	return os.Chtimes(path, time.Time{}, time.Unix(0, exp))
}

// replace atomically replaces the file at path with a new session file
// whose slot 0 holds version and record, expiring at exp (Unix
// nanoseconds): it is written under a temporary name, its modification
// time set, and renamed into place.
func (d *Driver) replace(path string, version uint64, record []byte, exp int64) (err error) {
	// The creation time in the name lets Sweep judge a stray temporary
	// file's age even though its modification time is set to the future.
	f, err := os.CreateTemp(d.dir, tempPrefix+strconv.FormatInt(time.Now().Unix(), 10)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	half := slotSize(len(record))
	buf := make([]byte, 2*half)
	encodeSlot(buf, 1, version, exp, record)
	if testHookMidWrite != nil {
		if _, err := f.Write(buf[:slotHeaderLen]); err != nil {
			return err
		}
		testHookMidWrite()
		buf = buf[slotHeaderLen:]
	}
	if _, err := f.Write(buf); err != nil {
		return err
	}
	if d.sync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, time.Time{}, time.Unix(0, exp)); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d.sync {
		return syncDir(d.dir)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Touch sets the expiry of the live record under key to now plus ttl: it
// writes the same record and version into the file's other slot with the
// new expiry, as a save would (a format 1 file only gets a new
// modification time). If there is no live record, Touch does nothing and
// returns nil. It runs under the key's lock stripe, so it cannot revive a
// file that a concurrent sweep is removing. An invalid key or a ttl of
// zero or less is an error.
func (d *Driver) Touch(ctx context.Context, key string, ttl time.Duration) error {
	if err := d.begin(ctx, "touch", key); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("file: touch: ttl %v is not positive", ttl)
	}
	s, err := d.lock(key)
	if err != nil {
		return fmt.Errorf("file: touch: %w", err)
	}
	defer s.unlock()
	now := time.Now()
	f, st, err := d.openLocked(key)
	if f != nil {
		defer f.Close()
	}
	if err != nil {
		d.remember(key, fileState{}, err, 0)
		return fmt.Errorf("file: touch: %w", err)
	}
	if !st.live(now.UnixNano()) {
		return nil // absent or expired, and must stay so
	}
	expires := now.Add(ttl)
	if st.half == 0 {
		// Format 1: the expiry is the modification time. The file was
		// opened without following links, and under the stripe lock only
		// another user able to write the folder could swap it for a link
		// (New refuses such folders).
		err = os.Chtimes(d.path(key), time.Time{}, expires)
		d.remember(key, fileState{}, err, 0)
	} else {
		// The record aliases the buffer read, which the cache must not
		// keep: the cached copy of this very state if there is one, else a
		// copy.
		rec := st.record
		if e := d.cachedAs(key, st.id); e != nil {
			rec = e.record
		} else {
			rec = bytes.Clone(rec)
		}
		err = d.write(key, f, st, st.version, rec, expires)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file: touch: %w", err)
	}
	return nil
}

// Delete removes the session file of key, under the key's lock stripe.
// Deleting a missing key returns nil. An invalid key is an error.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := d.begin(ctx, "delete", key); err != nil {
		return err
	}
	s, err := d.lock(key)
	if err != nil {
		return fmt.Errorf("file: delete: %w", err)
	}
	defer s.unlock()
	err = os.Remove(d.path(key))
	if d.cache != nil {
		d.cache.drop(key)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file: delete: %w", err)
	}
	return nil
}

// Close stops the sweeper, waits for operations holding a lock stripe to
// finish and closes the lock files, waiting no longer than ctx allows (if
// ctx ends first, Close returns its error and the rest completes in the
// background). The files in the folder stay. Afterwards every method
// returns ErrClosed; a second Close returns ErrClosed too. Close never
// panics.
func (d *Driver) Close(ctx context.Context) error {
	first := false
	d.closeOnce.Do(func() {
		first = true
		d.closed.Store(true)
		if d.stopSweeper != nil {
			d.stopSweeper()
		}
		if d.cache != nil {
			d.cache.clear()
		}
	})
	if !first {
		return ErrClosed
	}
	done := make(chan error, 1)
	go func() {
		if d.sweeperDone != nil {
			<-d.sweeperDone
		}
		var errs []error
		for i := range d.stripes {
			errs = append(errs, d.stripes[i].close())
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("file: close: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("file: close: %w", ctx.Err())
	}
}
