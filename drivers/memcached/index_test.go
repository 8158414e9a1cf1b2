package memcached

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

func TestNoScan(t *testing.T) {
	var d any = &Driver{}
	if _, ok := d.(sessionstest.Scanner); ok {
		t.Fatal("the memcached driver claims to enumerate its items; memcached cannot")
	}
	if _, ok := d.(sessionstest.UserIndexer); !ok {
		t.Fatal("the memcached driver does not implement the user index")
	}
}

func TestIndexStorage(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr+"?prefix=ix:")
	direct := memcache.New(addr)
	t.Cleanup(func() { _ = direct.Close() })

	user := sessionstest.Key(t)
	k1, k2 := sessionstest.Key(t), sessionstest.Key(t)
	exp1, exp2 := time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
	for k, exp := range map[string]time.Time{k1: exp1, k2: exp2} {
		if err := d.IndexUser(ctx, user, k, exp); err != nil {
			t.Fatal(err)
		}
	}
	it, err := direct.Get("ix:u:" + user)
	if err != nil {
		t.Fatalf("index item: %v", err)
	}
	entries, ok := decodeIndex(it)
	if !ok || it.Flags != indexFlags || len(entries) != 2 {
		t.Fatalf("index item flags %#x, entries %v, ok %v", it.Flags, entries, ok)
	}
	for _, e := range entries {
		if want := map[string]int64{k1: exp1.UnixMilli(), k2: exp2.UnixMilli()}[e.Key]; e.Expires != want {
			t.Errorf("entry expires %d; want %d", e.Expires, want)
		}
	}
	// Removing every entry makes the item expire at once.
	for _, k := range []string{k1, k2} {
		if err := d.UnindexUser(ctx, user, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := direct.Get("ix:u:" + user); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("index item without entries: %v; want a miss", err)
	}
	// An entry dead on arrival leaves no item.
	if err := d.IndexUser(ctx, user, k1, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Get("ix:u:" + user); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("IndexUser with a past expiry left an item: %v", err)
	}
	// The item expires in memcached with its last entry (rounded up to
	// seconds, plus one).
	if err := d.IndexUser(ctx, user, k1, time.Now().Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := direct.Get("ix:u:" + user)
		if errors.Is(err, memcache.ErrCacheMiss) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("index item still held 5s after its last entry expired: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIndexCorruptItem(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr)
	direct := memcache.New(addr)
	t.Cleanup(func() { _ = direct.Close() })
	for name, it := range map[string]*memcache.Item{
		"other flags": {Value: encodeIndex([]indexEntry{{Key: "k", Expires: time.Now().Add(time.Hour).UnixMilli()}}), Flags: 7},
		"truncated":   {Value: []byte{5, 'a', 'b'}, Flags: indexFlags},
		"zero length": {Value: make([]byte, 9), Flags: indexFlags},
	} {
		user := sessionstest.Key(t)
		it.Key = DefaultPrefix + "u:" + user
		if err := direct.Set(it); err != nil {
			t.Fatal(err)
		}
		if keys := sessionstest.UserKeys(t, d, user); len(keys) != 0 {
			t.Errorf("%s: UserKeys = %v; want empty", name, keys)
		}
		if err := d.IndexUser(ctx, user, "fresh", time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("%s: IndexUser = %v", name, err)
		}
		if keys := sessionstest.UserKeys(t, d, user); !slices.Equal(keys, []string{"fresh"}) {
			t.Errorf("%s: after IndexUser, UserKeys = %v; want the corrupt item replaced", name, keys)
		}
	}
}

// TestIndexBound: a user past driver.MaxUserEntries live entries is
// refused a new one and keeps every entry, the first (oldest and soonest
// to expire) included, so RevokeUser still reaches every session; a full
// index of the longest keys fits in one item.
func TestIndexBound(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	d := openDSN(t, "memcached://"+addr)
	user, refusal := sessionstest.TestUserBound(t, d, 1100)
	if !strings.HasPrefix(refusal.Error(), "memcached: index: ") {
		t.Errorf("refusal %q does not name the driver and operation", refusal)
	}
	// Replacing an entry's expiry at the bound is not refused.
	if err := d.IndexUser(ctx, user, "k0000", time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(sessionstest.UserKeys(t, d, user)); n != driver.MaxUserEntries {
		t.Fatalf("re-indexing at the bound left %d entries", n)
	}

	long := sessionstest.Key(t)
	for i := 0; i < driver.MaxUserEntries; i++ {
		if err := d.IndexUser(ctx, long, fmt.Sprintf("%0250d", i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(sessionstest.UserKeys(t, d, long)); n != driver.MaxUserEntries {
		t.Fatalf("a full index of the longest keys reads as %d entries", n)
	}
}

// TestIndexContention runs concurrent IndexUser and UnindexUser calls for
// one user through two drivers with separate clients, as two processes
// would, and checks the outcome is exactly what was asked.
func TestIndexContention(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	a := openDSN(t, "memcached://"+addr)
	b := openDSN(t, "memcached://"+addr)
	user := sessionstest.Key(t)
	const n = 40
	for i := 0; i < n; i += 2 {
		if err := a.IndexUser(ctx, user, fmt.Sprintf("old%02d", i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		d := a
		if i%2 == 1 {
			d = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				err = d.UnindexUser(ctx, user, fmt.Sprintf("old%02d", i))
			} else {
				err = d.IndexUser(ctx, user, fmt.Sprintf("new%02d", i), time.Now().Add(time.Hour))
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var want []string
	for i := 1; i < n; i += 2 {
		want = append(want, fmt.Sprintf("new%02d", i))
	}
	if got := sessionstest.UserKeys(t, a, user); !slices.Equal(got, want) {
		t.Fatalf("UserKeys = %v; want %v", got, want)
	}
}

func TestIndexErrors(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	long := strings.Repeat("p", 100)
	d := openDSN(t, "memcached://"+addr+"?prefix="+long)
	exp := time.Now().Add(time.Hour)
	for _, bad := range []string{"", "a b", "a:b", "a\nb", strings.Repeat("x", 251)} {
		if err := d.IndexUser(ctx, bad, "k", exp); err == nil || !strings.HasPrefix(err.Error(), "memcached: index: ") {
			t.Errorf("IndexUser(user %q) = %v", bad, err)
		}
		if err := d.IndexUser(ctx, "u", bad, exp); err == nil {
			t.Errorf("IndexUser(key %q) succeeded", bad)
		}
		if err := d.UnindexUser(ctx, bad, "k"); err == nil || !strings.HasPrefix(err.Error(), "memcached: unindex: ") {
			t.Errorf("UnindexUser(user %q) = %v", bad, err)
		}
		if _, err := d.UserKeys(ctx, bad); err == nil || !strings.HasPrefix(err.Error(), "memcached: user keys: ") {
			t.Errorf("UserKeys(user %q) = %v", bad, err)
		}
	}
	// The prefix, "u:" and the user must fit memcached's 250 bytes.
	if err := d.IndexUser(ctx, strings.Repeat("x", 149), "k", exp); err == nil || !strings.Contains(err.Error(), "250-byte") {
		t.Errorf("IndexUser with an overlong item key = %v", err)
	}
	if err := d.IndexUser(ctx, strings.Repeat("x", 148), "k", exp); err != nil {
		t.Errorf("IndexUser with a 250-byte item key = %v", err)
	}

	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"IndexUser":   d.IndexUser(ctx, "u", "k", exp),
		"UnindexUser": d.UnindexUser(ctx, "u", "k"),
		"UserKeys":    func() error { _, err := d.UserKeys(ctx, "u"); return err }(),
	} {
		if err != ErrClosed {
			t.Errorf("%s after Close = %v; want ErrClosed", name, err)
		}
	}
}
