package core

import (
	"slices"
	"strings"
)

// Delta records what one request did to its session — keys set, keys
// deleted, everything cleared — rather than only the final values. Saving
// applies the Delta to the record as it is in the store at that moment, so
// two overlapping requests that change different keys both keep their
// changes, and on the same key the later commit wins.
//
// ops holds at most one operation per key, sorted by key: the later
// operation on a key replaces the earlier one.
type Delta struct {
	ops     []op
	cleared bool
	Meta    *Meta // a new user binding (SetUser), or nil
}

// op is a set (del false) or a deletion of one key.
type op struct {
	Key string
	Val []byte
	Del bool
}

func (d *Delta) Empty() bool {
	return !d.cleared && len(d.ops) == 0 && d.Meta == nil
}

func (d *Delta) find(key string) (int, bool) {
	return slices.BinarySearchFunc(d.ops, key, func(o op, k string) int { return strings.Compare(o.Key, k) })
}

func (d *Delta) put(o op) {
	i, ok := d.find(o.Key)
	if ok {
		d.ops[i] = o
		return
	}
	if d.ops == nil {
		d.ops = make([]op, 0, 4)
	}
	d.ops = append(d.ops, op{})
	copy(d.ops[i+1:], d.ops[i:])
	d.ops[i] = o
}

func (d *Delta) Set(key string, val []byte) { d.put(op{Key: key, Val: val}) }

func (d *Delta) Del(key string) { d.put(op{Key: key, Del: true}) }

// clear drops every value; a pending user binding stands.
func (d *Delta) Clear() {
	*d = Delta{cleared: true, Meta: d.Meta}
}

func (d *Delta) Reset() { *d = Delta{} }

// lookup tells what the Delta says about key: a value set by this request,
// a deletion (or a clear that covers it), or nothing (decided bool false),
// in which case the stored value stands.
func (d *Delta) Lookup(key string) (val []byte, present, decided bool) {
	if i, ok := d.find(key); ok {
		o := d.ops[i]
		return o.Val, !o.Del, true
	}
	return nil, false, d.cleared
}

// apply returns base with the Delta applied, in one merge of the two
// sorted lists. base is not modified.
func (d *Delta) Apply(base Values) Values {
	if d.cleared {
		base = nil
	}
	out := make(Values, 0, len(base)+len(d.ops))
	i := 0
	for _, o := range d.ops {
		for i < len(base) && base[i].Key < o.Key {
			out = append(out, base[i])
			i++
		}
		if i < len(base) && base[i].Key == o.Key {
			i++ // replaced or deleted
		}
		if !o.Del {
			out = append(out, Entry{o.Key, o.Val})
		}
	}
	return append(out, base[i:]...)
}
