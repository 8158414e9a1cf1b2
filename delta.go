package sessions

import (
	"slices"
	"strings"
)

// delta records what one request did to its session — keys set, keys
// deleted, everything cleared — rather than only the final values. Saving
// applies the delta to the record as it is in the store at that moment, so
// two overlapping requests that change different keys both keep their
// changes, and on the same key the later commit wins.
//
// ops holds at most one operation per key, sorted by key: the later
// operation on a key replaces the earlier one.
type delta struct {
	ops     []op
	cleared bool
	meta    *recordMeta // a new user binding (SetUser), or nil
}

// op is a set (del false) or a deletion of one key.
type op struct {
	key string
	val []byte
	del bool
}

func (d *delta) empty() bool {
	return !d.cleared && len(d.ops) == 0 && d.meta == nil
}

func (d *delta) find(key string) (int, bool) {
	return slices.BinarySearchFunc(d.ops, key, func(o op, k string) int { return strings.Compare(o.key, k) })
}

func (d *delta) put(o op) {
	i, ok := d.find(o.key)
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

func (d *delta) set(key string, val []byte) { d.put(op{key: key, val: val}) }

func (d *delta) del(key string) { d.put(op{key: key, del: true}) }

// clear drops every value; a pending user binding stands.
func (d *delta) clear() {
	*d = delta{cleared: true, meta: d.meta}
}

func (d *delta) reset() { *d = delta{} }

// lookup tells what the delta says about key: a value set by this request,
// a deletion (or a clear that covers it), or nothing (decided bool false),
// in which case the stored value stands.
func (d *delta) lookup(key string) (val []byte, present, decided bool) {
	if i, ok := d.find(key); ok {
		o := d.ops[i]
		return o.val, !o.del, true
	}
	return nil, false, d.cleared
}

// apply returns base with the delta applied, in one merge of the two
// sorted lists. base is not modified.
func (d *delta) apply(base values) values {
	if d.cleared {
		base = nil
	}
	out := make(values, 0, len(base)+len(d.ops))
	i := 0
	for _, o := range d.ops {
		for i < len(base) && base[i].key < o.key {
			out = append(out, base[i])
			i++
		}
		if i < len(base) && base[i].key == o.key {
			i++ // replaced or deleted
		}
		if !o.del {
			out = append(out, entry{o.key, o.val})
		}
	}
	return append(out, base[i:]...)
}
