package core

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginkit/sessions/driver"
)

// hookedDriver calls before and after around the first Save of a key it
// is told to watch: the stand-in for a logout that lands between two
// steps of a move, which no real store can be made to do on demand. The
// store underneath is the real memory driver.
type hookedDriver struct {
	driver.Driver
	key           string
	before, after func()
	fired         atomic.Bool
}

func (h *hookedDriver) Save(ctx context.Context, key string, rec []byte, v uint64, ttl time.Duration) (bool, error) {
	if key != h.key || h.fired.Swap(true) {
		return h.Driver.Save(ctx, key, rec, v, ttl)
	}
	if h.before != nil {
		h.before()
	}
	saved, err := h.Driver.Save(ctx, key, rec, v, ttl)
	if h.after != nil {
		h.after()
	}
	return saved, err
}

// TestMoveFromPreviousCopiesOnlyWhatStillExists: a logout that lands
// while a session is being moved from the previous backend — before the
// copy is written, or after it is written but before the old copy is
// deleted — leaves the session ended in both backends: the move never
// brings it back.
func TestMoveFromPreviousCopiesOnlyWhatStillExists(t *testing.T) {
	for _, when := range []string{"before the copy", "after the copy"} {
		t.Run(when, func(t *testing.T) {
			prev := newMemory(t)
			first := stored(t, newEngine(t, prev, nil), "n", "1")
			cur := &hookedDriver{Driver: newMemory(t), key: first.Key}
			e := newEngine(t, cur, func(o *Options) { o.Previous = prev })
			logout := func() {
				if err := e.Destroy(bg, first.Key, ""); err != nil {
					t.Error(err)
				}
			}
			if when == "before the copy" {
				cur.before = logout
			} else {
				cur.after = logout
			}
			if _, found := loaded(t, e, first.ID); found {
				t.Fatal("a session logged out during its move was loaded")
			}
			for name, d := range map[string]driver.Driver{"current": cur, "previous": prev} {
				if rec, _, _, _ := d.Load(bg, first.Key); rec != nil && !isTombstone(rec) {
					t.Fatalf("the %s backend holds the logged-out session", name)
				}
			}
		})
	}
}

// TestMoveFromPreviousLosesNoSession: two movers of one session (two
// requests of one client) both find it, and only one copy is made.
func TestMoveFromPreviousLosesNoSession(t *testing.T) {
	prev := newMemory(t)
	first := stored(t, newEngine(t, prev, nil), "n", "1")
	cur := &hookedDriver{Driver: newMemory(t), key: first.Key}
	e := newEngine(t, cur, func(o *Options) { o.Previous = prev })
	// A second request moves the session while the first is about to
	// write its copy.
	cur.before = func() {
		if _, found := loaded(t, e, first.ID); !found {
			t.Error("the racing request did not find the session")
		}
	}
	if _, found := loaded(t, e, first.ID); !found {
		t.Fatal("the session was lost by two concurrent moves")
	}
	if v, ok := value(t, e, first.ID, "n"); !ok || v != "1" {
		t.Fatalf("after the move: %q, %v", v, ok)
	}
	if rec, _, _, _ := prev.Load(bg, first.Key); rec != nil {
		t.Fatal("the previous backend still holds the moved session")
	}
}

// TestMoveFromPreviousRacingABulkMove: a bulk move that finds a request's
// fresh copy in the current backend deletes the old copy; the request,
// looking at the old copy again, must take that for a finished move, not
// for a logout, and keep its copy.
func TestMoveFromPreviousRacingABulkMove(t *testing.T) {
	prev := newMemory(t)
	first := stored(t, newEngine(t, prev, nil), "n", "1")
	cur := &hookedDriver{Driver: newMemory(t), key: first.Key}
	e := newEngine(t, cur, func(o *Options) { o.Previous = prev })
	cur.after = func() {
		mv := &bulkMove{e: e, stats: &MoveStats{}}
		if out, err := mv.moveKey(bg, first.Key); err != nil || out != outKept {
			t.Errorf("bulk move of a session a request just copied: %v, %v; want kept", out, err)
		}
	}
	if _, found := loaded(t, e, first.ID); !found {
		t.Fatal("the session was lost between a request's move and a bulk move")
	}
	if v, ok := value(t, e, first.ID, "n"); !ok || v != "1" {
		t.Fatalf("after the moves: %q, %v", v, ok)
	}
}
