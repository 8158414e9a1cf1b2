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
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"sync"
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

	for _, tc := range driverTests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, use(t), opts) })
	}

	t.Run("Scan", func(t *testing.T) { testScan(t, use, opts) })

	t.Run("UserIndex", func(t *testing.T) { testUserIndex(t, use, opts) })

	if !opts.SkipClose {
		t.Run("AfterClose", func(t *testing.T) { testAfterClose(t, open) })
	}
}

// driverTests are TestDriver's subtests of the Driver contract itself, in
// the order they run. Each gets a driver of its own and the suite's
// options; the names are the ones go test -run and a failure report show.
var driverTests = []struct {
	name string
	run  func(t *testing.T, d Driver, opts Options)
}{
	{"LoadMissing", testLoadMissing},
	{"CreateAndLoad", testCreateAndLoad},
	{"CreateOnlyIfAbsent", testCreateOnlyIfAbsent},
	{"ConditionalSave", testConditionalSave},
	{"SaveVersionOnMissingKey", testSaveVersionOnMissingKey},
	{"Delete", testDelete},
	{"KeysAreIndependent", testKeysAreIndependent},
	{"BinarySafe", testBinarySafe},
	{"EmptyRecord", testEmptyRecord},
	{"LargeRecord", testLargeRecord},
	{"Expiry", testExpiry},
	{"SaveResetsTTL", testSaveResetsTTL},
	{"Touch", testTouch},
	{"NoLostUpdates", testNoLostUpdates},
}

// testLoadMissing (TestDriver/LoadMissing): a key never saved loads as
// absent: nil record, version 0, zero expiry, no error.
func testLoadMissing(t *testing.T, d Driver, _ Options) {
	ctx := context.Background()
	rec, ver, exp, err := d.Load(ctx, Key(t))
	if err != nil || rec != nil || ver != 0 || !exp.IsZero() {
		t.Fatalf("Load(missing) = %q, %d, %v, %v; want nil, 0, zero time, nil", rec, ver, exp, err)
	}
}

// testCreateAndLoad (TestDriver/CreateAndLoad): a version-0 save creates
// the record, which loads with a non-zero version and the expiry asked
// for.
func testCreateAndLoad(t *testing.T, d Driver, opts Options) {
	ctx := context.Background()
	key := Key(t)
	before := time.Now()
	saved, err := d.Save(ctx, key, []byte("hello"), 0, time.Hour)
	if err != nil || !saved {
		t.Fatalf("Save(new, version 0) = %v, %v; want true, nil", saved, err)
	}
	rec, ver, exp, err := d.Load(ctx, key)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if string(rec) != "hello" {
		t.Fatalf("Load record = %q; want %q", rec, "hello")
	}
	if ver == 0 {
		t.Fatalf("Load version = 0 for a stored record; want non-zero")
	}
	slack := opts.ExpiryGranularity + 2*time.Second
	if exp.Before(before.Add(time.Hour-slack)) || exp.After(time.Now().Add(time.Hour+slack)) {
		t.Fatalf("Load expires = %v; want about one hour from %v", exp, before)
	}
}

// testCreateOnlyIfAbsent (TestDriver/CreateOnlyIfAbsent): a version-0
// save of an existing key saves nothing.
func testCreateOnlyIfAbsent(t *testing.T, d Driver, _ Options) {
	ctx := context.Background()
	key := Key(t)
	mustSave(t, d, key, "first", 0)
	saved, err := d.Save(ctx, key, []byte("second"), 0, time.Hour)
	if err != nil || saved {
		t.Fatalf("Save(existing, version 0) = %v, %v; want false, nil", saved, err)
	}
	expectRecord(t, d, key, "first")
}

// testConditionalSave (TestDriver/ConditionalSave): a save with the
// current version succeeds and changes the version; one with a stale
// version saves nothing.
func testConditionalSave(t *testing.T, d Driver, _ Options) {
	ctx := context.Background()
	key := Key(t)
	mustSave(t, d, key, "v1", 0)
	_, v1, _, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := d.Save(ctx, key, []byte("v2"), v1, time.Hour)
	if err != nil || !saved {
		t.Fatalf("Save(current version) = %v, %v; want true, nil", saved, err)
	}
	_, v2, _, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if v2 == v1 || v2 == 0 {
		t.Fatalf("version after Save = %d (before %d); want a new non-zero version", v2, v1)
	}
	saved, err = d.Save(ctx, key, []byte("stale"), v1, time.Hour)
	if err != nil || saved {
		t.Fatalf("Save(stale version) = %v, %v; want false, nil", saved, err)
	}
	expectRecord(t, d, key, "v2")
}

