package core

import (
	"errors"
	"testing"
)

// bind saves a new session bound to user.
func bind(t *testing.T, e *Engine, user string) *State {
	t.Helper()
	st := &State{}
	st.StartNew()
	st.Delta.Meta = &Meta{User: user}
	if out, err := e.Save(bg, st, e.Lifetime()); err != nil || !out.Written {
		t.Fatal(out, err)
	}
	return st
}

// TestRevokeUserKeepsOne: RevokeUser ends every session of the user but
// the one kept, leaves other users' alone, and lists what is left.
func TestRevokeUserKeepsOne(t *testing.T) {
	e := newEngine(t, newMemory(t), nil)
	phone, laptop, tablet := bind(t, e, "ada"), bind(t, e, "ada"), bind(t, e, "ada")
	bob := bind(t, e, "bob")
	n, err := e.RevokeUser(bg, "ada", laptop.Key)
	if err != nil || n != 2 {
		t.Fatalf("revoked %d, %v; want 2", n, err)
	}
	for _, st := range []*State{phone, tablet} {
		if _, found := loaded(t, e, st.ID); found {
			t.Error("a revoked session still loads")
		}
	}
	for _, st := range []*State{laptop, bob} {
		if _, found := loaded(t, e, st.ID); !found {
			t.Error("a kept session is gone")
		}
	}
	list, err := e.UserSessions(bg, "ada")
	if err != nil || len(list) != 1 || list[0].Key != laptop.Key {
		t.Fatalf("ada's sessions after revocation: %v, %v; want the laptop's only", list, err)
	}
	if ok, err := e.RevokeSession(bg, "ada", bob.Key); ok || err != nil {
		t.Fatalf("RevokeSession of another user's session = %v, %v; want it left alone", ok, err)
	}
}

// TestNoUserIndex: a driver without an index gives ErrNoUserIndex, never
// a wrong answer.
func TestNoUserIndex(t *testing.T) {
	e := newEngine(t, plainDriver{newMemory(t)}, nil)
	if _, err := e.UserSessions(bg, "ada"); !errors.Is(err, ErrNoUserIndex) {
		t.Fatalf("%v; want ErrNoUserIndex", err)
	}
	if _, err := e.RevokeUser(bg, "ada", ""); !errors.Is(err, ErrNoUserIndex) {
		t.Fatalf("%v; want ErrNoUserIndex", err)
	}
}
