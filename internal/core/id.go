package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// IDLen is the length of a session ID: 256 random bits in unpadded
// URL-safe base64.
const IDLen = 43

// NewID returns a fresh session ID: 32 bytes from crypto/rand, encoded as
// 43 characters of unpadded base64url. crypto/rand.Read never fails on the
// platforms Go supports (it panics inside the runtime rather than return
// weak bytes), so there is no error to handle.
func NewID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidID reports whether s has exactly the shape NewID produces. Anything
// else in the cookie (wrong length, other characters, non-canonical final
// character) is rejected before any store I/O.
func ValidID(s string) bool {
	if len(s) != IDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isB64URL[s[i]] {
			return false
		}
	}
	// 43 characters carry 258 bits; the last character's two low bits
	// must be zero for the encoding to be canonical. Its value must be a
	// multiple of 4 in the base64 alphabet.
	return b64val(s[IDLen-1])&3 == 0
}

// isB64URL marks the bytes of the base64url alphabet.
var isB64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

func b64val(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26
	case '0' <= c && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	default: // '_'
		return 63
	}
}

// StoreKey derives the key under which a session is stored: the unpadded
// base64url SHA-256 of its ID. The raw ID, which is the bearer credential
// in the cookie, never reaches a store, a log line or an error; a leaked
// store dump holds no usable cookie. Since IDs carry 256 random bits, an
// unkeyed hash is enough: there is nothing to brute-force.
func StoreKey(id string) string {
	var sum [sha256.Size]byte
	var in [IDLen]byte // on the stack: []byte(id) of more than 32 bytes is not
	if len(id) <= len(in) {
		sum = sha256.Sum256(in[:copy(in[:], id)])
	} else {
		sum = sha256.Sum256([]byte(id))
	}
	var key [43]byte
	base64.RawURLEncoding.Encode(key[:], sum[:])
	return string(key[:])
}

// KeyOf returns the store key of a session ID, as drivers see it (without
// a driver's own prefix). Operators use it to find one session's record;
// it is also the "ID hash" that listings show instead of the raw ID.
func KeyOf(id string) string { return StoreKey(id) }

var b64strict = base64.RawURLEncoding.Strict()