// testSaveVersionOnMissingKey (TestDriver/SaveVersionOnMissingKey): a
// save with a version on a missing key saves nothing and creates nothing.
func testSaveVersionOnMissingKey(t *testing.T, d Driver, _ Options) {
	ctx := context.Background()
	key := Key(t)
	saved, err := d.Save(ctx, key, []byte("x"), 12345, time.Hour)
	if err != nil || saved {
		t.Fatalf("Save(missing key, version 12345) = %v, %v; want false, nil", saved, err)
	}
	expectMissing(t, d, key)
}

// testDelete (TestDriver/Delete): Delete removes the record, deleting a
// missing key is no error, and a deleted key can be created again.
func testDelete(t *testing.T, d Driver, _ Options) {
	ctx := context.Background()
	key := Key(t)
	mustSave(t, d, key, "doomed", 0)
	if err := d.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	expectMissing(t, d, key)
	if err := d.Delete(ctx, key); err != nil {
		t.Fatalf("Delete(missing) = %v; want nil", err)
	}
	// A deleted key can be created again.
	mustSave(t, d, key, "again", 0)
	expectRecord(t, d, key, "again")
}

// testKeysAreIndependent (TestDriver/KeysAreIndependent): deleting one
// key leaves another alone.
func testKeysAreIndependent(t *testing.T, d Driver, _ Options) {
	ctx := context.Background()
	a, b := Key(t), Key(t)
	mustSave(t, d, a, "A", 0)
	mustSave(t, d, b, "B", 0)
	if err := d.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	expectMissing(t, d, a)
	expectRecord(t, d, b, "B")
}

// testBinarySafe (TestDriver/BinarySafe): every byte value, CR LF and
// protocol words included, round-trips unchanged.
func testBinarySafe(t *testing.T, d Driver, _ Options) {
	ctx := context.Background()
	key := Key(t)
	rec := make([]byte, 0, 512)
	for i := 0; i < 512; i++ {
		rec = append(rec, byte(i))
	}
	rec = append(rec, "\r\nEND\r\n"...)
	if saved, err := d.Save(ctx, key, rec, 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save(binary) = %v, %v", saved, err)
	}
	got, _, _, err := d.Load(ctx, key)
	if err != nil || !bytes.Equal(got, rec) {
		t.Fatalf("Load(binary) = %x, %v; want %x", got, err, rec)
	}
}

// testEmptyRecord (TestDriver/EmptyRecord): an empty record loads as a
// non-nil empty record with a version.
func testEmptyRecord(t *testing.T, d Driver, _ Options) {
	ctx := context.Background()
	key := Key(t)
	if saved, err := d.Save(ctx, key, []byte{}, 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save(empty) = %v, %v", saved, err)
	}
	got, ver, _, err := d.Load(ctx, key)
	if err != nil || got == nil || len(got) != 0 || ver == 0 {
		t.Fatalf("Load(empty record) = %q (nil=%v), %d, %v; want a non-nil empty record and a version", got, got == nil, ver, err)
	}
}

// testLargeRecord (TestDriver/LargeRecord): a record of Options.MaxRecord
// bytes round-trips unchanged.
func testLargeRecord(t *testing.T, d Driver, opts Options) {
	ctx := context.Background()
	key := Key(t)
	rec := make([]byte, opts.MaxRecord)
	if _, err := rand.Read(rec); err != nil {
		t.Fatal(err)
	}
	if saved, err := d.Save(ctx, key, rec, 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save(%d bytes) = %v, %v", len(rec), saved, err)
	}
	got, _, _, err := d.Load(ctx, key)
	if err != nil || !bytes.Equal(got, rec) {
		t.Fatalf("Load(%d bytes) returned %d bytes, %v", len(rec), len(got), err)
	}
}

// testExpiry (TestDriver/Expiry): a record is gone once its time to live
// runs out, and its key counts as absent for a version-0 save.
func testExpiry(t *testing.T, d Driver, opts Options) {
	ctx := context.Background()
	key := Key(t)
	ttl := opts.ExpiryGranularity
	if saved, err := d.Save(ctx, key, []byte("brief"), 0, ttl); err != nil || !saved {
		t.Fatalf("Save(ttl %v) = %v, %v", ttl, saved, err)
	}
	waitMissing(t, d, key, 2*ttl+opts.ExpiryGranularity+time.Second)
	// An expired key counts as absent for a version-0 Save.
	mustSave(t, d, key, "reborn", 0)
	expectRecord(t, d, key, "reborn")
}

