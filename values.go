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

// sorted reports whether v is strictly ascending by key (so no key is
// there twice), as every values must be.
func (v values) sorted() bool {
	for i := 1; i < len(v); i++ {
		if v[i-1].key >= v[i].key {
			return false
		}
	}
	return true
}

// valuesOf builds values from a map (for tests and callers holding one).
func valuesOf(m map[string][]byte) values {
	v := make(values, 0, len(m))
	for k, b := range m {
		v = append(v, entry{k, b})
	}
	slices.SortFunc(v, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	return v
}
