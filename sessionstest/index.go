package sessionstest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ginkit/sessions/driver"
)

// UserIndexer is driver.UserIndexer. A driver that implements it gets the
// UserIndex subtests of TestDriver.
type UserIndexer = driver.UserIndexer

// indexParallel is the number of goroutines of the concurrent IndexUser
// subtest, each adding one key for the same user.
const indexParallel = 20

// testUserIndex runs the UserIndex subtests, or logs and returns if the
// driver is not a UserIndexer. Every subtest uses fresh random users and
// keys, so a store shared with other tests is fine.
func testUserIndex(t *testing.T, use func(*testing.T) Driver, opts Options) {
	d := use(t)
	if _, ok := d.(UserIndexer); !ok {
		t.Logf("%T does not implement a user index; the core needs another way to find a user's sessions", d)
		return
	}
	ctx := context.Background()
	hour := func() time.Time { return time.Now().Add(time.Hour) }
	g := opts.ExpiryGranularity
	// within is how long an entry may outlive its expiry in UserKeys,
	// like a record its ttl in the Expiry subtest.
	within := 2*g + g + time.Second

	t.Run("UserKeys", func(t *testing.T) {
		ix := indexer(t, use)
		a, b, unknown := Key(t), Key(t), Key(t)
		ka := []string{Key(t), Key(t), Key(t)}
		kb := Key(t)
		for _, k := range ka {
			mustIndex(t, ix, a, k, hour())
		}
		mustIndex(t, ix, b, kb, hour())
		expectUserKeys(t, ix, a, ka...)
		expectUserKeys(t, ix, b, kb)
		expectUserKeys(t, ix, unknown)
	})

	t.Run("Unindex", func(t *testing.T) {
		ix := indexer(t, use)
		u := Key(t)
		k1, k2, k3 := Key(t), Key(t), Key(t)
		for _, k := range []string{k1, k2, k3} {
			mustIndex(t, ix, u, k, hour())
		}
		if err := ix.UnindexUser(ctx, u, k2); err != nil {
			t.Fatalf("UnindexUser: %v", err)
		}
		expectUserKeys(t, ix, u, k1, k3)
		if err := ix.UnindexUser(ctx, u, k2); err != nil {
			t.Fatalf("UnindexUser(entry already removed) = %v; want nil", err)
		}
		if err := ix.UnindexUser(ctx, Key(t), k1); err != nil {
			t.Fatalf("UnindexUser(unknown user) = %v; want nil", err)
		}
		expectUserKeys(t, ix, u, k1, k3)
		// Removing every entry empties the index, and it can grow again.
		for _, k := range []string{k1, k3} {
			if err := ix.UnindexUser(ctx, u, k); err != nil {
				t.Fatalf("UnindexUser: %v", err)
			}
		}
		expectUserKeys(t, ix, u)
		mustIndex(t, ix, u, k2, hour())
		expectUserKeys(t, ix, u, k2)
	})

	t.Run("Reindex", func(t *testing.T) {
		ix := indexer(t, use)
		u := Key(t)
		longer, shorter := Key(t), Key(t)
		// Indexing a key again replaces its expiry and keeps one entry,
		// whether the new expiry is later or earlier.
		mustIndex(t, ix, u, longer, time.Now().Add(g))
		mustIndex(t, ix, u, longer, hour())
		mustIndex(t, ix, u, shorter, hour())
		mustIndex(t, ix, u, shorter, time.Now().Add(g))
		// shorter may already have expired on a slow machine.
		got := userKeys(t, ix, u)
		if n := count(got, longer); n != 1 || count(got, shorter) > 1 || len(got) != n+count(got, shorter) {
			t.Fatalf("UserKeys after indexing two keys twice each = %q; want each key once", got)
		}
		// By the time shorter has expired, so has longer's first expiry,
		// which the second IndexUser replaced.
		waitUserKeys(t, ix, u, within, longer)
	})

	t.Run("Expiry", func(t *testing.T) {
		ix := indexer(t, use)
		u := Key(t)
		brief, lasting, past := Key(t), Key(t), Key(t)
		mustIndex(t, ix, u, brief, time.Now().Add(g))
		mustIndex(t, ix, u, lasting, hour())
		// An entry that is dead from the start is never returned.
		mustIndex(t, ix, u, past, time.Now().Add(-time.Minute))
		keys := userKeys(t, ix, u)
		if slices.Contains(keys, past) {
			t.Fatalf("UserKeys returned an entry indexed with an expiry in the past")
		}
		waitUserKeys(t, ix, u, within, lasting)

		// A user whose every entry has expired has an empty index, which
		// can grow again.
		v := Key(t)
		mustIndex(t, ix, v, brief, time.Now().Add(g))
		waitUserKeys(t, ix, v, within)
		mustIndex(t, ix, v, lasting, hour())
		expectUserKeys(t, ix, v, lasting)
	})

	t.Run("ConcurrentIndexUser", func(t *testing.T) {
		ix := indexer(t, use)
		u := Key(t)
		keys := make([]string, indexParallel)
		for i := range keys {
			keys[i] = Key(t)
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(keys))
		start := make(chan struct{})
		for _, k := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := ix.IndexUser(ctx, u, k, hour()); err != nil {
					errs <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent IndexUser: %v", err)
		}
		got := userKeys(t, ix, u)
		if len(got) != len(keys) {
			t.Fatalf("after %d concurrent IndexUser calls for one user, UserKeys returns %d keys: updates were lost", len(keys), len(got))
		}
		expectUserKeys(t, ix, u, keys...)
	})

	t.Run("SurvivesDeletes", func(t *testing.T) {
		// The index is the core's to prune: deleting, saving or expiring
		// session records leaves it alone.
		d := use(t)
		ix := d.(UserIndexer)
		u := Key(t)
		k, other := Key(t), Key(t)
		mustSave(t, d, k, "indexed", 0)
		mustSave(t, d, other, "unrelated", 0)
		mustIndex(t, ix, u, k, hour())
		if err := d.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := d.Delete(ctx, other); err != nil {
			t.Fatal(err)
		}
		expectUserKeys(t, ix, u, k)
		mustSave(t, d, k, "again", 0)
		if err := d.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		expectUserKeys(t, ix, u, k)
	})
}