// testSaveResetsTTL (TestDriver/SaveResetsTTL): a save sets the record's
// expiry from its own time to live.
func testSaveResetsTTL(t *testing.T, d Driver, _ Options) {
	ctx := context.Background()
	key := Key(t)
	mustSave(t, d, key, "a", 0)
	_, v, exp1, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if saved, err := d.Save(ctx, key, []byte("b"), v, 3*time.Hour); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}
	_, _, exp2, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if exp2.Sub(exp1) < 90*time.Minute {
		t.Fatalf("expiry after Save with ttl 3h = %v, before (ttl 1h) %v; want about two hours later", exp2, exp1)
	}
}

// testTouch (TestDriver/Touch): Touch of a missing key creates nothing;
// Touch extends or shortens a record's life without changing its record
// or version.
func testTouch(t *testing.T, d Driver, opts Options) {
	ctx := context.Background()
	tc, ok := d.(Toucher)
	if !ok {
		t.Logf("%T does not implement Touch; the core falls back to a conditional Save", d)
		return
	}
	key := Key(t)
	if err := tc.Touch(ctx, key, time.Hour); err != nil {
		t.Fatalf("Touch(missing) = %v; want nil", err)
	}
	expectMissing(t, d, key)

	mustSave(t, d, key, "kept", 0)
	_, v1, exp1, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Touch(ctx, key, 3*time.Hour); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	rec, v2, exp2, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if string(rec) != "kept" || v2 != v1 {
		t.Fatalf("after Touch: record %q version %d; want %q and unchanged version %d", rec, v2, "kept", v1)
	}
	if exp2.Sub(exp1) < 90*time.Minute {
		t.Fatalf("expiry after Touch(3h) = %v, before %v; want about two hours later", exp2, exp1)
	}
	// A touch can also shorten the life of a record, and the store
	// honours it.
	ttl := opts.ExpiryGranularity
	if err := tc.Touch(ctx, key, ttl); err != nil {
		t.Fatal(err)
	}
	waitMissing(t, d, key, 2*ttl+opts.ExpiryGranularity+time.Second)
}

// testNoLostUpdates (TestDriver/NoLostUpdates): concurrent conditional
// increments lose no update.
func testNoLostUpdates(t *testing.T, d Driver, opts Options) {
	ctx := context.Background()
	key := Key(t)
	mustSave(t, d, key, string(make([]byte, 8)), 0)
	const perWriter = 10
	var wg sync.WaitGroup
	errs := make(chan error, opts.Parallel)
	for w := 0; w < opts.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				for {
					rec, ver, _, err := d.Load(ctx, key)
					if err != nil {
						errs <- err
						return
					}
					if len(rec) != 8 {
						errs <- errShort
						return
					}
					n := binary.BigEndian.Uint64(rec) + 1
					next := binary.BigEndian.AppendUint64(nil, n)
					saved, err := d.Save(ctx, key, next, ver, time.Hour)
					if err != nil {
						errs <- err
						return
					}
					if saved {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent increment: %v", err)
	}
	rec, _, _, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := binary.BigEndian.Uint64(rec), uint64(opts.Parallel*perWriter); got != want {
		t.Fatalf("after %d concurrent conditional increments the counter is %d: updates were lost", want, got)
	}
}

// testAfterClose (TestDriver/AfterClose): every call on a closed driver,
// optional interfaces included, returns an error.
func testAfterClose(t *testing.T, open func(t *testing.T) Driver) {
	ctx := context.Background()
	d := open(t)
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	key := Key(t)
	if _, err := d.Save(ctx, key, []byte("x"), 0, time.Hour); err == nil {
		t.Errorf("Save after Close returned no error")
	}
	if _, _, _, err := d.Load(ctx, key); err == nil {
		t.Errorf("Load after Close returned no error")
	}
	if err := d.Delete(ctx, key); err == nil {
		t.Errorf("Delete after Close returned no error")
	}
	if s, ok := d.(Scanner); ok {
		if err := s.Scan(ctx, func(string) error { return nil }); err == nil {
			t.Errorf("Scan after Close returned no error")
		}
	}
	if ix, ok := d.(UserIndexer); ok {
		user := Key(t)
		if err := ix.IndexUser(ctx, user, key, time.Now().Add(time.Hour)); err == nil {
			t.Errorf("IndexUser after Close returned no error")
		}
		if err := ix.UnindexUser(ctx, user, key); err == nil {
			t.Errorf("UnindexUser after Close returned no error")
		}
		if _, err := ix.UserKeys(ctx, user); err == nil {
			t.Errorf("UserKeys after Close returned no error")
		}
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
