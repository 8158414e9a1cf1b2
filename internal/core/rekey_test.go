package core

import (
	"testing"
	"time"
)

// TestRekeyMovesTheSession: Rekey gives the session a new ID with the same
// data and its pending changes, the old ID is dead at once, and the user
// index follows the session to its new key.
func TestRekeyMovesTheSession(t *testing.T) {
	mem := newMemory(t)
	e := newEngine(t, mem, nil)
	first := stored(t, e, "cart", "3")
	st, _ := loaded(t, e, first.ID)
	st.Delta.Meta = &Meta{User: "ada"}
	st.Delta.Set("step", []byte("2"))
	oldID, oldKey := st.ID, st.Key
	if err := e.Rekey(bg, st); err != nil {
		t.Fatal(err)
	}
	if st.ID == oldID || st.Key != StoreKey(st.ID) {
		t.Fatal("the session kept its ID")
	}
	if _, found := loaded(t, e, oldID); found {
		t.Fatal("the old ID still loads")
	}
	again, found := loaded(t, e, st.ID)
	if !found || again.Meta.User != "ada" || again.Created.UnixMilli() != first.Created.UnixMilli() {
		t.Fatalf("new ID: found=%v user=%q created=%v; want ada's session with its creation time", found, again.Meta.User, again.Created)
	}
	for k, want := range map[string]string{"cart": "3", "step": "2"} {
		if v, _ := again.Base.Get(k); string(v) != want {
			t.Errorf("%s = %q; want %q", k, v, want)
		}
	}
	keys, err := mem.UserKeys(bg, UserKey("ada"))
	if err != nil || len(keys) != 1 || keys[0] != st.Key || keys[0] == oldKey {
		t.Fatalf("index of ada: %v, %v; want only the new key", keys, err)
	}
}

// TestRekeyPastAbsoluteLifetime: a session past its absolute lifetime is
// not re-keyed; the error says so.
func TestRekeyPastAbsoluteLifetime(t *testing.T) {
	e := newEngine(t, newMemory(t), func(o *Options) { o.AbsoluteLifetime = time.Millisecond })
	st := &State{}
	st.StartNew()
	st.Created = time.Now().Add(-time.Second)
	st.Exists = true
	if err := e.Rekey(bg, st); KindOf(err) != KindExpired {
		t.Fatalf("%v; want an expired error", err)
	}
}
