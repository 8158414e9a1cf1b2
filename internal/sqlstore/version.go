package sqlstore

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// MaxVersion is the largest version a Store writes: versions are stored
// in signed 64-bit columns, so they are 63-bit numbers.
const MaxVersion = 1<<63 - 1

// NewVersion returns a random version in 1..MaxVersion from crypto/rand,
// different from old. Random versions never come back after a record is
// deleted and created again (unlike a counter restarting at 1), so a
// stale version can never match a new record by accident (no ABA).
func NewVersion(old uint64) uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
		v := binary.BigEndian.Uint64(b[:]) >> 1
		if v != 0 && v != old {
			return v
		}
	}
}

// TTLMillis converts a time to live to whole milliseconds, rounding up,
// at least one.
func TTLMillis(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond > 0 {
		ms++
	}
	return max(ms, 1)
}
