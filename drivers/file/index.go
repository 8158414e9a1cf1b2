package file

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/internal/indexlist"
)

const (
	idxSuffix = ".idx"

	// idxHeaderLen is the size of an index file's header: the magic bytes
	// and a CRC-32C of the entries.
	idxHeaderLen = 8

	// maxIndexFile bounds what readIndex reads; a larger file is damaged.
	// An index holds at most driver.MaxUserEntries entries, so its file
	// is at most about 265 KB, which IndexUser reads and rewrites whole.
	maxIndexFile = idxHeaderLen + driver.MaxUserEntries*(1+MaxKeyLen+8)
)

// idxMagic starts every index file; the last byte is the format version.
var idxMagic = [4]byte{'G', 'K', 'I', 1}

// An index file "<user>.idx" holds user's entries:
//
//	offset 0  4 bytes   magic "GKI\x01"
//	offset 4  4 bytes   CRC-32C (Castagnoli) of everything after it
//	offset 8  …         the entries' wire form (internal/indexlist): each
//	                    a key length n (1 byte, 1–250), the key (n bytes),
//	                    its expiry (8 bytes, big-endian signed Unix ms)
//
// The file's modification time is the latest expiry among its entries, so
// the sweep tells a file whose entries are all dead from its time stamp,
// as it does for session files. indexEntry is one entry.
type indexEntry = indexlist.Entry

// checkUser reports why user is not a valid user: users have the shape of
// keys, and name files the same way.
func checkUser(user string) error {
	if err := checkKey(user); err != nil {
		return errors.New("invalid user: " + strings.TrimPrefix(err.Error(), "invalid key: "))
	}
	return nil
}

// beginIndex performs the checks every index operation starts with.
func (d *Driver) beginIndex(ctx context.Context, op, user string) error {
	return d.start(ctx, op, checkUser(user))
}

func (d *Driver) indexPath(user string) string {
	return filepath.Join(d.dir, user+idxSuffix)
}

// IndexUser adds key to user's index with the given expiry, or replaces the
// expiry of its existing entry, so a key has at most one entry per user;
// it implements sessions.UserIndexer. An expiry that has already passed
// removes the entry, which is dead anyway. Expiries are kept to the
// millisecond, rounded down.
//
// The index of user is the file "<user>.idx" in the folder. IndexUser
// reads it, drops its expired entries, applies the change and writes it
// whole under a temporary name that it renames into place, all under the
// lock stripe of user, the same stripes (in-process mutex and flock) that
// Save takes for keys. So concurrent IndexUser calls for one user, in this
// and other processes sharing the folder, all take effect, and readers see
// the old file or the new one. An index left with no live entry is
// removed. With Options.Sync, the file and the folder are fsynced as for
// Save. The sweep removes index files whose entries have all expired.
//
// A user has at most driver.MaxUserEntries live entries. A new key for a
// user who has that many is refused: IndexUser writes nothing and returns
// an error wrapping driver.ErrUserIndexFull. No live entry is ever dropped
// to make room, so no session in the index escapes RevokeUser.
//
// The entry says nothing about the session record: deleting or expiring
// the record leaves it alone. A damaged index file (wrong magic, bad
// checksum) reads as empty, like a damaged session file, and the next
// IndexUser replaces it. user and key must be valid keys (1 to 250 bytes
// from [A-Za-z0-9_-]). After Close IndexUser returns ErrClosed.
func (d *Driver) IndexUser(ctx context.Context, user, key string, expires time.Time) error {
	if err := d.beginIndex(ctx, "index", user); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return fmt.Errorf("file: index: %w", err)
	}
	exp := expires.UnixMilli()
	var refused error // the index is full: nothing is written
	err := d.updateIndex(user, func(entries []indexEntry, now int64) ([]indexEntry, bool) {
		var changed bool
		entries, changed, refused = indexlist.Put(entries, key, exp, now)
		return entries, changed
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return fmt.Errorf("file: index: %w", err)
	}
	return nil
}

// UnindexUser removes key from user's index, under user's lock stripe as
// IndexUser does; it implements sessions.UserIndexer. If there is no such
// entry it writes nothing and returns nil. user and key must be valid
// keys. After Close it returns ErrClosed.
func (d *Driver) UnindexUser(ctx context.Context, user, key string) error {
	return d.unindex(ctx, user, key)
}

// UnindexUserKeys removes keys from user's index with one rewrite of the
// index file, as UnindexUser would one by one; it implements
// sessions.UserBatchUnindexer. Keys not in the index are ignored. user and
// every key must be valid keys. After Close it returns ErrClosed.
func (d *Driver) UnindexUserKeys(ctx context.Context, user string, keys []string) error {
	return d.unindex(ctx, user, keys...)
}

