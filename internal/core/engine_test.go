package core

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/drivers/memory"
)

// The engine's tests run on the real memory driver. Where a test needs a
// driver without an optional capability, plainDriver hides it: the
// methods underneath are still the memory driver's.

var bg = context.Background()

// plainDriver exposes only the required Driver methods of the driver it
// wraps (no Touch, no index, no Scan).
type plainDriver struct{ d driver.Driver }

func (p plainDriver) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	return p.d.Load(ctx, key)
}
func (p plainDriver) Save(ctx context.Context, key string, rec []byte, v uint64, ttl time.Duration) (bool, error) {
	return p.d.Save(ctx, key, rec, v, ttl)
}
func (p plainDriver) Delete(ctx context.Context, key string) error { return p.d.Delete(ctx, key) }
func (p plainDriver) Close(ctx context.Context) error              { return p.d.Close(ctx) }

// newMemory returns a memory driver closed when the test ends.
func newMemory(t *testing.T) *memory.Driver {
	d := memory.New(memory.Options{SweepInterval: -1})
	t.Cleanup(func() { _ = d.Close(bg) })
	return d
}

// newEngine returns an Engine over d with a one-hour idle lifetime;
// mutate may change its options.
func newEngine(t *testing.T, d driver.Driver, mutate func(*Options)) *Engine {
	t.Helper()
	opts := Options{Driver: d, Lifetime: time.Hour, TouchInterval: 6 * time.Minute, MaxKeys: 1024, MaxRecordSize: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)}
	if mutate != nil {
		mutate(&opts)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// stored saves a new session holding kv through e and returns its State,
// as a request that created it would leave it.
func stored(t *testing.T, e *Engine, kv ...string) *State {
	t.Helper()
	st := &State{}
	st.StartNew()
	for i := 0; i+1 < len(kv); i += 2 {
		st.Delta.Set(kv[i], []byte(kv[i+1]))
	}
	out, err := e.Save(bg, st, e.Lifetime())
	if err != nil || !out.Written {
		t.Fatalf("save of a new session: %+v, %v", out, err)
	}
	return st
}

// loaded loads the session with st's ID into a fresh State, as the next
// request of that client would.
func loaded(t *testing.T, e *Engine, id string) (*State, bool) {
	t.Helper()
	st := &State{}
	st.SetID(id)
	found, err := e.Load(bg, st)
	if err != nil {
		t.Fatal(err)
	}
	return st, found
}

// value returns the stored value of key in the session with id.
func value(t *testing.T, e *Engine, id, key string) (string, bool) {
	t.Helper()
	st, found := loaded(t, e, id)
	if !found {
		return "", false
	}
	v, ok := st.Base.Get(key)
	return string(v), ok
}
