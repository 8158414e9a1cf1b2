package memory

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginkit/sessions/sessionstest"
)

var bg = context.Background()

func TestConformance(t *testing.T) {
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		return New(Options{})
	}, sessionstest.Options{})
}

func TestConformanceTinyStore(t *testing.T) {
	// One shard with room for a handful of records: the suite never holds
	// more than two keys at once, so nothing it needs gets evicted.
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		return New(Options{MaxEntries: 4, Shards: 1, SweepInterval: 10 * time.Millisecond})
	}, sessionstest.Options{})
}

func TestBound(t *testing.T) {
	const max = 1000
	d := New(Options{MaxEntries: max, SweepInterval: -1})
	defer d.Close(bg)
	for i := 0; i < 3*max; i++ {
		key := fmt.Sprintf("key-%d", i)
		if ok, err := d.Save(bg, key, []byte("x"), 0, time.Hour); err != nil || !ok {
			t.Fatalf("Save(%s) = %v, %v", key, ok, err)
		}
		if i%50 == 0 {
			if n := d.Stats().Entries; n > max {
				t.Fatalf("after %d saves the store holds %d entries; bound is %d", i+1, n, max)
			}
		}
	}
	st := d.Stats()
	if st.Entries > max {
		t.Fatalf("store holds %d entries; bound is %d", st.Entries, max)
	}
	// Every new key either took a free slot or evicted exactly one record.
	if got := uint64(st.Entries) + st.Evictions; got != 3*max {
		t.Fatalf("Entries %d + Evictions %d = %d; want %d", st.Entries, st.Evictions, got, 3*max)
	}
	if st.Evictions < 2*max-64 {
		t.Fatalf("Evictions = %d; want about %d", st.Evictions, 2*max)
	}
	if st.Expired != 0 {
		t.Fatalf("Expired = %d; want 0", st.Expired)
	}
}

func TestBoundConcurrent(t *testing.T) {
	const max = 100
	d := New(Options{MaxEntries: max, Shards: 8, SweepInterval: -1})
	defer d.Close(bg)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var over int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := d.Stats().Entries; n > max {
				over = n
			}
		}
	}()
	var writers sync.WaitGroup
	for w := 0; w < 8; w++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := 0; i < 500; i++ {
				if _, err := d.Save(bg, fmt.Sprintf("w%d-%d", w, i), nil, 0, time.Hour); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	if over != 0 {
		t.Fatalf("store held %d entries; bound is %d", over, max)
	}
	if st := d.Stats(); uint64(st.Entries)+st.Evictions != 8*500 {
		t.Fatalf("Entries %d + Evictions %d; want %d", st.Entries, st.Evictions, 8*500)
	}
}

func TestBoundSplitsExactly(t *testing.T) {
	// 1000 does not divide by 64: per-shard ceilings would allow 1024.
	for _, tc := range []struct{ max, shards, wantShards int }{
		{1000, 64, 64}, {1000, 0, 64}, {3, 64, 2}, {1, 0, 1}, {7, 5, 4}, {100, 100000, 64},
	} {
		d := New(Options{MaxEntries: tc.max, Shards: tc.shards, SweepInterval: -1})
		total := 0
		for i := range d.shards {
			if d.shards[i].cap < 1 {
				t.Errorf("%+v: shard %d has room for %d", tc, i, d.shards[i].cap)
			}
			total += d.shards[i].cap
		}
		if total != tc.max {
			t.Errorf("%+v: shard capacities sum to %d", tc, total)
		}
		if len(d.shards) != tc.wantShards && tc.shards != 100000 {
			t.Errorf("%+v: %d shards; want %d", tc, len(d.shards), tc.wantShards)
		}
		d.Close(bg)
	}
	d := New(Options{})
	if got := len(d.shards); got != DefaultShards {
		t.Errorf("default shards = %d", got)
	}
	total := 0
	for i := range d.shards {
		total += d.shards[i].cap
	}
	if total != DefaultMaxEntries {
		t.Errorf("default bound = %d", total)
	}
	d.Close(bg)
}