func (d *Driver) unindex(ctx context.Context, user string, keys ...string) error {
	if err := d.beginIndex(ctx, "unindex", user); err != nil {
		return err
	}
	for _, key := range keys {
		if err := checkKey(key); err != nil {
			return fmt.Errorf("file: unindex: %w", err)
		}
	}
	err := d.updateIndex(user, func(entries []indexEntry, now int64) ([]indexEntry, bool) {
		return indexlist.Remove(entries, keys...)
	})
	if err != nil {
		return fmt.Errorf("file: unindex: %w", err)
	}
	return nil
}

// UserKeys returns the keys of user's live index entries, in no particular
// order, or an empty (non-nil) slice if there are none or no index file;
// it implements sessions.UserIndexer. Like Load it takes no lock: index
// files are replaced by rename. An entry says nothing about whether its
// session record still exists. user must be a valid key. After Close it
// returns ErrClosed.
func (d *Driver) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := d.beginIndex(ctx, "user keys", user); err != nil {
		return nil, err
	}
	entries, _, err := readIndex(d.indexPath(user))
	if err != nil {
		return nil, fmt.Errorf("file: user keys: %w", err)
	}
	now := time.Now().UnixMilli()
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Expires > now {
			keys = append(keys, e.Key)
		}
	}
	return keys, nil
}

// updateIndex rewrites user's index under user's lock stripe. change gets
// the live entries (expired ones already dropped) and the time in Unix
// milliseconds, and returns the new entries and whether anything changed;
// when nothing did and nothing was pruned, the file is left as it is.
func (d *Driver) updateIndex(user string, change func(entries []indexEntry, now int64) ([]indexEntry, bool)) error {
	s, err := d.lock(user)
	if err != nil {
		return err
	}
	defer s.unlock()
	path := d.indexPath(user)
	entries, exists, err := readIndex(path)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	n := len(entries)
	entries = slices.DeleteFunc(entries, func(e indexEntry) bool { return e.Expires <= now })
	pruned := len(entries) != n
	entries, changed := change(entries, now)
	if !changed && !pruned {
		return nil
	}
	if len(entries) == 0 {
		if !exists {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return d.writeIndex(path, entries)
}

// readIndex reads the index file at path. A missing file reads as no
// entries (exists false); a damaged one, or a symbolic link (not
// followed), as no entries (exists true, so the next update replaces it). Expired entries are returned too.
func readIndex(path string) (entries []indexEntry, exists bool, err error) {
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if errors.Is(err, errSymlink) {
		return nil, true, nil // not an index: the next update replaces it
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, true, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxIndexFile || fi.Size() < idxHeaderLen {
		return nil, true, nil
	}
	buf := make([]byte, fi.Size())
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, true, nil // shorter than its size: damaged
	}
	entries, ok := decodeIndex(buf)
	if !ok {
		return nil, true, nil
	}
	return entries, true, nil
}

// decodeIndex parses an index file; ok is false if it is damaged.
func decodeIndex(buf []byte) ([]indexEntry, bool) {
	if len(buf) < idxHeaderLen || [4]byte(buf[:4]) != idxMagic {
		return nil, false
	}
	if crc32.Checksum(buf[idxHeaderLen:], crcTable) != binary.BigEndian.Uint32(buf[4:8]) {
		return nil, false
	}
	return indexlist.Decode(buf[idxHeaderLen:])
}

// encodeIndex returns the contents of an index file holding entries.
func encodeIndex(entries []indexEntry) []byte {
	buf := make([]byte, idxHeaderLen, idxHeaderLen+indexlist.EncodedLen(entries))
	copy(buf, idxMagic[:])
	buf = indexlist.Append(buf, entries)
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(buf[idxHeaderLen:], crcTable))
	return buf
}

// writeIndex atomically replaces the index file at path with one holding
// entries (not empty), its modification time set to their latest expiry.
func (d *Driver) writeIndex(path string, entries []indexEntry) (err error) {
	latest := entries[0].Expires
	for _, e := range entries[1:] {
		latest = max(latest, e.Expires)
	}
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
	if _, err := f.Write(encodeIndex(entries)); err != nil {
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
	if err := os.Chtimes(tmp, time.Time{}, time.UnixMilli(latest)); err != nil {
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

// removeIndexIfExpired removes user's index file if its modification time
// (the latest expiry of its entries) has passed, checking again under
// user's lock stripe, so it never removes an index that a concurrent
// IndexUser has just renewed. The sweep calls it.
func (d *Driver) removeIndexIfExpired(user string) (bool, error) {
	if checkUser(user) != nil {
		return false, nil // not a name this driver creates
	}
	return d.removeExpiredFile(user, d.indexPath(user), nil)
}
