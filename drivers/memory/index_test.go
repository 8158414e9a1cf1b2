package memory

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/sessionstest"
)

// TestIndexPerUserBound: a user past driver.MaxUserEntries live entries
// is refused a new one and keeps every entry, the first (oldest and
// soonest to expire) included, so RevokeUser still reaches every session.
func TestIndexPerUserBound(t *testing.T) {
	d := New(Options{SweepInterval: -1})
	defer d.Close(bg)
	user, refusal := sessionstest.TestUserBound(t, d, 1100)
	if !strings.HasPrefix(refusal.Error(), "memory: index: ") {
		t.Errorf("refusal %q does not name the driver and operation", refusal)
	}
	// Replacing an existing entry at the bound is not refused and drops
	// nothing.
	if err := d.IndexUser(bg, user, "k0500", time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(sessionstest.UserKeys(t, d, user)); n != driver.MaxUserEntries {
		t.Fatalf("re-indexing at the bound left %d entries", n)
	}
	if d.index.entries != driver.MaxUserEntries {
		t.Fatalf("entry count %d; want %d", d.index.entries, driver.MaxUserEntries)
	}
	// Once an entry expires, a new one fits.
	d.index.mu.Lock()
	d.index.users[user]["k0000"] = indexEntry{expires: time.Now().Add(-time.Second).UnixNano()}
	d.index.mu.Unlock()
	if err := d.IndexUser(bg, user, "new", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("IndexUser after an entry expired = %v", err)
	}
}

func TestIndexBound(t *testing.T) {
	d := New(Options{MaxEntries: 64, Shards: 1, SweepInterval: -1})
	defer d.Close(bg)
	if err := d.IndexUser(bg, "first", "k", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d.index.bound != MinIndexBound {
		t.Fatalf("bound = %d; want max(64, %d)", d.index.bound, MinIndexBound)
	}
	if err := d.UnindexUser(bg, "first", "k"); err != nil {
		t.Fatal(err)
	}
	const bound = 40
	d.index.bound = bound

	// Entries whose sessions the store does not hold go first, once they
	// are older than the grace; younger ones (a session indexed just
	// before its first save) stay.
	for i := 0; i < bound; i++ {
		if err := d.IndexUser(bg, fmt.Sprintf("ghost%d", i%7), fmt.Sprintf("g%d", i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.IndexUser(bg, "late", "k", time.Now().Add(time.Hour)); !errors.Is(err, driver.ErrUserIndexFull) {
		t.Fatalf("IndexUser into a full index of young entries = %v; want ErrUserIndexFull", err)
	}
	if n := len(sessionstest.UserKeys(t, d, "ghost0")); n != 6 || d.index.entries != bound {
		t.Fatalf("a refused IndexUser dropped young entries: %d of ghost0's 6 left, %d entries", n, d.index.entries)
	}
	age(d, indexGhostGrace+time.Second)
	live := make([]string, 0, bound)
	for i := 0; i < bound; i++ {
		k := fmt.Sprintf("live%d", i)
		live = append(live, k)
		if ok, err := d.Save(bg, k, []byte("x"), 0, time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	for i, k := range live {
		if err := d.IndexUser(bg, fmt.Sprintf("user%d", i%5), k, time.Now().Add(time.Hour+time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		if d.index.entries > bound {
			t.Fatalf("index holds %d entries; bound is %d", d.index.entries, bound)
		}
	}
	for i := 0; i < 7; i++ {
		if keys := sessionstest.UserKeys(t, d, fmt.Sprintf("ghost%d", i)); len(keys) != 0 {
			t.Fatalf("entries without a session survived the bound: %v", keys)
		}
	}
	n := 0
	for i := 0; i < 5; i++ {
		n += len(sessionstest.UserKeys(t, d, fmt.Sprintf("user%d", i)))
	}
	if n != bound {
		t.Fatalf("%d entries of live sessions kept; want all %d", n, bound)
	}

	// With every entry's session live, even old ones, the full index
	// refuses new entries and forgets none.
	age(d, indexGhostGrace+time.Second)
	if ok, err := d.Save(bg, "more", []byte("x"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	err := d.IndexUser(bg, "user0", "more", time.Now().Add(time.Hour))
	if !errors.Is(err, driver.ErrUserIndexFull) || !strings.HasPrefix(err.Error(), "memory: index: ") {
		t.Fatalf("IndexUser into an index full of live sessions = %v; want a memory: index: error wrapping ErrUserIndexFull", err)
	}
	n = 0
	for i := 0; i < 5; i++ {
		n += len(sessionstest.UserKeys(t, d, fmt.Sprintf("user%d", i)))
	}
	if n != bound || d.index.entries != bound {
		t.Fatalf("a refused IndexUser left %d entries of live sessions (count %d); want all %d", n, d.index.entries, bound)
	}
	// Expired entries make room again.
	d.index.mu.Lock()
	d.index.users["user1"]["live1"] = indexEntry{expires: time.Now().Add(-time.Second).UnixNano()}
	d.index.mu.Unlock()
	if err := d.IndexUser(bg, "user0", "more", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("IndexUser after an entry expired = %v", err)
	}
	count := 0
	for _, m := range d.index.users {
		count += len(m)
	}
	if count != d.index.entries {
		t.Fatalf("entry count %d, but the maps hold %d", d.index.entries, count)
	}
}

// age makes every index entry of d look written by ago earlier.
func age(d *Driver, ago time.Duration) {
	d.index.mu.Lock()
	defer d.index.mu.Unlock()
	for _, m := range d.index.users {
		for k, e := range m {
			e.added -= int64(ago)
			m[k] = e
		}
	}
}

func TestIndexPeriodicPrune(t *testing.T) {
	d := New(Options{SweepInterval: -1})
	defer d.Close(bg)
	for i := 0; i < 50; i++ {
		d.IndexUser(bg, fmt.Sprintf("gone%d", i), "k", time.Now().Add(time.Millisecond))
	}
	time.Sleep(5 * time.Millisecond)
	d.index.mu.Lock()
	d.index.lastPrune -= int64(2 * indexPruneEvery)
	d.index.mu.Unlock()
	if err := d.IndexUser(bg, "someone", "k", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if len(d.index.users) != 1 || d.index.entries != 1 {
		t.Fatalf("after the periodic prune: %d users, %d entries; want 1 and 1", len(d.index.users), d.index.entries)
	}
}

func TestIndexFarExpiries(t *testing.T) {
	d := New(Options{})
	defer d.Close(bg)
	for _, exp := range []time.Time{{}, time.Unix(-1<<40, 0), time.Unix(1<<40, 0)} {
		if err := d.IndexUser(bg, "u", "k", exp); err != nil {
			t.Fatal(err)
		}
	}
	if keys := sessionstest.UserKeys(t, d, "u"); len(keys) != 1 {
		t.Fatalf("an entry expiring in the far future is missing: %v", keys)
	}
	if err := d.IndexUser(bg, "u", "k", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if keys := sessionstest.UserKeys(t, d, "u"); len(keys) != 0 || d.index.entries != 0 {
		t.Fatalf("IndexUser with the zero time kept the entry: %v", keys)
	}
}

func TestIndexAndScanAfterClose(t *testing.T) {
	d := New(Options{})
	d.IndexUser(bg, "u", "k", time.Now().Add(time.Hour))
	d.Save(bg, "k", nil, 0, time.Hour)
	if err := d.Close(bg); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"IndexUser":   d.IndexUser(bg, "u", "k", time.Now().Add(time.Hour)),
		"UnindexUser": d.UnindexUser(bg, "u", "k"),
		"UserKeys":    func() error { _, err := d.UserKeys(bg, "u"); return err }(),
		"Scan":        d.Scan(bg, func(string) error { return nil }),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", name, err)
		}
	}
	if d.index.users != nil {
		t.Error("the index was kept after Close")
	}
	if err := d.IndexUser(bg, "", "k", time.Now()); err == nil {
		t.Error("IndexUser with an empty user succeeded")
	}

	// Close racing with index traffic never panics.
	d = New(Options{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				u := fmt.Sprint(w)
				d.IndexUser(bg, u, fmt.Sprint(i), time.Now().Add(time.Hour))
				d.UserKeys(bg, u)
				d.UnindexUser(bg, u, fmt.Sprint(i-1))
			}
		}()
	}
	time.Sleep(time.Millisecond)
	d.Close(bg)
	wg.Wait()
}

func TestScanStopsAtClose(t *testing.T) {
	d := New(Options{Shards: 4})
	for i := 0; i < 100; i++ {
		d.Save(bg, fmt.Sprint(i), nil, 0, time.Hour)
	}
	calls := 0
	err := d.Scan(bg, func(string) error {
		calls++
		if calls == 1 {
			return d.Close(bg)
		}
		return nil
	})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Scan across Close = %v after %d calls; want ErrClosed at the next shard", err, calls)
	}
}

func TestScanSkipsExpired(t *testing.T) {
	d := New(Options{SweepInterval: -1})
	defer d.Close(bg)
	d.Save(bg, "brief", nil, 0, time.Millisecond)
	d.Save(bg, "long", nil, 0, time.Hour)
	time.Sleep(5 * time.Millisecond)
	var got []string
	if err := d.Scan(bg, func(k string) error { got = append(got, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "long" {
		t.Fatalf("Scan passed %v; want only the live record", got)
	}
	if st := d.Stats(); st.Entries != 2 {
		t.Fatalf("Scan removed records: %+v", st)
	}
}
