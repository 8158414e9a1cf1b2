package indexlist

import (
	"errors"
	"strconv"
	"testing"

	"github.com/ginkit/sessions/driver"
)

// TestPut: Put sets, renews and removes entries, and at the bound refuses
// a new key without dropping any entry.
func TestPut(t *testing.T) {
	const now = 1000
	es, changed, err := Put(nil, "a", 2000, now)
	if err != nil || !changed || len(es) != 1 || es[0] != (Entry{"a", 2000}) {
		t.Fatalf("add: %v %v %v", es, changed, err)
	}
	if es, changed, _ = Put(es, "a", 3000, now); !changed || es[0].Expires != 3000 {
		t.Fatalf("renew: %v %v", es, changed)
	}
	if _, changed, _ = Put(es, "b", now, now); changed {
		t.Fatal("an expired new entry was written")
	}
	if es, changed, _ = Put(es, "a", now, now); !changed || len(es) != 0 {
		t.Fatalf("expire: %v %v", es, changed)
	}
	full := make([]Entry, 0, driver.MaxUserEntries)
	for i := range driver.MaxUserEntries {
		full = append(full, Entry{"k" + strconv.Itoa(i), 2000})
	}
	out, changed, err := Put(full, "new", 2000, now)
	if !errors.Is(err, driver.ErrUserIndexFull) || changed || len(out) != driver.MaxUserEntries || out[0].Key != "k0" {
		t.Fatalf("full: %d entries, %v, %v; want the %d kept and ErrUserIndexFull", len(out), changed, err, driver.MaxUserEntries)
	}
	if out, changed, err = Put(full, "k0", 5000, now); err != nil || !changed || out[0].Expires != 5000 {
		t.Fatalf("renewing at the bound: %v, %v", changed, err)
	}
}

// TestWireForm: entries round-trip, and damage reads as no entries.
func TestWireForm(t *testing.T) {
	es := []Entry{{"a", 1}, {"key-2", -5}}
	b := Append(nil, es)
	if len(b) != EncodedLen(es) {
		t.Fatalf("%d bytes; EncodedLen says %d", len(b), EncodedLen(es))
	}
	got, ok := Decode(b)
	if !ok || len(got) != 2 || got[0] != es[0] || got[1] != es[1] {
		t.Fatalf("Decode = %v, %v", got, ok)
	}
	for _, bad := range [][]byte{b[:len(b)-1], {0, 1, 2, 3, 4, 5, 6, 7, 8}, {3, 'a'}} {
		if got, ok := Decode(bad); ok || got != nil {
			t.Errorf("Decode(%x) = %v, %v; want damaged", bad, got, ok)
		}
	}
}

// TestRemove: the entries of the keys named go, once each, and every
// other entry stays in its order; nothing to remove is no change.
func TestRemove(t *testing.T) {
	list := func() []Entry { return []Entry{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}} }
	for _, c := range []struct {
		keys    []string
		want    string
		changed bool
	}{
		{[]string{"b"}, "acd", true},
		{[]string{"d", "a", "a"}, "bc", true},
		{[]string{"x"}, "abcd", false},
		{nil, "abcd", false},
		{[]string{"a", "b", "c", "d"}, "", true},
	} {
		out, changed := Remove(list(), c.keys...)
		got := ""
		for _, e := range out {
			got += e.Key
		}
		if got != c.want || changed != c.changed {
			t.Errorf("Remove(%q) = %q, %v; want %q, %v", c.keys, got, changed, c.want, c.changed)
		}
	}
}
