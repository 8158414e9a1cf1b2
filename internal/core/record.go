package core

import (
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// A record is what the core stores through a Driver: a small binary
// envelope around the session's Values, each value already encoded by the
// Codec.
//
//	byte    format version (recordV3; recordV1 and recordV2 records are still read)
//	varint  created-at, Unix milliseconds (the absolute lifetime runs from it)
//	string  user the session is bound to (SetUser), or empty
//	string  client IP recorded at SetUser, or empty
//	string  client user agent recorded at SetUser, or empty
//	varint  until when the user index covers this session, Unix ms (0: not indexed)
//	varint  the Expires of the session cookie last sent with a save, Unix ms
//	        (0: unknown); absent in recordV1
//	byte    the session's cookie choice (Persistence, RememberMe); absent
//	        before recordV3
//	uvarint number of Values
//	then per value, in strictly ascending key order (so no key twice):
//	        uvarint key length, key bytes, uvarint value length, value bytes
//
// A string is a uvarint length followed by that many bytes.
//
// The decoder checks every length against what is left, so a truncated,
// foreign or hostile record is an error, never a panic or an
// out-of-range read; the core treats such a record as an absent session.
const (
	recordV1 = 0x01
	recordV2 = 0x02
	recordV3 = 0x03
)

// maxRecordKeys bounds the number of Values a record may declare, so a
// hostile record cannot make the decoder allocate a huge map.
const maxRecordKeys = 1 << 16

var errBadRecord = errors.New("malformed session record")

// Record is a decoded session record: when the session was created, what
// the core keeps about it, and its values.
type Record struct {
	Created time.Time
	Meta    Meta
	Values  Values
}

// Meta is what the core keeps about a session besides its values.
type Meta struct {
	User, IP, UserAgent string
	IndexedUntil        time.Time // zero: not in a user index
	// cookieUntil is the Expires of the session cookie the client was
	// last sent with a save (zero: unknown, or a browser-session cookie).
	// A save re-sends the cookie only when the new idle deadline runs
	// more than TouchInterval past it (see mergeSave).
	CookieUntil time.Time
	// Persist is the session's own choice of cookie (RememberMe), which
	// overrides Config.ExpireOnClose: PersistDefault leaves it to the
	// Config.
	Persist Persistence
}

// Persistence is a session's choice between a persistent cookie and a
// browser-session one.
type Persistence uint8

const (
	PersistDefault Persistence = iota // Config.ExpireOnClose decides
	PersistCookie                     // a persistent cookie: Max-Age follows the idle deadline
	PersistBrowser                    // a browser-session cookie: no Max-Age, no Expires
)

func unixMilliOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func milliOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func EncodeRecord(r Record) []byte {
	size := 2 + 5*binary.MaxVarintLen64 + len(r.Meta.User) + len(r.Meta.IP) + len(r.Meta.UserAgent)
	for _, e := range r.Values {
		size += 2*binary.MaxVarintLen64 + len(e.Key) + len(e.Val)
	}
	b := make([]byte, 0, size)
	b = append(b, recordV3)
	b = binary.AppendVarint(b, r.Created.UnixMilli())
	for _, f := range []string{r.Meta.User, r.Meta.IP, r.Meta.UserAgent} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.AppendVarint(b, milliOrZero(r.Meta.IndexedUntil))
	b = binary.AppendVarint(b, milliOrZero(r.Meta.CookieUntil))
	b = append(b, byte(r.Meta.Persist))
	b = binary.AppendUvarint(b, uint64(len(r.Values)))
	for _, e := range r.Values {
		b = binary.AppendUvarint(b, uint64(len(e.Key)))
		b = append(b, e.Key...)
		b = binary.AppendUvarint(b, uint64(len(e.Val)))
		b = append(b, e.Val...)
	}
	return b
}

func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if len(b) < 1 || b[0] < recordV1 || b[0] > recordV3 {
		return r, errBadRecord
	}
	format := b[0]
	b = b[1:]
	ms, n := binary.Varint(b)
	if n <= 0 {
		return r, errBadRecord
	}
	b = b[n:]
	r.Created = time.UnixMilli(ms)
	for _, f := range []*string{&r.Meta.User, &r.Meta.IP, &r.Meta.UserAgent} {
		var v []byte
		var ok bool
		if v, b, ok = lenPrefixed(b); !ok {
			return Record{}, errBadRecord
		}
		*f = string(v)
	}
	until, n := binary.Varint(b)
	if n <= 0 {
		return Record{}, errBadRecord
	}
	b = b[n:]
	r.Meta.IndexedUntil = unixMilliOrZero(until)
	if format >= recordV2 {
		cookie, n := binary.Varint(b)
		if n <= 0 {
			return Record{}, errBadRecord
		}
		b = b[n:]
		r.Meta.CookieUntil = unixMilliOrZero(cookie)
	}
	if format >= recordV3 {
		if len(b) < 1 || b[0] > byte(PersistBrowser) {
			return Record{}, errBadRecord
		}
		r.Meta.Persist = Persistence(b[0])
		b = b[1:]
	}
	count, n := binary.Uvarint(b)
	if n <= 0 || count > maxRecordKeys || count > uint64(len(b)/2) {
		return r, errBadRecord
	}
	b = b[n:]
	// One string holds every key (a key is a substring of it) and Values
	// alias b: decoding allocates the Values slice and that string only,
	// and never copies a value. Three passes over the entries: check the
	// framing and size the keys, gather the keys, then slice them out.
	keyBytes, rest := 0, b
	for range count {
		var k []byte
		var ok bool
		if k, rest, ok = lenPrefixed(rest); !ok {
			return Record{}, errBadRecord
		}
		if _, rest, ok = lenPrefixed(rest); !ok {
			return Record{}, errBadRecord
		}
		keyBytes += len(k)
	}
	if len(rest) != 0 {
		return Record{}, errBadRecord
	}
	var kb strings.Builder
	kb.Grow(keyBytes)
	for rest = b; len(rest) > 0; {
		k, tail, _ := lenPrefixed(rest)
		_, rest, _ = lenPrefixed(tail)
		kb.Write(k)
	}
	keys := kb.String()
	r.Values = make(Values, count)
	for i := range r.Values {
		var k, v []byte
		k, b, _ = lenPrefixed(b)
		v, b, _ = lenPrefixed(b)
		key := keys[:len(k)]
		keys = keys[len(k):]
		if i > 0 && r.Values[i-1].Key >= key {
			return Record{}, errBadRecord // out of order, or a key twice
		}
		r.Values[i] = Entry{key, v}
	}
	if len(b) != 0 {
		return Record{}, errBadRecord
	}
	return r, nil
}

func lenPrefixed(b []byte) (field, rest []byte, ok bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, nil, false
	}
	end := n + int(l)
	return b[n:end:end], b[end:], true
}
