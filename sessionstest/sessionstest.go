// Package sessionstest is the conformance suite for session storage drivers,
// in the spirit of testing/fstest: an author of a custom driver runs
//
//	func TestConformance(t *testing.T) {
//		sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
//			d, err := mydriver.Open(...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return d
//		}, sessionstest.Options{})
//	}
//
// and gets every rule of the sessions.Driver contract checked against a real
// instance: absence, conditional saves, versions, expiry, touch, deletion,
// binary-safe and large records, lost-update freedom under concurrency, and
// behaviour after Close. A driver that implements the optional
// driver.Scanner or driver.UserIndexer gets their contracts checked too: enumeration of live
// records only, stopping on fn's error, deleting during a scan; exact
// per-user key sets, removal, replaced expiries, expired entries, no lost
// updates under concurrent IndexUser, independence from the records, and
// no live entry forgotten at driver.MaxUserEntries entries of one user.
//
// The package imports only the contract package (github.com/ginkit/sessions/driver),
// so driver packages can use it without an import cycle.
package sessionstest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/ginkit/sessions/driver"
)

// Driver is the contract under test, driver.Driver (sessions.Driver is
// the same type).
type Driver = driver.Driver

// Toucher is driver.Toucher.
type Toucher = driver.Toucher

// Options tunes the suite to a store's limits. The zero value suits a
// store with millisecond expiry and records of at least 256 KiB.
type Options struct {
	// ExpiryGranularity is the coarsest unit in which the store counts
	// time to live (memcached: one second). The expiry tests wait about
	// twice this long. Zero means 100 milliseconds.
	ExpiryGranularity time.Duration

	// MaxRecord is the size of the large-record test. Zero means 256 KiB.
	MaxRecord int

	// Parallel is the number of concurrent writers in the lost-update
	// test. Zero means 16.
	Parallel int

	// SkipClose leaves out the after-Close test, for a driver the test
	// shares with others and must not close.
	SkipClose bool

	// SkipScan leaves out the Scan subtests of a driver that implements
	// Scanner, for a store too large to enumerate in a test. The subtests
	// check and delete only keys they saved themselves, so a store that
	// other tests use at the same time needs no SkipScan.
	SkipScan bool
}

// Key returns a fresh key of the shape the core uses: 43 URL-safe base64
// characters. Tests use it so that no two runs share a key on a shared store.
func Key(tb testing.TB) string {
	tb.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TestDriver runs the conformance suite. open is called once per subtest
// and must return a working driver; TestDriver closes it at the end of
// the subtest (unless Options.SkipClose is set).
func TestDriver(t *testing.T, open func(t *testing.T) Driver, opts Options) {
	if opts.ExpiryGranularity <= 0 {
		opts.ExpiryGranularity = 100 * time.Millisecond
	}
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = 256 << 10
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 16
	}
	use := func(t *testing.T) Driver {
		d := open(t)
		if !opts.SkipClose {
			t.Cleanup(func() { _ = d.Close(context.Background()) })
		}
		return d
	}
	tuned := func(run func(*testing.T, Driver, Options)) func(*testing.T, Driver) {
		return func(t *testing.T, d Driver) { run(t, d, opts) }
	}
	// Each subtest gets a driver of its own from use; the names are the
	// ones go test -run and a failure report show.
	for _, tc := range []struct {
		name string
		run  func(*testing.T, Driver)
	}{
		{"LoadMissing", testLoadMissing},
		{"CreateAndLoad", tuned(testCreateAndLoad)},
		{"CreateOnlyIfAbsent", testCreateOnlyIfAbsent},
		{"ConditionalSave", testConditionalSave},
		{"SaveVersionOnMissingKey", testSaveVersionOnMissingKey},
		{"Delete", testDelete},
		{"KeysAreIndependent", testKeysAreIndependent},
		{"BinarySafe", testBinarySafe},
		{"EmptyRecord", testEmptyRecord},
		{"LargeRecord", tuned(testLargeRecord)},
		{"Expiry", tuned(testExpiry)},
		{"SaveResetsTTL", testSaveResetsTTL},
		{"Touch", tuned(testTouch)},
		{"NoLostUpdates", tuned(testNoLostUpdates)},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, use(t)) })
	}

	t.Run("Scan", func(t *testing.T) { testScan(t, use, opts) })

	t.Run("UserIndex", func(t *testing.T) { testUserIndex(t, use, opts) })

	if !opts.SkipClose {
		t.Run("AfterClose", func(t *testing.T) { testAfterClose(t, open) })
	}
}

type suiteError string

func (e suiteError) Error() string { return string(e) }

const errShort = suiteError("record changed length: a save wrote something else than asked")

func mustSave(t *testing.T, d Driver, key, rec string, version uint64) {
	t.Helper()
	saved, err := d.Save(context.Background(), key, []byte(rec), version, time.Hour)
	if err != nil || !saved {
		t.Fatalf("Save(%q, version %d) = %v, %v; want true, nil", rec, version, saved, err)
	}
}

func expectRecord(t *testing.T, d Driver, key, want string) {
	t.Helper()
	rec, ver, _, err := d.Load(context.Background(), key)
	if err != nil || string(rec) != want || ver == 0 {
		t.Fatalf("Load = %q, version %d, %v; want %q with a version", rec, ver, err, want)
	}
}

func expectMissing(t *testing.T, d Driver, key string) {
	t.Helper()
	rec, ver, exp, err := d.Load(context.Background(), key)
	if err != nil || rec != nil || ver != 0 || !exp.IsZero() {
		t.Fatalf("Load = %q, %d, %v, %v; want nil, 0, zero time, nil (absent)", rec, ver, exp, err)
	}
}

func waitMissing(t *testing.T, d Driver, key string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rec, _, _, err := d.Load(context.Background(), key)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if rec == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("record still present %v after its ttl ran out", within)
		}
		time.Sleep(opts10ms)
	}
}

const opts10ms = 10 * time.Millisecond
