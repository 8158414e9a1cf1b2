package core

import (
	"slices"
	"strings"
)

// Values is a session's stored values: encoded by the Codec, one Entry per
// key, sorted by key with no key twice. The record envelope (Record.go)
// stores them in the same order, so decoding a record is one pass that
// builds this slice, and encoding one is one pass over it: no map is
// built, hashed or sorted on a request's path.
type Values []Entry

type Entry struct {
	Key string
	Val []byte
}

// find returns the position of key in v, or where it would be inserted,
// and whether it is there.
func (v Values) Find(key string) (int, bool) {
	return slices.BinarySearchFunc(v, key, func(e Entry, k string) int { return strings.Compare(e.Key, k) })
}

// get returns the encoded value under key.
func (v Values) Get(key string) ([]byte, bool) {
	if i, ok := v.Find(key); ok {
		return v[i].Val, true
	}
	return nil, false
}

// keys returns the keys, sorted.
func (v Values) Keys() []string {
	keys := make([]string, len(v))
	for i, e := range v {
		keys[i] = e.Key
	}
	return keys
}