// count returns how often key occurs in keys.
func count(keys []string, key string) int {
	n := 0
	for _, k := range keys {
		if k == key {
			n++
		}
	}
	return n
}

// indexer opens a driver for one subtest and returns it as a UserIndexer.
func indexer(t *testing.T, use func(*testing.T) Driver) UserIndexer {
	t.Helper()
	return use(t).(UserIndexer)
}

func mustIndex(t *testing.T, ix UserIndexer, user, key string, expires time.Time) {
	t.Helper()
	if err := ix.IndexUser(context.Background(), user, key, expires); err != nil {
		t.Fatalf("IndexUser: %v", err)
	}
}

func userKeys(t *testing.T, ix UserIndexer, user string) []string {
	t.Helper()
	keys, err := ix.UserKeys(context.Background(), user)
	if err != nil {
		t.Fatalf("UserKeys: %v", err)
	}
	return keys
}

// sameKeys reports whether got holds exactly the keys of want, each once.
func sameKeys(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func expectUserKeys(t *testing.T, ix UserIndexer, user string, want ...string) {
	t.Helper()
	if got := userKeys(t, ix, user); !sameKeys(got, want) {
		t.Fatalf("UserKeys = %q; want exactly %q (in any order, each once)", got, want)
	}
}

// waitUserKeys waits until UserKeys returns exactly want, for at most
// within: the time expired entries may take to disappear.
func waitUserKeys(t *testing.T, ix UserIndexer, user string, within time.Duration, want ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := userKeys(t, ix, user)
		if sameKeys(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("UserKeys = %q %v after the entries' expiry; want exactly %q", got, within, want)
		}
		time.Sleep(opts10ms)
	}
}

// UserKeys returns user's live index entries, sorted; it fails the test
// on an error. For driver tests that look at an index directly.
func UserKeys(t testing.TB, d UserIndexer, user string) []string {
	t.Helper()
	keys, err := d.UserKeys(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// TestUserBound checks the per-user cap of a driver whose index keeps at
// most bound entries per user, dropping the ones that expire soonest: it
// indexes bound+5 keys ("k0000" … ) expiring one second apart for a fresh
// user and checks that exactly the bound remain, the five soonest gone.
// It returns that user, for checks of the driver's own.
func TestUserBound(t *testing.T, d UserIndexer, bound int) (user string) {
	t.Helper()
	user = Key(t)
	base := time.Now().Add(time.Hour)
	for i := 0; i < bound+5; i++ {
		if err := d.IndexUser(context.Background(), user, fmt.Sprintf("k%04d", i), base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	keys := UserKeys(t, d, user)
	if len(keys) != bound || keys[0] != "k0005" {
		first := ""
		if len(keys) > 0 {
			first = keys[0]
		}
		t.Fatalf("%d entries, first %q; want %d, the 5 soonest-expiring dropped", len(keys), first, bound)
	}
	return user
}
