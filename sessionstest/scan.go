package sessionstest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginkit/sessions/driver"
)

// Scanner is driver.Scanner. A driver that implements it gets the Scan
// subtests of TestDriver.
type Scanner = driver.Scanner

// scanRecords is how many records the main Scan subtest saves.
const scanRecords = 50

// testScan runs the Scan subtests, or logs and returns if the driver is
// not a Scanner. It checks only the keys it saved itself and deletes only
// those, so it is safe on a store that other tests use at the same time
// (their keys may be passed too; they are checked for their shape only).
func testScan(t *testing.T, use func(*testing.T) Driver, opts Options) {
	d := use(t)
	s, ok := d.(Scanner)
	if !ok {
		t.Logf("%T does not implement Scan; bulk tools cannot enumerate its sessions", d)
		return
	}
	if opts.SkipScan {
		t.Logf("Options.SkipScan is set: Scan is not tested")
		return
	}
	ctx := context.Background()

	t.Run("LiveKeysOnly", func(t *testing.T) {
		keys := make([]string, scanRecords)
		for i := range keys {
			keys[i] = Key(t)
			mustSave(t, d, keys[i], "scan me", 0)
		}
		deleted := keys[:5]
		live := keys[5:]
		for _, k := range deleted {
			if err := d.Delete(ctx, k); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		ttl := opts.ExpiryGranularity
		expired := Key(t)
		if saved, err := d.Save(ctx, expired, []byte("brief"), 0, ttl); err != nil || !saved {
			t.Fatalf("Save(ttl %v) = %v, %v", ttl, saved, err)
		}

		// Index entries, when the driver keeps an index: Scan must pass
		// neither the users nor keys that only an index entry names.
		var users, indexOnly []string
		if ix, ok := d.(UserIndexer); ok {
			for i := 0; i < 3; i++ {
				u, ghost := Key(t), Key(t)
				users = append(users, u)
				indexOnly = append(indexOnly, ghost)
				for _, k := range []string{live[i], ghost} {
					if err := ix.IndexUser(ctx, u, k, time.Now().Add(time.Hour)); err != nil {
						t.Fatalf("IndexUser: %v", err)
					}
				}
			}
		}

		// Let the short record expire without reading it: reading would
		// let some stores remove it, and Scan must skip an expired record
		// that the store still holds.
		time.Sleep(ttl + opts.ExpiryGranularity + 50*time.Millisecond)

		seen := collect(t, s)
		for k := range seen {
			if !validKey(k) {
				t.Errorf("Scan passed %q, which is not a key of the shape the core uses ([A-Za-z0-9_-], 1 to 250 bytes)", k)
			}
		}
		for _, k := range deleted {
			if seen[k] > 0 {
				t.Errorf("Scan passed a key deleted before the scan")
			}
		}
		for _, k := range indexOnly {
			if seen[k] > 0 {
				t.Errorf("Scan passed a key that only a user index entry names: it enumerated the index")
			}
		}
		for _, u := range users {
			for k := range seen {
				if strings.Contains(k, u) {
					t.Errorf("Scan passed %q, which holds a user of the index: it enumerated the index", k)
				}
			}
		}
		if seen[expired] > 0 {
			t.Errorf("Scan passed a record whose ttl (%v) had run out before the scan began", ttl)
		}
		if rec, _, _, err := d.Load(ctx, expired); err != nil || rec != nil {
			t.Fatalf("Load(record past its ttl of %v) = %q, %v; want absent", ttl, rec, err)
		}

		// Every record live before and after the scan was live for all
		// of it, so it must have been passed. A bounded store may have
		// evicted some; it must have kept at least one.
		kept, dups := 0, 0
		for _, k := range live {
			rec, _, _, err := d.Load(ctx, k)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if rec == nil {
				continue // evicted by a bounded store
			}
			kept++
			switch n := seen[k]; {
			case n == 0:
				t.Errorf("Scan did not pass a record that was live for the whole scan")
			case n > 1:
				dups++
			}
		}
		if kept == 0 {
			t.Fatalf("the store kept none of %d records saved with a ttl of an hour", len(live))
		}
		if dups > 0 {
			t.Logf("Scan passed %d of %d keys more than once (allowed)", dups, kept)
		}
	})

	t.Run("StopsOnError", func(t *testing.T) {
		d := use(t)
		s := d.(Scanner)
		for i := 0; i < 10; i++ {
			mustSave(t, d, Key(t), "x", 0)
		}
		stop := suiteError("stop here")
		var mu sync.Mutex
		calls := 0
		err := s.Scan(ctx, func(string) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return stop
		})
		if !errors.Is(err, stop) {
			t.Fatalf("Scan with fn failing = %v; want fn's error", err)
		}
		if calls != 1 {
			t.Fatalf("Scan called fn %d times; after fn's first error it must stop", calls)
		}
	})

	t.Run("DeleteDuringScan", func(t *testing.T) {
		// The purge pattern: fn deletes the key it is given.
		d := use(t)
		s := d.(Scanner)
		ours := map[string]bool{}
		for i := 0; i < 30; i++ {
			k := Key(t)
			ours[k] = true
			mustSave(t, d, k, "purge me", 0)
		}
		err := s.Scan(ctx, func(k string) error {
			if ours[k] { // never touch keys of other tests sharing the store
				return d.Delete(ctx, k)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Scan deleting each key = %v", err)
		}
		for k := range ours {
			expectMissing(t, d, k)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		d := use(t)
		s := d.(Scanner)
		mustSave(t, d, Key(t), "x", 0)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.Scan(cctx, func(string) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Scan(canceled context) = %v; want an error wrapping context.Canceled", err)
		}
	})
}

// collect runs a scan and counts how often each key was passed. fn may be
// called from several goroutines as far as the contract goes, so the
// counting is locked.
func collect(t *testing.T, s Scanner) map[string]int {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	err := s.Scan(context.Background(), func(k string) error {
		mu.Lock()
		seen[k]++
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return seen
}

// validKey reports whether k has the shape of a key: 1 to 250 bytes from
// [A-Za-z0-9_-].
func validKey(k string) bool {
	if k == "" || len(k) > 250 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
