package core

import (
	"context"
	"errors"
	"testing"
	"time"
)

// failingDriver is plainDriver whose Load fails.
type failingDriver struct{ plainDriver }

var errDown = errors.New("store down")

func (failingDriver) Load(context.Context, string) ([]byte, uint64, time.Time, error) {
	return nil, 0, time.Time{}, errDown
}

// TestCheckWatched: one status per key, in order — a live session is
// alive with its deadline; a missing one, an unusable record and one past
// its absolute lifetime are ended (no error); a store error is not an
// end.
func TestCheckWatched(t *testing.T) {
	mem := newMemory(t)
	e := newEngine(t, mem, func(o *Options) { o.AbsoluteLifetime = 2 * time.Hour })
	live := stored(t, e, "n", "1")
	garbage, old := StoreKey(NewID()), StoreKey(NewID())
	if ok, err := mem.Save(bg, garbage, []byte("not a record"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := mem.Save(bg, old, EncodeRecord(Record{Created: time.Now().Add(-3 * time.Hour)}), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	got := e.CheckWatched(bg, []string{live.Key, StoreKey(NewID()), garbage, old}, time.Hour, time.Second)
	if len(got) != 4 {
		t.Fatalf("%d statuses for 4 keys", len(got))
	}
	if !got[0].Alive || got[0].Err != nil || absDur(got[0].Expires.Sub(live.Expires)) > 50*time.Millisecond {
		t.Errorf("live session: %+v; want alive until %v", got[0], live.Expires)
	}
	for i, name := range []string{"", "missing", "unusable", "past absolute"} {
		if i > 0 && (got[i].Alive || got[i].Err != nil) {
			t.Errorf("%s: %+v; want ended", name, got[i])
		}
	}

	down := newEngine(t, failingDriver{plainDriver{mem}}, nil)
	st := down.CheckWatched(bg, []string{live.Key}, time.Hour, time.Second)[0]
	if st.Alive || !errors.Is(st.Err, errDown) {
		t.Errorf("store down: %+v; want not alive, with the store's error", st)
	}
}

// TestCheckWatchedKeepsAlive: a stale idle deadline, or one closer than
// two intervals, is extended by the check (through Touch, and without a
// Toucher by the conditional save); a fresh one is left alone (no write).
func TestCheckWatchedKeepsAlive(t *testing.T) {
	mem := newMemory(t)
	for name, e := range map[string]*Engine{
		"Toucher":   newEngine(t, mem, nil),
		"NoToucher": newEngine(t, plainDriver{mem}, nil),
	} {
		t.Run(name, func(t *testing.T) {
			st := stored(t, e, "n", "1")
			// Fresh (set just now), an interval of a second: nothing to do.
			before := e.Stats().Touches
			got := e.CheckWatched(bg, []string{st.Key}, time.Hour, time.Second)[0]
			if !got.Alive || absDur(got.Expires.Sub(st.Expires)) > 50*time.Millisecond || e.Stats().Touches != before {
				t.Fatalf("fresh deadline: %+v, %d touches; want untouched", got, e.Stats().Touches-before)
			}
			// Stale: TouchDue (set more than TouchInterval ago).
			if ok, err := mem.Save(bg, st.Key, st.Raw, mustVersion(t, e, st.Key), 50*time.Minute); err != nil || !ok {
				t.Fatal(ok, err)
			}
			got = e.CheckWatched(bg, []string{st.Key}, time.Hour, time.Second)[0]
			if !got.Alive || got.Err != nil || time.Until(got.Expires) < 59*time.Minute {
				t.Fatalf("stale deadline: %+v; want it extended to an hour", got)
			}
			// Not TouchDue (set two minutes "ago"), but less than two
			// intervals left.
			if ok, err := mem.Save(bg, st.Key, st.Raw, mustVersion(t, e, st.Key), 58*time.Minute); err != nil || !ok {
				t.Fatal(ok, err)
			}
			got = e.CheckWatched(bg, []string{st.Key}, time.Hour, 40*time.Minute)[0]
			if !got.Alive || got.Err != nil || time.Until(got.Expires) < 59*time.Minute {
				t.Fatalf("deadline within two intervals: %+v; want it extended to an hour", got)
			}
		})
	}
}

// mustVersion returns the stored version of key.
func mustVersion(t *testing.T, e *Engine, key string) uint64 {
	t.Helper()
	_, v, _, err := e.Driver().Load(bg, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func absDur(d time.Duration) time.Duration { return max(d, -d) }
