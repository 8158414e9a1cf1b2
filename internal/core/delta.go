package core

import (
	"errors"
	"slices"
	"strings"
)

// Delta records what one request did to its session — keys set, keys
// deleted, everything cleared — rather than only the final values. Saving
// applies the Delta to the record as it is in the store at that moment, so
// two overlapping requests that change different keys both keep their
// changes, and on the same key the later commit wins.
//
// An update (Update) is a change that carries a function instead of a
// value: applying the Delta runs it on the value as stored at that moment,
// so when a conditional save meets a newer version and re-applies the
// Delta, the function runs again on the newest value. That is how
// read-modify-write stays atomic on every driver without a lock.
//
// ops holds at most one operation per key, sorted by key: the later
// operation on a key replaces the earlier one (an update composes with it
// instead, so it sees the request's own earlier change).
type Delta struct {
	ops     []op
	cleared bool
	Meta    *Meta // new metadata (SetMeta, Bind), or nil
	bound   bool  // Meta's user binding is this request's own (Bind)
}

// UpdateFunc computes a key's new encoded value from its current one (ok
// false when absent). It may run several times and must have no side
// effects; an error aborts the save.
type UpdateFunc func(cur []byte, ok bool) ([]byte, error)

// op is a set (Del false, Fn nil), a deletion, or an update of one key.
type op struct {
	Key string
	Val []byte
	Del bool
	Fn  UpdateFunc
}

// Empty reports whether the Delta records no change at all.
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

// Set records that key takes the encoded value val.
func (d *Delta) Set(key string, val []byte) { d.put(op{Key: key, Val: val}) }

// Del records that key is deleted.
func (d *Delta) Del(key string) { d.put(op{Key: key, Del: true}) }

// Update records that key takes fn's result on its value at save time.
// An earlier change of the request to key is what fn sees; without one,
// fn sees the stored value (none after Clear). undo puts back what the
// Delta held for key before, for an update that failed.
func (d *Delta) Update(key string, fn UpdateFunc) (undo func()) {
	prev, had := op{}, false
	if i, ok := d.find(key); ok {
		prev, had = d.ops[i], true
	}
	run := fn
	if had {
		run = func([]byte, bool) ([]byte, error) {
			if prev.Fn != nil {
				return nil, errNestedUpdate
			}
			return fn(prev.Val, !prev.Del)
		}
	}
	d.put(op{Key: key, Fn: run})
	return func() {
		if had {
			d.put(prev)
			return
		}
		if i, ok := d.find(key); ok {
			d.ops = slices.Delete(d.ops, i, i+1)
		}
	}
}

// errNestedUpdate guards against an update composed with a pending
// update, which the engine never leaves in a Delta.
var errNestedUpdate = errors.New("an update of a key with a pending update")

// Clear records that every value is dropped; pending metadata stands.
func (d *Delta) Clear() {
	*d = Delta{cleared: true, Meta: d.Meta, bound: d.bound}
}

// SetMeta records new metadata that carries the loaded user binding
// along without making it the request's own (RememberMe): if the session
// turns out to have ended meanwhile, Orphan drops the binding.
func (d *Delta) SetMeta(m Meta) { d.Meta = &m }

// Bind records new metadata whose user binding is the request's own
// (SetUser, at a login): it survives Orphan.
func (d *Delta) Bind(m Meta) { d.Meta, d.bound = &m, true }

// Orphan adapts the Delta to a session that ended while the request ran
// (its record vanished or became a tombstone, or it passed its absolute
// lifetime): what the request changes goes to a new, anonymous session.
// The values it set stay; the user binding and what SetUser recorded
// with it (IP, user agent) go, unless the request bound the user itself.
// The cookie choice (RememberMe) stays.
func (d *Delta) Orphan() {
	if d.Meta == nil || d.bound {
		return
	}
	d.Meta = &Meta{Persist: d.Meta.Persist}
}

// Reset forgets every change.
func (d *Delta) Reset() { *d = Delta{} }

// lookup tells what the Delta says about key: a value set by this request,
// a deletion (or a clear that covers it), or nothing (decided bool false),
// in which case the stored value stands.
func (d *Delta) Lookup(key string) (val []byte, present, decided bool) {
	if i, ok := d.find(key); ok {
		o := d.ops[i]
		if o.Fn != nil {
			return nil, false, false // an update in progress: the stored value stands until it is saved
		}
		return o.Val, !o.Del, true
	}
	return nil, false, d.cleared
}

// Apply returns base with the Delta applied, in one merge of the two
// sorted lists, running each update on the value base holds for its key.
// base is not modified. The error is an update's.
func (d *Delta) Apply(base Values) (Values, error) {
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
		var cur []byte
		var found bool
		if i < len(base) && base[i].Key == o.Key {
			cur, found = base[i].Val, true
			i++ // replaced or deleted
		}
		switch {
		case o.Fn != nil:
			v, err := o.Fn(cur, found)
			if err != nil {
				return nil, err
			}
			out = append(out, Entry{o.Key, v})
		case !o.Del:
			out = append(out, Entry{o.Key, o.Val})
		}
	}
	return append(out, base[i:]...), nil
}
