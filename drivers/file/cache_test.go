package file

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginkit/sessions/sessionstest"
)

func skipWithoutCache(t *testing.T) {
	t.Helper()
	if !cacheSupported {
		t.Skip("no read cache on " + runtime.GOOS)
	}
}

// cachedDriver opens a Driver on dir and skips the test if it got no read
// cache (an unsupported system, or a network file system for t.TempDir).
func cachedDriver(t *testing.T, dir string, opts Options) *Driver {
	t.Helper()
	skipWithoutCache(t)
	d := newDriver(t, dir, opts)
	if d.cache == nil {
		t.Skip("no read cache for " + dir + " (network file system?)")
	}
	return d
}

func mustSave(t *testing.T, d *Driver, key string, rec []byte, version uint64, ttl time.Duration) {
	t.Helper()
	if ok, err := d.Save(bg, key, rec, version, ttl); err != nil || !ok {
		t.Fatalf("Save(%q, version %d) = %v, %v", rec, version, ok, err)
	}
}

func mustLoad(t *testing.T, d *Driver, key string) ([]byte, uint64, time.Time) {
	t.Helper()
	rec, ver, exp, err := d.Load(bg, key)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return rec, ver, exp
}

// expectLoad checks that d loads want under key and returns its version.
func expectLoad(t *testing.T, d *Driver, key string, want []byte) uint64 {
	t.Helper()
	rec, ver, exp, err := d.Load(bg, key)
	if err != nil || !bytes.Equal(rec, want) || ver == 0 || !exp.After(time.Now()) {
		t.Fatalf("Load = %q, %d, %v, %v; want %q", rec, ver, exp, err, want)
	}
	return ver
}

// sameBytes reports whether a and b share their first byte in memory.
func sameBytes(a, b []byte) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// TestReadCacheTwoDrivers has one Driver change a session in every way
// while another Driver on the same folder, with its own read cache, loads
// it after each change: the reader must see every change on its next
// Load, which only the stat identity can tell it (the writer's cache
// updates stay in the writer's Driver, as in another process).
func TestReadCacheTwoDrivers(t *testing.T) {
	dir := t.TempDir()
	w := newDriver(t, dir, Options{SweepInterval: -1})
	r := cachedDriver(t, dir, Options{SweepInterval: -1})
	key := sessionstest.Key(t)

	rec1 := []byte("record-one-0000")
	mustSave(t, w, key, rec1, 0, time.Hour)
	v1 := expectLoad(t, r, key, rec1)
	a, _, _ := mustLoad(t, r, key)
	b, _, _ := mustLoad(t, r, key)
	if !sameBytes(a, b) {
		t.Fatal("two Loads of an unchanged file did not share the cached record")
	}
	if cap(a) != len(a) {
		t.Fatalf("cached record has capacity %d for length %d; an append would write into the cache", cap(a), len(a))
	}

	// A replacement of the same size, written right after the first (well
	// within one millisecond of it, on a fast machine) and loaded at once.
	rec2 := []byte("record-two-0000")
	mustSave(t, w, key, rec2, v1, time.Hour)
	v2 := expectLoad(t, r, key, rec2)
	if v2 == v1 {
		t.Fatal("version unchanged after a save")
	}

	// Many back-to-back same-size saves in place, two between the reader's
	// Loads: the file keeps its inode and size, so only its time stamps
	// tell the reader that it changed.
	ver := v2
	for i := 0; i < 300; i++ {
		for j := 0; j < 2; j++ {
			rec := fmt.Appendf(nil, "record-%03d-%04d", i, j)
			mustSave(t, w, key, rec, ver, time.Hour)
			_, ver, _ = mustLoad(t, w, key)
		}
		if got := expectLoad(t, r, key, fmt.Appendf(nil, "record-%03d-0001", i)); got != ver {
			t.Fatalf("round %d: reader loaded version %d; the file holds %d", i, got, ver)
		}
	}

	// Touch: the same bytes and version, a new expiry.
	next := []byte("record-299-0001")
	_, _, exp0 := mustLoad(t, r, key)
	if err := w.Touch(bg, key, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	rec, v, exp := mustLoad(t, r, key)
	if !bytes.Equal(rec, next) || v != ver || !exp.After(exp0.Add(time.Hour)) {
		t.Fatalf("after Touch: Load = %q, %d, %v; want %q, %d and an expiry about 2h after %v", rec, v, exp, next, ver, exp0)
	}

	// Delete: absent at once, and the reader's entry goes.
	if err := w.Delete(bg, key); err != nil {
		t.Fatal(err)
	}
	expectAbsent(t, r, key)
	if r.cache.get(key) != nil {
		t.Fatal("the reader kept a cache entry for a deleted file")
	}

	// Re-created (version 0) with the same size.
	mustSave(t, w, key, rec1, 0, time.Hour)
	expectLoad(t, r, key, rec1)

	// Expiry comes from the stat, not from the cache.
	path := w.path(key)
	setExpiry(t, path, time.Now().Add(-time.Second))
	expectAbsent(t, r, key)

	// A sweep by the other Driver removes it; the reader sees it gone.
	mustSave(t, w, key, rec2, 0, time.Hour)
	expectLoad(t, r, key, rec2)
	setExpiry(t, path, time.Now().Add(-time.Second))
	if n, err := w.Sweep(bg); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 file removed", n, err)
	}
	expectAbsent(t, r, key)

	// A damaged replacement reads as absent and is not cached.
	mustSave(t, w, key, rec1, 0, time.Hour)
	expectLoad(t, r, key, rec1)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	bad[slotHeaderLen] ^= 0x40 // the record's first byte
	tmp := path + ".new"
	if err := os.WriteFile(tmp, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tmp, time.Time{}, time.Now().Add(time.Hour))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expectAbsent(t, r, key)
	if r.cache.get(key) != nil {
		t.Fatal("the reader cached a damaged file")
	}
}

