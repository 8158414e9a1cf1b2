package core

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSaveMergesOverlappingRequests: two requests load one session, each
// changes different keys, and they save in turn. The second save meets a
// newer version, reloads and re-applies its delta: both changes survive,
// and the second request's stale view of a key it did not touch does not
// bring back a deletion.
func TestSaveMergesOverlappingRequests(t *testing.T) {
	e := newEngine(t, newMemory(t), nil)
	first := stored(t, e, "keep", "1", "gone", "x")
	a, _ := loaded(t, e, first.ID)
	b, _ := loaded(t, e, first.ID)
	a.Delta.Set("a", []byte("A"))
	b.Delta.Del("gone")
	b.Delta.Set("b", []byte("B"))
	if out, err := e.Save(bg, b, time.Hour); err != nil || !out.Written || out.Reloaded {
		t.Fatalf("b: %+v, %v; want written without a reload", out, err)
	}
	out, err := e.Save(bg, a, time.Hour)
	if err != nil || !out.Written || !out.Reloaded {
		t.Fatalf("a: %+v, %v; want written after a reload (its version was stale)", out, err)
	}
	final, _ := loaded(t, e, first.ID)
	if got := strings.Join(final.Base.Keys(), ","); got != "a,b,keep" {
		t.Fatalf("keys after both saves: %s; want a,b,keep", got)
	}
	if out.CookieDue {
		t.Fatal("a save of an existing session within the slack asked for the cookie again")
	}
	if s := e.Stats(); s.SaveConflicts != 1 || s.Saves != 3 {
		t.Fatalf("stats %+v; want 3 saves and the one conflict", s)
	}
}

// TestSaveNeverResurrects: a session deleted (logout, revocation) while a
// request held it is not written back under its old ID: the request's
// changes start a new session under a new ID, whose cookie is due.
func TestSaveNeverResurrects(t *testing.T) {
	e := newEngine(t, newMemory(t), nil)
	first := stored(t, e, "n", "1")
	st, _ := loaded(t, e, first.ID)
	if err := e.Destroy(bg, first.Key, ""); err != nil {
		t.Fatal(err)
	}
	st.Delta.Set("n", []byte("2"))
	out, err := e.Save(bg, st, time.Hour)
	if err != nil || !out.Written || !out.CookieDue {
		t.Fatalf("%+v, %v; want a written new session with its cookie due", out, err)
	}
	if st.ID == first.ID {
		t.Fatal("the deleted session was written back under its old ID")
	}
	if _, found := loaded(t, e, first.ID); found {
		t.Fatal("the old ID works again")
	}
	if v, _ := value(t, e, st.ID, "n"); v != "2" {
		t.Fatalf("the new session holds n=%q; want the request's change", v)
	}
}

// TestSaveLimits: a save over MaxKeys or MaxRecordSize is an oversize
// error and writes nothing; the stored record is unchanged.
func TestSaveLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		delta  func(st *State)
	}{
		{"MaxKeys", func(o *Options) { o.MaxKeys = 3 }, func(st *State) {
			for _, k := range []string{"b", "c", "d"} {
				st.Delta.Set(k, []byte("1"))
			}
		}},
		{"MaxRecordSize", func(o *Options) { o.MaxRecordSize = 512 }, func(st *State) {
			st.Delta.Set("big", []byte(strings.Repeat("x", 600)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, newMemory(t), tc.mutate)
			first := stored(t, e, "a", "1")
			st, _ := loaded(t, e, first.ID)
			tc.delta(st)
			_, err := e.Save(bg, st, time.Hour)
			if KindOf(err) != KindOversize || !strings.HasPrefix(err.Error(), "sessions: save: ") {
				t.Fatalf("error %v (kind %q); want an oversize save error", err, KindOf(err))
			}
			again, _ := loaded(t, e, first.ID)
			if got := strings.Join(again.Base.Keys(), ","); got != "a" {
				t.Fatalf("after a refused save the record holds %s; want it unchanged", got)
			}
		})
	}
}

// TestSaveNothingToStore: a new session whose changes cancel out writes
// nothing and asks for no cookie.
func TestSaveNothingToStore(t *testing.T) {
	d := newMemory(t)
	e := newEngine(t, d, nil)
	st := &State{}
	st.StartNew()
	st.Delta.Set("a", []byte("1"))
	st.Delta.Del("a")
	out, err := e.Save(bg, st, time.Hour)
	if err != nil || out.Written || out.CookieDue {
		t.Fatalf("%+v, %v; want nothing written", out, err)
	}
	if rec, _, _, _ := d.Load(bg, st.Key); rec != nil {
		t.Fatal("a record was stored for an empty new session")
	}
}

// conflicting is a stand-in for a session another writer changes between
// every load and conditional save, which a real store cannot be made to
// do on demand 32 times in a row: its Save always reports a version
// mismatch. (Real contention is shown by the integration package's
// TestConcurrentWritesOneSession.)
type conflicting struct {
	plainDriver
	saves *int
}

func (c conflicting) Save(context.Context, string, []byte, uint64, time.Duration) (bool, error) {
	*c.saves++
	return false, nil
}

// TestSaveGivesUpWithErrConflict: a save that loses the race every time
// stops after its attempts with ErrConflict, kind conflict, and claims
// nothing.
func TestSaveGivesUpWithErrConflict(t *testing.T) {
	saves := 0
	e := newEngine(t, conflicting{plainDriver{newMemory(t)}, &saves}, nil)
	st := &State{}
	st.StartNew()
	st.Delta.Set("a", []byte("1"))
	out, err := e.Save(bg, st, time.Hour)
	if !errors.Is(err, ErrConflict) || KindOf(err) != KindConflict || out.Written {
		t.Fatalf("%+v, %v; want ErrConflict and nothing written", out, err)
	}
	if saves != maxSaveAttempts {
		t.Fatalf("%d conditional saves; want %d attempts", saves, maxSaveAttempts)
	}
	if s := e.Stats(); s.SaveConflicts != maxSaveAttempts || s.SaveErrors != 1 {
		t.Fatalf("stats %+v; want every attempt counted as a conflict, and one failed save", s)
	}
}
