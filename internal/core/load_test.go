package core

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

// TestLoadLeavesUnreadableRecords: a record that does not decode, or
// that another key sealed (an instance that has not got the new key yet
// during a rotation), is reported absent (never an error) and left in the
// store untouched, counted in Stats.Unreadable and logged once however
// often it is met; an instance with the key still reads it.
func TestLoadLeavesUnreadableRecords(t *testing.T) {
	mem := newMemory(t)
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	fresh := newEngine(t, mem, func(o *Options) { o.EncryptionKeys = [][]byte{newKey, oldKey} })
	w := &warnCounter{}
	stale := newEngine(t, mem, func(o *Options) { o.EncryptionKeys = [][]byte{oldKey}; o.Logger = slog.New(w) })
	sealedByNew := stored(t, fresh, "n", "1")
	garbage := NewID()
	if ok, err := mem.Save(bg, StoreKey(garbage), []byte("not a record"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, id := range []string{sealedByNew.ID, garbage, sealedByNew.ID, garbage} {
		before, _, _, _ := mem.Load(bg, StoreKey(id))
		if _, found := loaded(t, stale, id); found {
			t.Fatal("an unreadable record loaded")
		}
		if after, _, _, _ := mem.Load(bg, StoreKey(id)); !bytes.Equal(before, after) {
			t.Fatal("the stale instance deleted or changed a record it cannot read")
		}
	}
	if n := stale.Stats().Unreadable; n != 4 {
		t.Fatalf("Stats.Unreadable = %d; want 4", n)
	}
	if n := w.n.Load(); n != 1 {
		t.Fatalf("%d warnings; want 1 (rate-limited)", n)
	}
	if _, found := loaded(t, fresh, sealedByNew.ID); !found {
		t.Fatal("the instance with the new key lost the session")
	}
}

// TestLoadDropsPastAbsolute: a record past the absolute lifetime is
// reported absent and deleted from the store.
func TestLoadDropsPastAbsolute(t *testing.T) {
	mem := newMemory(t)
	e := newEngine(t, mem, func(o *Options) { o.AbsoluteLifetime = time.Hour })
	id := NewID()
	key := StoreKey(id)
	old := EncodeRecord(Record{Created: time.Now().Add(-2 * time.Hour)})
	if ok, err := mem.Save(bg, key, old, 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, found := loaded(t, e, id); found {
		t.Fatal("a record past its absolute lifetime loaded")
	}
	if got, _, _, _ := mem.Load(bg, key); got != nil {
		t.Fatal("the record past its absolute lifetime was left in the store")
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
