package core

import (
	"testing"
	"time"
)

// TestTouchExtendsWithoutRewriting: with a Toucher the deadline moves and
// the record bytes and version stay; without one (plainDriver) the
// unchanged record is saved conditionally with the new time to live.
// Either way the next load reports the later deadline.
func TestTouchExtendsWithoutRewriting(t *testing.T) {
	mem := newMemory(t)
	for name, e := range map[string]*Engine{
		"Toucher":   newEngine(t, mem, func(o *Options) { o.Lifetime = time.Minute }),
		"NoToucher": newEngine(t, plainDriver{mem}, func(o *Options) { o.Lifetime = time.Minute }),
	} {
		t.Run(name, func(t *testing.T) {
			first := stored(t, e, "n", "1")
			st, _ := loaded(t, e, first.ID)
			before := st.Expires
			time.Sleep(20 * time.Millisecond)
			out, err := e.Touch(bg, st, 2*time.Minute)
			if err != nil || !out.Written {
				t.Fatalf("%+v, %v; want the deadline moved", out, err)
			}
			again, _ := loaded(t, e, first.ID)
			if !again.Expires.After(before.Add(30 * time.Second)) {
				t.Fatalf("deadline %v after the touch; want about two minutes from now, not %v", again.Expires, before)
			}
			if string(again.Raw) != string(st.Raw) {
				t.Fatal("the touch changed the record bytes")
			}
		})
	}
}

// TestTouchDue: an idle deadline is extended only once more than
// TouchInterval has passed since it was set, scaled to another lifetime.
func TestTouchDue(t *testing.T) {
	e := newEngine(t, newMemory(t), func(o *Options) { o.Lifetime = time.Hour; o.TouchInterval = 6 * time.Minute })
	st := &State{Expires: time.Now().Add(time.Hour - time.Minute)}
	if e.TouchDue(st, time.Hour) {
		t.Fatal("a deadline set a minute ago is due")
	}
	st.Expires = time.Now().Add(time.Hour - 7*time.Minute)
	if !e.TouchDue(st, time.Hour) {
		t.Fatal("a deadline set seven minutes ago (interval six) is not due")
	}
	// A two-hour lifetime (a gin-contrib MaxAge) doubles the interval.
	st.Expires = time.Now().Add(2*time.Hour - 7*time.Minute)
	if e.TouchDue(st, 2*time.Hour) {
		t.Fatal("with twice the lifetime, seven minutes is within the scaled interval")
	}
}

// TestTouchCappedByAbsoluteLifetime: a session at its absolute deadline
// is not extended past it.
func TestTouchCappedByAbsoluteLifetime(t *testing.T) {
	e := newEngine(t, newMemory(t), func(o *Options) { o.AbsoluteLifetime = time.Hour })
	first := stored(t, e, "n", "1")
	st, _ := loaded(t, e, first.ID)
	out, err := e.Touch(bg, st, time.Hour)
	if err != nil || out.Written {
		t.Fatalf("%+v, %v; want no extension: the absolute deadline is the idle one already", out, err)
	}
}