// TestReadCacheOwnChanges checks that a Driver's own Save, Touch, Delete
// and Sweep keep its cache current without a read.
func TestReadCacheOwnChanges(t *testing.T) {
	d := cachedDriver(t, t.TempDir(), Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	rec := []byte("written by this driver")
	mustSave(t, d, key, rec, 0, time.Hour)
	e := d.cache.get(key)
	if e == nil {
		t.Fatal("Save left no cache entry")
	}
	got, ver, _ := mustLoad(t, d, key)
	if !sameBytes(got, rec) || ver != e.version {
		t.Fatalf("Load after Save = %q, %d; want the saved slice itself with version %d", got, ver, e.version)
	}

	if err := d.Touch(bg, key, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	e2 := d.cache.get(key)
	if e2 == nil || e2.id == e.id || e2.version != e.version {
		t.Fatalf("after Touch the entry is %+v; want the same record under the file's new identity", e2)
	}
	got, ver2, exp := mustLoad(t, d, key)
	if !sameBytes(got, rec) || ver2 != ver || time.Until(exp) < 90*time.Minute {
		t.Fatalf("Load after Touch = %q, %d, %v", got, ver2, exp)
	}

	// A conflicting Save leaves what it read in the cache.
	if ok, err := d.Save(bg, key, []byte("x"), ver+1, time.Hour); err != nil || ok {
		t.Fatalf("Save with a wrong version = %v, %v", ok, err)
	}
	if e3 := d.cache.get(key); e3 == nil || e3.version != ver || !bytes.Equal(e3.record, rec) {
		t.Fatalf("after a conflict the entry is %+v", e3)
	}

	if err := d.Delete(bg, key); err != nil {
		t.Fatal(err)
	}
	if d.cache.get(key) != nil {
		t.Fatal("Delete left a cache entry")
	}
	expectAbsent(t, d, key)

	// Sweep drops expired entries even when the file is already gone.
	os.Remove(d.path(key)) // gone already, say removed by another process
	d.cache.put(key, fileID{mtime: time.Now().Add(-time.Second).UnixNano() | 1}, rec, 1, time.Now().UnixNano())
	if _, err := d.Sweep(bg); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.cache.stats(); n != 0 {
		t.Fatalf("%d entries after Sweep; want 0", n)
	}
}

// TestReadCacheCoarseTimestamps: a file whose modification time is a
// whole number of milliseconds (as every file on a file system with coarse
// time stamps) is read but never cached.
func TestReadCacheCoarseTimestamps(t *testing.T) {
	dir := t.TempDir()
	w := newDriver(t, dir, Options{SweepInterval: -1})
	r := cachedDriver(t, dir, Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	mustSave(t, w, key, []byte("coarse"), 0, time.Hour)
	whole := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	setExpiry(t, w.path(key), whole)
	expectLoad(t, r, key, []byte("coarse"))
	if r.cache.get(key) != nil {
		t.Fatal("a file with a whole-millisecond modification time was cached")
	}
	// After a Touch and a Save (fine time stamps again) the reader still
	// follows every change.
	_, ver, _ := mustLoad(t, w, key)
	setExpiry(t, w.path(key), whole)
	if err := w.Touch(bg, key, time.Hour); err != nil {
		t.Fatal(err)
	}
	expectLoad(t, r, key, []byte("coarse"))
	mustSave(t, w, key, []byte("coarse2"), ver, time.Hour)
	expectLoad(t, r, key, []byte("coarse2"))
}

// TestReadCacheOtherProcess changes the session from a child process
// between the parent's Loads.
func TestReadCacheOtherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	d := cachedDriver(t, dir, Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	mustSave(t, d, key, []byte("parent-0"), 0, time.Hour)
	for i := 1; i <= 4; i++ {
		expectLoad(t, d, key, fmt.Appendf(nil, "parent-%d", i-1))
		want := fmt.Sprintf("child-%02d", i) // the same size as the parent's
		out, err := helper("save", dir, key, "HELPER_REC="+want).CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		expectLoad(t, d, key, []byte(want))
		_, ver, _ := mustLoad(t, d, key)
		mustSave(t, d, key, fmt.Appendf(nil, "parent-%d", i), ver, time.Hour)
	}
	out, err := helper("delete", dir, key).CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	expectAbsent(t, d, key)
}

// TestReadCacheMonotonic has writers increment a counter through one
// Driver while readers load it through another: a reader must never see
// the counter go back, which a stale hit would show.
func TestReadCacheMonotonic(t *testing.T) {
	dir := t.TempDir()
	w := newDriver(t, dir, Options{SweepInterval: -1})
	r := cachedDriver(t, dir, Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	mustSave(t, w, key, make([]byte, 8), 0, time.Hour)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for !stop.Load() {
				rec, _, _, err := r.Load(bg, key)
				if err != nil || len(rec) != 8 {
					t.Errorf("Load = %x, %v", rec, err)
					return
				}
				n := binary.BigEndian.Uint64(rec)
				if n < last {
					t.Errorf("counter went back from %d to %d", last, n)
					return
				}
				last = n
			}
		}()
	}
	var ww sync.WaitGroup
	for i := 0; i < 2; i++ {
		ww.Add(1)
		go func() {
			defer ww.Done()
			if err := increment(w, key, 50); err != nil {
				t.Error(err)
			}
		}()
	}
	ww.Wait()
	stop.Store(true)
	wg.Wait()
	if n := counter(t, r, key); n != 100 {
		t.Fatalf("reader sees %d after 100 increments", n)
	}
}

func TestReadCacheBounded(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		d := cachedDriver(t, t.TempDir(), Options{SweepInterval: -1, ReadCache: 10})
		keys := make([]string, 100)
		for i := range keys {
			keys[i] = sessionstest.Key(t)
			mustSave(t, d, keys[i], fmt.Appendf(nil, "rec %d", i), 0, time.Hour)
			if n, _ := d.cache.stats(); n > 10 {
				t.Fatalf("%d entries after %d saves; bound 10", n, i+1)
			}
		}
		for round := 0; round < 3; round++ {
			for i, k := range keys {
				expectLoad(t, d, k, fmt.Appendf(nil, "rec %d", i))
				if n, _ := d.cache.stats(); n > 10 {
					t.Fatalf("%d entries; bound 10", n)
				}
			}
		}
		if n, _ := d.cache.stats(); n != 10 {
			t.Fatalf("%d entries after loading 100 keys; want the bound, 10", n)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		const bound = 64 << 10
		d := cachedDriver(t, t.TempDir(), Options{SweepInterval: -1, ReadCacheBytes: bound})
		rec := bytes.Repeat([]byte("x"), 300)
		for i := 0; i < 400; i++ {
			key := sessionstest.Key(t)
			mustSave(t, d, key, rec, 0, time.Hour)
			expectLoad(t, d, key, rec)
			if _, b := d.cache.stats(); b > bound {
				t.Fatalf("%d bytes cached; bound %d", b, bound)
			}
		}
		n, b := d.cache.stats()
		if n == 0 || n >= 400 || b > bound {
			t.Fatalf("%d entries, %d bytes cached; want some, within %d bytes", n, b, bound)
		}
		// A record above a shard's share of the bound is never cached.
		big := bytes.Repeat([]byte("y"), bound/maxCacheShards+1)
		key := sessionstest.Key(t)
		mustSave(t, d, key, big, 0, time.Hour)
		expectLoad(t, d, key, big)
		if d.cache.get(key) != nil {
			t.Fatal("a record larger than a shard's byte bound was cached")
		}
	})
	t.Run("small bound", func(t *testing.T) {
		// Fewer entries than shards: still exact.
		d := cachedDriver(t, t.TempDir(), Options{SweepInterval: -1, ReadCache: 3})
		for i := 0; i < 50; i++ {
			key := sessionstest.Key(t)
			mustSave(t, d, key, []byte("r"), 0, time.Hour)
			expectLoad(t, d, key, []byte("r"))
		}
		if n, _ := d.cache.stats(); n != 3 {
			t.Fatalf("%d entries; want 3", n)
		}
	})
	t.Run("eviction order", func(t *testing.T) {
		c := newReadCache(3, 1<<20)
		c.shards = c.shards[:1] // one shard of 3 entries
		c.shards[0].maxEntries = 3
		now := time.Now().UnixNano()
		later := now + int64(time.Hour) + 1
		c.put("old", fileID{ino: 1, mtime: later}, []byte("1"), 1, now-int64(time.Minute))
		c.put("expired", fileID{ino: 2, mtime: now - 1}, []byte("2"), 2, now)
		c.put("recent", fileID{ino: 3, mtime: later}, []byte("3"), 3, now)
		c.put("new", fileID{ino: 4, mtime: later}, []byte("4"), 4, now)
		if c.get("expired") != nil || c.get("old") == nil {
			t.Fatal("eviction did not take the expired entry first")
		}
		c.put("newer", fileID{ino: 5, mtime: later}, []byte("5"), 5, now)
		if c.get("old") != nil || c.get("recent") == nil || c.get("new") == nil || c.get("newer") == nil {
			t.Fatal("eviction did not take the least recently used entry")
		}
		if n, b := c.stats(); n != 3 || b != int64(len("recent")+len("new")+len("newer")+3*(1+entryOverhead)) {
			t.Fatalf("stats = %d entries, %d bytes", n, b)
		}
	})
}

func TestReadCacheOff(t *testing.T) {
	for _, opts := range []Options{{ReadCache: -1}, {ReadCacheBytes: -1}} {
		d := newDriver(t, t.TempDir(), Options{SweepInterval: -1, ReadCache: opts.ReadCache, ReadCacheBytes: opts.ReadCacheBytes})
		if d.cache != nil {
			t.Fatalf("%+v: the driver has a read cache", opts)
		}
		key := sessionstest.Key(t)
		mustSave(t, d, key, []byte("uncached"), 0, time.Hour)
		a := expectLoadSlice(t, d, key)
		b := expectLoadSlice(t, d, key)
		if sameBytes(a, b) {
			t.Fatalf("%+v: two Loads returned one slice without a cache", opts)
		}
	}
	skipWithoutCache(t)
	if d := newDriver(t, t.TempDir(), Options{SweepInterval: -1}); d.cache == nil && !networkFS(d.Dir()) {
		t.Fatal("the read cache is off by default")
	}
}

func expectLoadSlice(t *testing.T, d *Driver, key string) []byte {
	t.Helper()
	rec, _, _ := mustLoad(t, d, key)
	if rec == nil {
		t.Fatal("Load found nothing")
	}
	return rec
}

func TestDSNReadCache(t *testing.T) {
	good := map[string]Options{
		"read_cache=500":                     {ReadCache: 500},
		"read_cache=0":                       {ReadCache: -1},
		"read_cache_bytes=4096":              {ReadCacheBytes: 4096},
		"read_cache_bytes=512KiB":            {ReadCacheBytes: 512 << 10},
		"read_cache_bytes=64MiB":             {ReadCacheBytes: 64 << 20},
		"read_cache_bytes=2GiB":              {ReadCacheBytes: 2 << 30},
		"read_cache=20&sync=true":            {ReadCache: 20, Sync: true},
		"read_cache=0&read_cache_bytes=1KiB": {ReadCache: -1, ReadCacheBytes: 1 << 10},
	}
	for q, want := range good {
		u, err := url.Parse("file:///srv/s?" + q)
		if err != nil {
			t.Fatal(err)
		}
		_, opts, err := parseDSN(u)
		if err != nil || opts != want {
			t.Errorf("parseDSN(?%s) = %+v, %v; want %+v", q, opts, err, want)
		}
	}
	bad := map[string]string{
		"read_cache=-1":                         `"read_cache": "-1"`,
		"read_cache=lots":                       `"read_cache": "lots"`,
		"read_cache=":                           `"read_cache": ""`,
		"read_cache=1e4":                        `"read_cache": "1e4"`,
		"read_cache=1&read_cache=2":             `"read_cache": given 2 times`,
		"read_cache_bytes=0":                    `"read_cache_bytes": "0"`,
		"read_cache_bytes=-5":                   `"read_cache_bytes": "-5"`,
		"read_cache_bytes=%2B5":                 `"read_cache_bytes": "+5"`,
		"read_cache_bytes=64MB":                 `"read_cache_bytes": "64MB"`,
		"read_cache_bytes=1.5MiB":               `"read_cache_bytes": "1.5MiB"`,
		"read_cache_bytes=MiB":                  `"read_cache_bytes": "MiB"`,
		"read_cache_bytes=64%20MiB":             `"read_cache_bytes": "64 MiB"`,
		"read_cache_bytes=9999999999999GiB":     `"read_cache_bytes": "9999999999999GiB"`,
		"read_cache_bytes=99999999999999999999": `"read_cache_bytes": "99999999999999999999"`,
		"readcache=1":                           `option "readcache": unknown; known options: read_cache, read_cache_bytes, sweep_interval, sync`,
	}
	for q, mention := range bad {
		u, err := url.Parse("file:///srv/s?" + q)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(u)
		if err == nil || !strings.Contains(err.Error(), mention) || !strings.HasPrefix(err.Error(), "file: ") {
			t.Errorf("Open(?%s) = %v; want an error mentioning %s", q, err, mention)
		}
	}
	// read_cache=0 opens a Driver without a cache.
	u := &url.URL{Scheme: "file", Path: t.TempDir(), RawQuery: "read_cache=0"}
	d, err := Open(u)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(bg)
	if d.cache != nil {
		t.Fatal("read_cache=0 left the read cache on")
	}
}

// BenchmarkLoad measures Load of one unchanged session: with the read
// cache (a stat and a map lookup) and without (open, stat, read, close).
func BenchmarkLoad(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
		keys  int
	}{{"cache", 0, 1000}, {"nocache", -1, 1000}, {"cachemiss", 1000, 20000}} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := New(b.TempDir(), Options{SweepInterval: -1, ReadCache: bc.cache})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close(bg)
			keys := make([]string, bc.keys)
			for i := range keys {
				keys[i] = sessionstest.Key(b)
				if ok, err := d.Save(bg, keys[i], make([]byte, 250), 0, time.Hour); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(len(keys))
				for pb.Next() {
					if rec, _, _, err := d.Load(bg, keys[i%len(keys)]); err != nil || rec == nil {
						b.Error(rec, err)
						return
					}
					i += 7919 // a prime: the keys in an order no cache follows
				}
			})
		})
	}
}
