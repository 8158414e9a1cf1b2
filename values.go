package sessions

import (
	"slices"
	"strings"
)

// values is a session's stored values: encoded by the Codec, one entry per
// key, sorted by key with no key twice. The record envelope (record.go)
// stores them in the same order, so decoding a record is one pass that
// builds this slice, and encoding one is one pass over it: no map is
// built, hashed or sorted on a request's path.
type values []entry

type entry struct {
	key string
	val []byte
}

// find returns the position of key in v, or where it would be inserted,
// and whether it is there.
func (v values) find(key string) (int, bool) {
	return slices.BinarySearchFunc(v, key, func(e entry, k string) int { return strings.Compare(e.key, k) })
}

// get returns the encoded value under key.
func (v values) get(key string) ([]byte, bool) {
	if i, ok := v.find(key); ok {
		return v[i].val, true
	}
	return nil, false
}

// keys returns the keys, sorted.
func (v values) keys() []string {
	keys := make([]string, len(v))
	for i, e := range v {
		keys[i] = e.key
	}
	return keys
}
