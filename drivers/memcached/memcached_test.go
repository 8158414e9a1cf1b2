package memcached

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

var ctx = context.Background()

// suiteOptions tunes the conformance suite to memcached's one-second clock.
var suiteOptions = sessionstest.Options{ExpiryGranularity: time.Second}

// openDSN opens a Driver for dsn and closes it when the test ends.
func openDSN(tb testing.TB, dsn string) *Driver {
	tb.Helper()
	return testserver.OpenURL(tb, Open, dsn)
}

func TestConformanceOpen(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		u, err := url.Parse("memcached://" + addr + "?prefix=conf:")
		if err != nil {
			t.Fatal(err)
		}
		d, err := Open(u)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, suiteOptions)
}

func TestConformanceNew(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	client := memcache.New(addr)
	client.MaxIdleConns = 32
	t.Cleanup(func() { _ = client.Close() })
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		return New(client, Options{})
	}, suiteOptions)

	// Closing a Driver from New leaves the application's client working.
	d := New(client, Options{})
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := client.Set(&memcache.Item{Key: "still", Value: []byte("usable")}); err != nil {
		t.Fatalf("client after Driver.Close: %v", err)
	}
}

func TestStorageFormat(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr)
	direct := memcache.New(addr)
	t.Cleanup(func() { _ = direct.Close() })
	key := sessionstest.Key(t)

	before := time.Now()
	if saved, err := d.Save(ctx, key, []byte("rec"), 0, 90*time.Second); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}
	it, err := direct.Get(DefaultPrefix + key)
	if err != nil {
		t.Fatalf("direct Get(%q): %v", DefaultPrefix+key, err)
	}
	if len(it.Value) != 8+3 || string(it.Value[8:]) != "rec" || it.Flags != itemFlags {
		t.Fatalf("stored item = %x flags %#x; want an 8-byte deadline, then rec, flags %#x", it.Value, it.Flags, itemFlags)
	}
	_, ver, exp, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if ver != it.CasID {
		t.Errorf("version = %d; want the CAS ID %d", ver, it.CasID)
	}
	if lo, hi := before.Add(90*time.Second), time.Now().Add(90*time.Second); exp.Before(lo.Truncate(time.Millisecond)) || exp.After(hi) {
		t.Errorf("expires = %v; want between %v and %v", exp, lo, hi)
	}
}

func TestCorruptItemsAreAbsent(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr)
	direct := memcache.New(addr)
	t.Cleanup(func() { _ = direct.Close() })

	for name, it := range map[string]*memcache.Item{
		"short":   {Value: []byte("1234567"), Flags: itemFlags},
		"foreign": {Value: []byte("0123456789abcdef"), Flags: 0},
	} {
		key := sessionstest.Key(t)
		it.Key = DefaultPrefix + key
		if err := direct.Set(it); err != nil {
			t.Fatal(err)
		}
		rec, ver, exp, err := d.Load(ctx, key)
		if err != nil || rec != nil || ver != 0 || !exp.IsZero() {
			t.Errorf("%s: Load = %q, %d, %v, %v; want absent", name, rec, ver, exp, err)
		}
		// A create replaces the corrupt item.
		if saved, err := d.Save(ctx, key, []byte("fresh"), 0, time.Hour); err != nil || !saved {
			t.Errorf("%s: Save(version 0) over a corrupt item = %v, %v; want true, nil", name, saved, err)
		}
		if rec, _, _, err := d.Load(ctx, key); err != nil || string(rec) != "fresh" {
			t.Errorf("%s: Load after create = %q, %v", name, rec, err)
		}
	}
}

func TestCreateReplacesExpiredItem(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr)
	direct := memcache.New(addr)
	t.Cleanup(func() { _ = direct.Close() })
	key := sessionstest.Key(t)

	if saved, err := d.Save(ctx, key, []byte("old"), 0, time.Millisecond); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}
	time.Sleep(5 * time.Millisecond)
	if rec, _, _, err := d.Load(ctx, key); err != nil || rec != nil {
		t.Fatalf("Load past the deadline = %q, %v; want absent", rec, err)
	}
	if _, err := direct.Get(DefaultPrefix + key); err != nil {
		t.Fatalf("memcached no longer holds the item (%v): the test needs it to", err)
	}
	if saved, err := d.Save(ctx, key, []byte("new"), 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save(version 0) over an expired item = %v, %v; want true, nil", saved, err)
	}
	if rec, _, _, err := d.Load(ctx, key); err != nil || string(rec) != "new" {
		t.Fatalf("Load = %q, %v; want new", rec, err)
	}
}

func TestItemLimit(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t, "-I", "1m")
	d := openDSN(t, "memcached://"+addr)
	key := sessionstest.Key(t)
	big := bytes.Repeat([]byte{'x'}, 2<<20)

	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: Save of %d bytes succeeded on a server with -I 1m", what, len(big))
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "memcached: save: record of 2097152 bytes is larger than the server accepts") {
			t.Fatalf("%s: error %q does not name the size and the limit", what, msg)
		}
	}

	// Creating a too-large record stores nothing.
	saved, err := d.Save(ctx, key, big, 0, time.Hour)
	check("create", err)
	if saved {
		t.Fatal("Save reported saved with an error")
	}
	if rec, _, _, err := d.Load(ctx, key); err != nil || rec != nil {
		t.Fatalf("Load after a refused create = %d bytes, %v; want absent", len(rec), err)
	}

	// Replacing a record with a too-large one keeps the old record.
	if saved, err := d.Save(ctx, key, []byte("small"), 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save(small) = %v, %v", saved, err)
	}
	_, v1, exp1, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Save(ctx, key, big, v1, time.Hour)
	check("update", err)
	rec, v2, exp2, err := d.Load(ctx, key)
	if err != nil || string(rec) != "small" || v2 != v1 || !exp2.Equal(exp1) {
		t.Fatalf("Load after a refused update = %q v%d %v, %v; want the old record v%d %v", rec, v2, exp2, err, v1, exp1)
	}
}

