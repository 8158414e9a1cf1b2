package sessions

import "sort"

// delta records what one request did to its session — keys set, keys
// deleted, everything cleared — rather than only the final map. Saving
// applies the delta to the record as it is in the store at that moment, so
// two overlapping requests that change different keys both keep their
// changes, and on the same key the later commit wins.
//
// Each key is in at most one of sets and dels: the later operation on a key
// replaces the earlier one.
type delta struct {
	sets    map[string][]byte
	dels    map[string]struct{}
	cleared bool
	meta    *recordMeta // a new user binding (SetUser), or nil
}

func (d *delta) empty() bool {
	return !d.cleared && len(d.sets) == 0 && len(d.dels) == 0 && d.meta == nil
}

func (d *delta) set(key string, val []byte) {
	if d.sets == nil {
		d.sets = make(map[string][]byte, 4)
	}
	d.sets[key] = val
	delete(d.dels, key)
}

func (d *delta) del(key string) {
	if d.dels == nil {
		d.dels = make(map[string]struct{}, 2)
	}
	d.dels[key] = struct{}{}
	delete(d.sets, key)
}

// clear drops every value; a pending user binding stands.
func (d *delta) clear() {
	*d = delta{cleared: true, meta: d.meta}
}

func (d *delta) reset() { *d = delta{} }

// lookup tells what the delta says about key: a value set by this request,
// a deletion (or a clear that covers it), or nothing (decided bool false),
// in which case the stored value stands.
func (d *delta) lookup(key string) (val []byte, present, decided bool) {
	if v, ok := d.sets[key]; ok {
		return v, true, true
	}
	if _, ok := d.dels[key]; ok || d.cleared {
		return nil, false, true
	}
	return nil, false, false
}

// apply returns base with the delta applied. base is not modified.
func (d *delta) apply(base map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(base)+len(d.sets))
	if !d.cleared {
		for k, v := range base {
			if _, gone := d.dels[k]; !gone {
				out[k] = v
			}
		}
	}
	for k, v := range d.sets {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
