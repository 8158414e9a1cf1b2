package core

import (
	"testing"
	"time"
)

// TestLoadDropsUnusableRecords: a record that does not decode, or one
// past the absolute lifetime, is reported absent (never an error) and
// deleted from the store.
func TestLoadDropsUnusableRecords(t *testing.T) {
	mem := newMemory(t)
	e := newEngine(t, mem, func(o *Options) { o.AbsoluteLifetime = time.Hour })
	id := NewID()
	key := StoreKey(id)
	old := EncodeRecord(Record{Created: time.Now().Add(-2 * time.Hour)})
	for name, rec := range map[string][]byte{"garbage": []byte("not a record"), "past absolute": old} {
		t.Run(name, func(t *testing.T) {
			if ok, err := mem.Save(bg, key, rec, 0, time.Hour); err != nil || !ok {
				t.Fatal(ok, err)
			}
			if _, found := loaded(t, e, id); found {
				t.Fatal("an unusable record loaded")
			}
			if got, _, _, _ := mem.Load(bg, key); got != nil {
				t.Fatal("the unusable record was left in the store")
			}
		})
	}
}

// TestLoadMovesFromPrevious: during a move, a session only the previous
// backend holds is moved to the current one on load, with its remaining
// lifetime, and deleted from the previous one.
func TestLoadMovesFromPrevious(t *testing.T) {
	cur, prev := newMemory(t), newMemory(t)
	old := newEngine(t, prev, nil)
	first := stored(t, old, "n", "1")
	e := newEngine(t, cur, func(o *Options) { o.Previous = prev })
	st, found := loaded(t, e, first.ID)
	if !found {
		t.Fatal("the session was not found through the previous backend")
	}
	if d := st.Expires.Sub(first.Expires); d < -time.Second || d > time.Second {
		t.Fatalf("moved with deadline %v; want the old one, %v", st.Expires, first.Expires)
	}
	if rec, _, _, _ := cur.Load(bg, first.Key); rec == nil {
		t.Fatal("the current backend does not hold the moved session")
	}
	if rec, _, _, _ := prev.Load(bg, first.Key); rec != nil {
		t.Fatal("the previous backend still holds the moved session")
	}
}
