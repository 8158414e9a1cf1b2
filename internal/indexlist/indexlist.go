// Package indexlist is the per-user index as a list of entries, for the
// drivers that keep one user's index as one blob they read, change and
// write back whole (file: an index file; memcached: a CAS-updated item):
// the entry, the rule IndexUser applies to the list, and the entries'
// wire form. Each driver adds its own framing (the file driver a magic
// and a checksum, memcached its item flags) and its own concurrency
// (a lock stripe, compare-and-swap).
//
// The wire form is a sequence of entries, each: the key's length n
// (1 byte, 1–255), the key (n bytes) and its expiry (8 bytes, big-endian
// signed Unix milliseconds).
package indexlist

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/ginkit/sessions/driver"
)

// Entry is one session key of a user's index and when the entry expires.
type Entry struct {
	Key     string
	Expires int64 // Unix milliseconds; live while greater than now
}

// Put applies driver.UserIndexer's IndexUser to entries at now (Unix ms):
// it sets key's expiry to exp, adding the entry if it is new, or removes
// it when exp has passed. It never drops another entry: with
// driver.MaxUserEntries entries already there, a new key is refused with
// an error wrapping driver.ErrUserIndexFull and entries are unchanged.
// changed reports whether the list must be written back. The caller has
// pruned expired entries before.
func Put(entries []Entry, key string, exp, now int64) (out []Entry, changed bool, err error) {
	i := slices.IndexFunc(entries, func(e Entry) bool { return e.Key == key })
	switch {
	case exp <= now && i >= 0:
		return slices.Delete(entries, i, i+1), true, nil
	case exp <= now:
		return entries, false, nil
	case i >= 0:
		entries[i].Expires = exp
		return entries, true, nil
	case len(entries) >= driver.MaxUserEntries:
		return entries, false, fmt.Errorf("%w: the user has %d live entries", driver.ErrUserIndexFull, len(entries))
	}
	return append(entries, Entry{Key: key, Expires: exp}), true, nil
}

// Remove applies driver.UserIndexer's UnindexUser to entries for each of
// keys at once: it removes their entries and keeps every other. changed
// reports whether the list must be written back.
func Remove(entries []Entry, keys ...string) (out []Entry, changed bool) {
	n := len(entries)
	if len(keys) == 1 {
		out = slices.DeleteFunc(entries, func(e Entry) bool { return e.Key == keys[0] })
	} else {
		drop := make(map[string]bool, len(keys))
		for _, k := range keys {
			drop[k] = true
		}
		out = slices.DeleteFunc(entries, func(e Entry) bool { return drop[e.Key] })
	}
	return out, len(out) != n
}

// EncodedLen is the length of entries' wire form.
func EncodedLen(entries []Entry) int {
	n := 0
	for _, e := range entries {
		n += 1 + len(e.Key) + 8
	}
	return n
}

// Append appends entries' wire form to buf.
func Append(buf []byte, entries []Entry) []byte {
	for _, e := range entries {
		buf = append(buf, byte(len(e.Key)))
		buf = append(buf, e.Key...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(e.Expires))
	}
	return buf
}

// Decode parses a wire form; ok is false, with no entries, if it is
// damaged (an empty key, or a length that runs past the end).
func Decode(b []byte) (entries []Entry, ok bool) {
	for rest := b; len(rest) > 0; {
		n := int(rest[0])
		if n == 0 || len(rest) < 1+n+8 {
			return nil, false
		}
		entries = append(entries, Entry{Key: string(rest[1 : 1+n]), Expires: int64(binary.BigEndian.Uint64(rest[1+n:]))})
		rest = rest[1+n+8:]
	}
	return entries, true
}