func TestEvictsEarliestExpiry(t *testing.T) {
	// One shard of four: the sample covers the whole shard, so the record
	// expiring soonest must be the one evicted.
	d := New(Options{MaxEntries: 4, Shards: 1, SweepInterval: -1})
	defer d.Close(bg)
	ttls := map[string]time.Duration{"b": 2 * time.Hour, "a": time.Hour, "d": 4 * time.Hour, "c": 3 * time.Hour}
	for k, ttl := range ttls {
		if ok, err := d.Save(bg, k, []byte(k), 0, ttl); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if ok, err := d.Save(bg, "e", []byte("e"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if rec, _, _, _ := d.Load(bg, "a"); rec != nil {
		t.Fatalf("record a (earliest expiry) survived")
	}
	for _, k := range []string{"b", "c", "d", "e"} {
		if rec, _, _, _ := d.Load(bg, k); string(rec) != k {
			t.Fatalf("record %s was lost", k)
		}
	}
	if st := d.Stats(); st.Evictions != 1 || st.Entries != 4 {
		t.Fatalf("Stats = %+v; want 4 entries, 1 eviction", st)
	}
	// Updating an existing key in a full shard evicts nothing.
	_, v, _, _ := d.Load(bg, "b")
	if ok, err := d.Save(bg, "b", []byte("b2"), v, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if st := d.Stats(); st.Evictions != 1 {
		t.Fatalf("update of a present key evicted: %+v", st)
	}
}

func TestFullShardDropsExpiredFirst(t *testing.T) {
	d := New(Options{MaxEntries: 4, Shards: 1, SweepInterval: -1})
	defer d.Close(bg)
	d.Save(bg, "short", []byte("s"), 0, time.Millisecond)
	for _, k := range []string{"a", "b", "c"} {
		d.Save(bg, k, []byte(k), 0, time.Hour)
	}
	time.Sleep(5 * time.Millisecond)
	if ok, err := d.Save(bg, "new", []byte("n"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	st := d.Stats()
	if st.Evictions != 0 || st.Expired != 1 || st.Entries != 4 {
		t.Fatalf("Stats = %+v; want the expired record dropped and nothing evicted", st)
	}
}

func TestJanitor(t *testing.T) {
	d := New(Options{SweepInterval: 10 * time.Millisecond})
	defer d.Close(bg)
	for i := 0; i < 100; i++ {
		d.Save(bg, fmt.Sprintf("short-%d", i), []byte("x"), 0, 30*time.Millisecond)
	}
	d.Save(bg, "long", []byte("x"), 0, time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for d.Stats().Entries != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("janitor did not remove expired entries: %+v", d.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := d.Stats(); st.Expired != 100 || st.Evictions != 0 {
		t.Fatalf("Stats = %+v; want 100 expired, no evictions", st)
	}
	if rec, _, _, _ := d.Load(bg, "long"); rec == nil {
		t.Fatal("live record removed by the janitor")
	}
}

// TestSweep runs the sweep by hand with the janitor off: it removes
// exactly the expired records, keeps the live ones readable, counts what
// it removed, and reports a canceled context and a closed driver.
func TestSweep(t *testing.T) {
	d := New(Options{SweepInterval: -1})
	for i := 0; i < 100; i++ {
		d.Save(bg, fmt.Sprintf("short-%d", i), []byte("x"), 0, time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		d.Save(bg, fmt.Sprintf("long-%d", i), []byte("x"), 0, time.Hour)
	}
	time.Sleep(5 * time.Millisecond)
	if n, err := d.Sweep(bg); err != nil || n != 100 {
		t.Fatalf("Sweep = %d, %v; want the 100 expired records removed", n, err)
	}
	if st := d.Stats(); st.Entries != 10 || st.Expired != 100 {
		t.Fatalf("Stats after Sweep = %+v; want 10 entries, 100 expired", st)
	}
	for i := 0; i < 10; i++ {
		if rec, _, _, _ := d.Load(bg, fmt.Sprintf("long-%d", i)); rec == nil {
			t.Fatalf("Sweep removed live record long-%d", i)
		}
	}
	if n, err := d.Sweep(bg); err != nil || n != 0 {
		t.Fatalf("second Sweep = %d, %v; want nothing left to remove", n, err)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := d.Sweep(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sweep(canceled) = %v", err)
	}
	d.Close(bg)
	if _, err := d.Sweep(bg); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sweep after Close = %v; want ErrClosed", err)
	}
}

func TestCloseStopsJanitor(t *testing.T) {
	waitGoroutines := func(want int) int {
		var n int
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if n = runtime.NumGoroutine(); n <= want {
				return n
			}
		}
		return n
	}
	base := waitGoroutines(runtime.NumGoroutine())
	var ds []*Driver
	for i := 0; i < 5; i++ {
		ds = append(ds, New(Options{SweepInterval: time.Millisecond}))
	}
	if n := runtime.NumGoroutine(); n < base+5 {
		t.Fatalf("expected 5 janitors: %d goroutines, baseline %d", n, base)
	}
	for _, d := range ds {
		if err := d.Close(bg); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if n := waitGoroutines(base); n > base {
		t.Fatalf("%d goroutines after Close; baseline %d", n, base)
	}
	// Without a janitor, Close has nothing to wait for.
	d := New(Options{SweepInterval: -1})
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("SweepInterval<0 started a goroutine")
	}
	if err := d.Close(bg); err != nil {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	d := New(Options{})
	d.Save(bg, "k", []byte("x"), 0, time.Hour)
	if err := d.Close(bg); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(bg); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v; want ErrClosed", err)
	}
	if _, _, _, err := d.Load(bg, "k"); !errors.Is(err, ErrClosed) || err.Error() != "memory: driver closed" {
		t.Fatalf("Load after Close = %v", err)
	}
	if _, err := d.Save(bg, "k", nil, 0, time.Hour); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close = %v", err)
	}
	if err := d.Touch(bg, "k", time.Hour); !errors.Is(err, ErrClosed) {
		t.Fatalf("Touch after Close = %v", err)
	}
	if err := d.Delete(bg, "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Delete after Close = %v", err)
	}
	if st := d.Stats(); st.Entries != 0 {
		t.Fatalf("Stats after Close = %+v", st)
	}
	// Close racing with traffic never panics.
	d = New(Options{SweepInterval: time.Millisecond})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := fmt.Sprint(w, i)
				d.Save(bg, k, nil, 0, time.Hour)
				d.Load(bg, k)
				d.Touch(bg, k, time.Hour)
				d.Delete(bg, k)
			}
		}()
	}
	time.Sleep(time.Millisecond)
	d.Close(bg)
	wg.Wait()
}

func TestTouchKeepsVersion(t *testing.T) {
	d := New(Options{})
	defer d.Close(bg)
	rec := []byte("r")
	d.Save(bg, "k", rec, 0, time.Minute)
	got, v1, e1, _ := d.Load(bg, "k")
	if &got[0] != &rec[0] {
		t.Errorf("Load returned a copy; the driver keeps the caller's slice")
	}
	if err := d.Touch(bg, "k", time.Hour); err != nil {
		t.Fatal(err)
	}
	_, v2, e2, _ := d.Load(bg, "k")
	if v1 != v2 || e2.Sub(e1) < 50*time.Minute {
		t.Fatalf("Touch: version %d→%d, expiry %v→%v", v1, v2, e1, e2)
	}
	if err := d.Touch(bg, "missing", time.Hour); err != nil {
		t.Fatal(err)
	}
	if rec, _, _, _ := d.Load(bg, "missing"); rec != nil {
		t.Fatal("Touch created a record")
	}
	if err := d.Touch(bg, "k", 0); err == nil {
		t.Fatal("Touch with ttl 0 succeeded")
	}
	if _, err := d.Save(bg, "k", nil, v2, -time.Second); err == nil {
		t.Fatal("Save with negative ttl succeeded")
	}
}

func TestCanceledContext(t *testing.T) {
	d := New(Options{})
	defer d.Close(bg)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, _, _, err := d.Load(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load(canceled) = %v", err)
	}
	if _, err := d.Save(ctx, "k", nil, 0, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save(canceled) = %v", err)
	}
}

func TestOpenDSN(t *testing.T) {
	good := []struct {
		dsn  string
		want Options
	}{
		{"memory://", Options{}},
		{"memory:", Options{}},
		{"memory://?max_entries=500", Options{MaxEntries: 500}},
		{"memory://?shards=16&sweep_interval=30s", Options{Shards: 16, SweepInterval: 30 * time.Second}},
		{"memory://?max_entries=10&shards=4&sweep_interval=-1s", Options{MaxEntries: 10, Shards: 4, SweepInterval: -time.Second}},
	}
	for _, tc := range good {
		u, err := url.Parse(tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseDSN(u)
		if err != nil || got != tc.want {
			t.Errorf("parseDSN(%q) = %+v, %v; want %+v", tc.dsn, got, err, tc.want)
		}
		d, err := Open(u)
		if err != nil {
			t.Errorf("Open(%q): %v", tc.dsn, err)
			continue
		}
		d.Close(bg)
	}
	bad := []struct{ dsn, mention string }{
		{"memory://foo", "host or path"},
		{"memory:///foo", "host or path"},
		{"memory://user@", "host or path"},
		{"memory:foo", "host or path"},
		{"memory://?max_size=1", `"max_size"`},
		{"memory://?max_entries=abc", `"max_entries": "abc"`},
		{"memory://?max_entries=0", `"max_entries": "0"`},
		{"memory://?max_entries=-5", `"max_entries": "-5"`},
		{"memory://?shards=0", `"shards": "0"`},
		{"memory://?shards=1000000", `"shards": "1000000"`},
		{"memory://?sweep_interval=10", `"sweep_interval": "10"`},
		{"memory://?max_entries=1&max_entries=2", `"max_entries": given 2 times`},
		{"memory://?max_entries=%zz", "query"},
	}
	for _, tc := range bad {
		u, err := url.Parse(tc.dsn)
		if err != nil {
			// A DSN the URL parser itself rejects never reaches Open.
			continue
		}
		d, err := Open(u)
		if err == nil {
			d.Close(bg)
			t.Errorf("Open(%q) succeeded; want an error", tc.dsn)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) || !strings.HasPrefix(err.Error(), "memory: ") {
			t.Errorf("Open(%q) = %v; want an error mentioning %s", tc.dsn, err, tc.mention)
		}
	}
	if _, err := Open(nil); err == nil {
		t.Error("Open(nil) succeeded")
	}
}

func BenchmarkSaveLoad(b *testing.B) {
	d := New(Options{})
	defer d.Close(bg)
	rec := make([]byte, 512)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := fmt.Sprint(i % 5000)
			i++
			_, v, _, _ := d.Load(bg, k)
			d.Save(bg, k, rec, v, time.Hour)
		}
	})
}
