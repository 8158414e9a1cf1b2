package core

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/ginkit/sessions/drivers/memory"
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

// batchIndex is the memory driver with driver.UserBatchUnindexer added,
// counting the calls the engine makes of each way to remove entries.
type batchIndex struct {
	*memory.Driver
	single, batches atomic.Int64
	batched         atomic.Int64 // keys removed by batches
}

func (b *batchIndex) UnindexUser(ctx context.Context, user, key string) error {
	b.single.Add(1)
	return b.Driver.UnindexUser(ctx, user, key)
}

func (b *batchIndex) UnindexUserKeys(ctx context.Context, user string, keys []string) error {
	b.batches.Add(1)
	b.batched.Add(int64(len(keys)))
	for _, k := range keys {
		if err := b.Driver.UnindexUser(ctx, user, k); err != nil {
			return err
		}
	}
	return nil
}

// TestRevokeUserUnindexesInOneCall: a backend that can remove many index
// entries at once gets one call for a whole pass of RevokeUser, not one per
// session, and the entries are gone afterwards.
func TestRevokeUserUnindexesInOneCall(t *testing.T) {
	d := &batchIndex{Driver: newMemory(t)}
	e := newEngine(t, d, nil)
	const n = 40
	for range n {
		bind(t, e, "ada")
	}
	bind(t, e, "bob")
	got, err := e.RevokeUser(bg, "ada", "")
	if err != nil || got != n {
		t.Fatalf("RevokeUser = %d, %v; want %d", got, err, n)
	}
	if b, k, s := d.batches.Load(), d.batched.Load(), d.single.Load(); b != 1 || k != n || s != 0 {
		t.Fatalf("the engine made %d batch calls for %d keys and %d single calls; want 1 batch of %d and none single", b, k, s, n)
	}
	if keys, _ := d.Driver.UserKeys(bg, UserKey("ada")); len(keys) != 0 {
		t.Fatalf("ada's index still lists %d keys", len(keys))
	}
	if keys, _ := d.Driver.UserKeys(bg, UserKey("bob")); len(keys) != 1 {
		t.Fatalf("bob's index lists %d keys; want his one", len(keys))
	}
}