func TestCASDisabled(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t, "-C")
	d := openDSN(t, "memcached://"+addr)
	key := sessionstest.Key(t)
	if _, err := d.Save(ctx, key, []byte("x"), 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := d.Load(ctx, key)
	if err == nil || !strings.Contains(err.Error(), "-C") {
		t.Fatalf("Load from memcached -C = %v; want an error about CAS being disabled", err)
	}
}

func TestServerGone(t *testing.T) {
	t.Parallel()
	addr, proc := testserver.StartMemcached(t)
	const timeout = 300 * time.Millisecond
	d := openDSN(t, "memcached://"+addr+"?timeout=300ms")
	key := sessionstest.Key(t)

	// Fill the idle pool with several connections, which the stop makes stale.
	done := make(chan error)
	for range 8 {
		go func() {
			_, err := d.Save(ctx, sessionstest.Key(t), []byte("x"), 0, time.Hour)
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if saved, err := d.Save(ctx, key, []byte("before"), 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}

	proc.Stop()
	for i := range 3 {
		start := time.Now()
		_, _, _, lerr := d.Load(ctx, key)
		_, serr := d.Save(ctx, key, []byte("during"), 0, time.Hour)
		derr := d.Delete(ctx, key)
		if took := time.Since(start); took > 3*(2*timeout)+time.Second {
			t.Errorf("round %d: three calls to a stopped server took %v", i, took)
		}
		for op, err := range map[string]error{"load": lerr, "save": serr, "delete": derr} {
			if err == nil || !strings.HasPrefix(err.Error(), "memcached: "+op+": ") {
				t.Errorf("round %d: %s with the server stopped = %v; want a wrapped error", i, op, err)
			}
		}
	}

	proc.Restart(t)
	if err := testserver.WaitMemcached(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// The restarted server is empty; the same Driver works at once.
	if rec, _, _, err := d.Load(ctx, key); err != nil || rec != nil {
		t.Fatalf("Load after restart = %q, %v; want absent", rec, err)
	}
	if saved, err := d.Save(ctx, key, []byte("after"), 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save after restart = %v, %v", saved, err)
	}
	if rec, _, _, err := d.Load(ctx, key); err != nil || string(rec) != "after" {
		t.Fatalf("Load after restart = %q, %v", rec, err)
	}
}

func TestStaleConnectionsAfterRestart(t *testing.T) {
	t.Parallel()
	addr, proc := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr)
	key := sessionstest.Key(t)

	// Several idle connections, then a restart no call sees.
	done := make(chan error)
	for range 8 {
		go func() {
			_, _, _, err := d.Load(ctx, sessionstest.Key(t))
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	proc.Restart(t)
	if err := testserver.WaitMemcached(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// A load retries once on a fresh connection; the stale ones are dropped.
	if _, _, _, err := d.Load(ctx, key); err != nil {
		t.Fatalf("first Load after a restart: %v", err)
	}
	if saved, err := d.Save(ctx, key, []byte("x"), 0, time.Hour); err != nil || !saved {
		t.Fatalf("first Save after a restart = %v, %v", saved, err)
	}
}

func TestContextAndClose(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr)
	key := sessionstest.Key(t)

	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, _, err := d.Load(done, key); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "memcached: load: ") {
		t.Errorf("Load(cancelled) = %v", err)
	}
	if _, err := d.Save(done, key, nil, 0, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Save(cancelled) = %v", err)
	}
	if err := d.Delete(done, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete(cancelled) = %v", err)
	}
	if rec, _, _, err := d.Load(ctx, key); err != nil || rec != nil {
		t.Fatalf("a cancelled Save wrote: %q, %v", rec, err)
	}

	if _, err := d.Save(ctx, key, []byte("x"), 0, 0); err == nil {
		t.Error("Save with ttl 0 succeeded")
	}
	long := strings.Repeat("k", maxKey-len(DefaultPrefix)+1)
	if _, _, _, err := d.Load(ctx, long); err == nil || !strings.Contains(err.Error(), "250") {
		t.Errorf("Load(key too long with prefix) = %v; want an error naming the limit", err)
	}

	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := d.Load(ctx, key); err != ErrClosed || err.Error() != "memcached: driver closed" {
		t.Errorf("Load after Close = %v", err)
	}
	if err := d.Close(ctx); err != ErrClosed {
		t.Errorf("second Close = %v; want ErrClosed", err)
	}
}

func TestNewPanicsOnBadPrefix(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New with a prefix containing a space did not panic")
		}
	}()
	New(memcache.New("127.0.0.1:1"), Options{Prefix: "a b"})
}

func TestExpiration(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		ttl  time.Duration
		want int32
	}{
		{time.Millisecond, 2},
		{time.Second, 2},
		{time.Second + time.Nanosecond, 3},
		{time.Hour, 3601},
		{30*24*time.Hour - time.Second, maxRelative},
		{30 * 24 * time.Hour, int32(now.Unix()) + maxRelative + 1},
		{100 * 365 * 24 * time.Hour, 0},
	} {
		if got := expiration(now, c.ttl); got != c.want {
			t.Errorf("expiration(%v) = %d; want %d", c.ttl, got, c.want)
		}
	}
}
