package sessionstest

import (
	"context"
	"errors"
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

	t.Run("UnindexMany", func(t *testing.T) {
		ix := indexer(t, use)
		b, ok := ix.(driver.UserBatchUnindexer)
		if !ok {
			t.Logf("%T does not implement driver.UserBatchUnindexer (optional): the core unindexes one key at a time", ix)
			return
		}
		u, other := Key(t), Key(t)
		keys := make([]string, 12)
		for i := range keys {
			keys[i] = Key(t)
			mustIndex(t, ix, u, keys[i], hour())
		}
		mustIndex(t, ix, other, keys[0], hour())
		// Half the keys, one of them twice, and one the index never held.
		drop := append(slices.Clone(keys[:6]), keys[0], Key(t))
		if err := b.UnindexUserKeys(ctx, u, drop); err != nil {
			t.Fatalf("UnindexUserKeys: %v", err)
		}
		expectUserKeys(t, ix, u, keys[6:]...)
		expectUserKeys(t, ix, other, keys[0]) // another user's entry stays
		if err := b.UnindexUserKeys(ctx, u, nil); err != nil {
			t.Fatalf("UnindexUserKeys(no keys) = %v; want nil", err)
		}
		if err := b.UnindexUserKeys(ctx, Key(t), keys); err != nil {
			t.Fatalf("UnindexUserKeys(unknown user) = %v; want nil", err)
		}
		if err := b.UnindexUserKeys(ctx, u, keys[6:]); err != nil {
			t.Fatalf("UnindexUserKeys: %v", err)
		}
		expectUserKeys(t, ix, u)
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

	t.Run("Bound", func(t *testing.T) {
		// The index never forgets a live entry: up to the bound every
		// entry is kept, and past it a driver keeps the new one too or
		// refuses it, changing nothing. Expired entries do not count:
		// the user first fills the index with entries that expire.
		ix := indexer(t, use)
		u := Key(t)
		indexKeys(t, ix, u, driver.MaxUserEntries, func() time.Time { return time.Now().Add(g) })
		waitUserKeys(t, ix, u, within)
		keys := indexKeys(t, ix, u, driver.MaxUserEntries, hour)
		expectUserKeys(t, ix, u, keys...)
		extra := Key(t)
		switch err := ix.IndexUser(ctx, u, extra, hour()); {
		case err == nil:
			keys = append(keys, extra)
		case !errors.Is(err, driver.ErrUserIndexFull):
			t.Fatalf("IndexUser of live entry %d of one user = %v; want nil or an error wrapping driver.ErrUserIndexFull", driver.MaxUserEntries+1, err)
		}
		expectUserKeys(t, ix, u, keys...)
		// Replacing the expiry of an entry is never refused.
		mustIndex(t, ix, u, keys[0], time.Now().Add(2*time.Hour))
		expectUserKeys(t, ix, u, keys...)
	})
}

// indexKeys indexes n fresh keys for user, each expiring at expires() of
// the moment it is indexed, and returns them in that order.
func indexKeys(t *testing.T, ix UserIndexer, user string, n int, expires func() time.Time) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = Key(t)
		if err := ix.IndexUser(context.Background(), user, keys[i], expires()); err != nil {
			t.Fatalf("IndexUser of entry %d of one user: %v", i+1, err)
		}
	}
	return keys
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
	got := userKeys(t, ix, user)
	switch {
	case sameKeys(got, want):
	case len(got)+len(want) <= 20:
		t.Fatalf("UserKeys = %q; want exactly %q (in any order, each once)", got, want)
	default:
		missing, extra := keyDiff(got, want)
		t.Fatalf("UserKeys returns %d keys; want exactly %d (in any order, each once): %d missing (such as %q), %d not wanted or repeated (such as %q)",
			len(got), len(want), len(missing), missing[:min(len(missing), 3)], len(extra), extra[:min(len(extra), 3)])
	}
}

// keyDiff returns the keys of want missing from got, and those of got
// not in want or there more often than in want, in no particular order.
func keyDiff(got, want []string) (missing, extra []string) {
	n := make(map[string]int, len(want))
	for _, k := range want {
		n[k]++
	}
	for _, k := range got {
		if n[k] > 0 {
			n[k]--
		} else {
			extra = append(extra, k)
		}
	}
	for _, k := range want {
		if n[k] > 0 {
			n[k]--
			missing = append(missing, k)
		}
	}
	return missing, extra
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

// TestUserBound checks a driver whose index refuses a new entry for a user
// with driver.MaxUserEntries live ones, as the memory, file and memcached
// drivers do. It makes n IndexUser calls (n > driver.MaxUserEntries) for a
// fresh user, of keys "k0000", "k0001", … expiring an hour from now and
// one second apart (so the first are both the oldest and the soonest to
// expire, the entries a forgetful index would drop), and checks that the
// first driver.MaxUserEntries succeed, that every later one returns an
// error wrapping driver.ErrUserIndexFull, and that UserKeys then returns
// exactly the first driver.MaxUserEntries keys. It returns the user and
// the last refusal, for checks of the driver's own (such as its wording).
func TestUserBound(t testing.TB, ix UserIndexer, n int) (user string, refusal error) {
	t.Helper()
	if n <= driver.MaxUserEntries {
		t.Fatalf("TestUserBound with %d calls; want more than driver.MaxUserEntries (%d)", n, driver.MaxUserEntries)
	}
	user = Key(t)
	base := time.Now().Add(time.Hour)
	want := make([]string, 0, driver.MaxUserEntries)
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("k%04d", i)
		err := ix.IndexUser(context.Background(), user, key, base.Add(time.Duration(i)*time.Second))
		switch {
		case i < driver.MaxUserEntries && err != nil:
			t.Fatalf("IndexUser of entry %d of one user, below the bound of %d: %v", i+1, driver.MaxUserEntries, err)
		case i < driver.MaxUserEntries:
			want = append(want, key)
		case !errors.Is(err, driver.ErrUserIndexFull):
			t.Fatalf("IndexUser of entry %d of one user, past the bound of %d = %v; want an error wrapping driver.ErrUserIndexFull", i+1, driver.MaxUserEntries, err)
		default:
			refusal = err
		}
	}
	if got := UserKeys(t, ix, user); !slices.Equal(got, want) {
		t.Fatalf("after %d IndexUser calls for one user, UserKeys returns %d keys (first %q, last %q); want the first %d, none forgotten and none refused added",
			n, len(got), first(got), last(got), driver.MaxUserEntries)
	}
	return user, refusal
}

// first and last return the first and last of keys, or "" if it is empty.
func first(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

func last(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[len(keys)-1]
}
