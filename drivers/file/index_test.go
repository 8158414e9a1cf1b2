package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/sessionstest"
)

func TestIndexFile(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	user := sessionstest.Key(t)
	k1, k2 := "aaa", "bbb"
	exp1 := time.Now().Add(time.Hour)
	exp2 := time.Now().Add(2 * time.Hour)
	if err := d.IndexUser(bg, user, k1, exp1); err != nil {
		t.Fatal(err)
	}
	if err := d.IndexUser(bg, user, k2, exp2); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, user+".idx")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("index file mode %v; want 0600", fi.Mode().Perm())
	}
	if !fi.ModTime().Equal(time.UnixMilli(exp2.UnixMilli())) {
		t.Errorf("index file mtime %v; want its latest expiry %v", fi.ModTime(), exp2)
	}
	raw, _ := os.ReadFile(path)
	entries, ok := decodeIndex(raw)
	if !ok || len(entries) != 2 {
		t.Fatalf("decodeIndex = %v, %v", entries, ok)
	}
	for _, e := range entries {
		want := map[string]int64{k1: exp1.UnixMilli(), k2: exp2.UnixMilli()}[e.Key]
		if e.Expires != want {
			t.Errorf("entry %s expires %d; want %d", e.Key, e.Expires, want)
		}
	}
	// Shortening the latest entry moves the time stamp back.
	if err := d.IndexUser(bg, user, k2, exp1); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); !fi.ModTime().Equal(time.UnixMilli(exp1.UnixMilli())) {
		t.Errorf("mtime %v after shortening; want %v", fi.ModTime(), exp1)
	}
	// Removing the last entry removes the file.
	for _, k := range []string{k1, k2} {
		if err := d.UnindexUser(bg, user, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("index file without entries still exists: %v", err)
	}
	// An entry dead on arrival creates no file.
	if err := d.IndexUser(bg, user, k1, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("IndexUser with a past expiry created a file: %v", err)
	}
	// No temporary file is left behind.
	if temps := globTemps(t, dir); len(temps) != 0 {
		t.Fatalf("temporary files left: %v", temps)
	}
}

func TestIndexDamaged(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	user := sessionstest.Key(t)
	if err := d.IndexUser(bg, user, "kept", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	path := d.indexPath(user)
	good, _ := os.ReadFile(path)
	flip := slices.Clone(good)
	flip[len(flip)-1] ^= 1
	for name, content := range map[string][]byte{
		"empty":       {},
		"short":       good[:5],
		"bad magic":   append([]byte("XXXX"), good[4:]...),
		"bad crc":     flip,
		"truncated":   good[:len(good)-3],
		"zero length": encodeRaw([]byte{0}),
		"overlong":    encodeRaw([]byte{200, 'a', 'b'}),
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, time.Time{}, time.Now().Add(time.Hour))
		if keys := sessionstest.UserKeys(t, d, user); len(keys) != 0 {
			t.Errorf("%s index read as %v; want empty", name, keys)
		}
		if err := d.UnindexUser(bg, user, "kept"); err != nil {
			t.Errorf("%s: UnindexUser = %v", name, err)
		}
		if err := d.IndexUser(bg, user, "new", time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("%s: IndexUser = %v", name, err)
		}
		if keys := sessionstest.UserKeys(t, d, user); !slices.Equal(keys, []string{"new"}) {
			t.Errorf("%s index after IndexUser: %v; want it replaced", name, keys)
		}
	}
}

// encodeRaw returns an index file with a correct checksum over body.
func encodeRaw(body []byte) []byte {
	buf := make([]byte, idxHeaderLen, idxHeaderLen+len(body))
	copy(buf, idxMagic[:])
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(body, crcTable))
	return append(buf, body...)
}

// TestIndexBound: a user past driver.MaxUserEntries live entries is
// refused a new one and keeps every entry, the first (oldest and soonest
// to expire) included, so RevokeUser still reaches every session; a full
// index file of the longest keys is still read.
func TestIndexBound(t *testing.T) {
	d := newDriver(t, t.TempDir(), Options{SweepInterval: -1})
	user, refusal := sessionstest.TestUserBound(t, d, 1100)
	if !strings.HasPrefix(refusal.Error(), "file: index: ") {
		t.Errorf("refusal %q does not name the driver and operation", refusal)
	}
	// Replacing an entry's expiry at the bound is not refused.
	if err := d.IndexUser(bg, user, "k0000", time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(sessionstest.UserKeys(t, d, user)); n != driver.MaxUserEntries {
		t.Fatalf("re-indexing at the bound left %d entries", n)
	}

	long := sessionstest.Key(t)
	for i := 0; i < driver.MaxUserEntries; i++ {
		key := fmt.Sprintf("%0*d", MaxKeyLen, i)
		if err := d.IndexUser(bg, long, key, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if fi, _ := os.Stat(d.indexPath(long)); fi.Size() != maxIndexFile {
		t.Fatalf("index file of %d bytes; readIndex reads at most %d", fi.Size(), maxIndexFile)
	}
	if n := len(sessionstest.UserKeys(t, d, long)); n != driver.MaxUserEntries {
		t.Fatalf("a full index file of the longest keys reads as %d entries", n)
	}
}

func TestIndexTwoDriversOneFolder(t *testing.T) {
	if !multiProcess {
		t.Skip("no flock on " + runtime.GOOS)
	}
	dir := t.TempDir()
	a, b := newDriver(t, dir, Options{}), newDriver(t, dir, Options{})
	user := sessionstest.Key(t)
	var wg sync.WaitGroup
	const n = 40
	for i := 0; i < n; i++ {
		d := a
		if i%2 == 1 {
			d = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.IndexUser(bg, user, fmt.Sprintf("k%d", i), time.Now().Add(time.Hour)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if keys := sessionstest.UserKeys(t, b, user); len(keys) != n {
		t.Fatalf("%d keys after %d concurrent IndexUser calls through two drivers", len(keys), n)
	}
}

func TestIndexInvalidUser(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "store")
	d := newDriver(t, dir, Options{SweepInterval: -1})
	for _, bad := range []string{"", ".", "..", "../x", "a/b", "a.idx", "a b", "é", strings.Repeat("a", MaxKeyLen+1)} {
		if err := d.IndexUser(bg, bad, "k", time.Now().Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "file: index: invalid user") {
			t.Errorf("IndexUser(%q) = %v; want an invalid-user error", bad, err)
		}
		if err := d.IndexUser(bg, "u", bad, time.Now().Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "invalid key") {
			t.Errorf("IndexUser(key %q) = %v; want an invalid-key error", bad, err)
		}
		if err := d.UnindexUser(bg, bad, "k"); err == nil {
			t.Errorf("UnindexUser(%q) succeeded", bad)
		}
		if _, err := d.UserKeys(bg, bad); err == nil {
			t.Errorf("UserKeys(%q) succeeded", bad)
		}
	}
	if _, err := d.UserKeys(bg, "../../etc/passwd"); strings.Contains(err.Error(), "passwd") {
		t.Errorf("error repeats the user: %v", err)
	}
	if names := listDir(t, root); len(names) != 1 || names[0] != "store" {
		t.Errorf("root holds %v; want only the store folder", names)
	}
	for _, name := range listDir(t, dir) {
		if !strings.HasPrefix(name, lockPrefix) {
			t.Errorf("folder holds %q after invalid users only", name)
		}
	}
}

func TestSweepIndexFiles(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	live, dead, mixed := sessionstest.Key(t), sessionstest.Key(t), sessionstest.Key(t)
	d.IndexUser(bg, live, "k", time.Now().Add(time.Hour))
	d.IndexUser(bg, dead, "k", time.Now().Add(20*time.Millisecond))
	d.IndexUser(bg, mixed, "brief", time.Now().Add(20*time.Millisecond))
	d.IndexUser(bg, mixed, "long", time.Now().Add(time.Hour))
	os.WriteFile(filepath.Join(dir, "not.a.user.idx"), nil, 0o600)
	os.Chtimes(filepath.Join(dir, "not.a.user.idx"), time.Time{}, time.Now().Add(-time.Hour))
	time.Sleep(40 * time.Millisecond)
	n, err := d.Sweep(bg)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want the one index whose entries all expired", n, err)
	}
	for user, want := range map[string]bool{live: true, dead: false, mixed: true} {
		_, err := os.Stat(d.indexPath(user))
		if exists := err == nil; exists != want {
			t.Errorf("after Sweep index file exists = %v; want %v", exists, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "not.a.user.idx")); err != nil {
		t.Errorf("Sweep removed a file it did not create")
	}
	if keys := sessionstest.UserKeys(t, d, mixed); !slices.Equal(keys, []string{"long"}) {
		t.Errorf("UserKeys after Sweep = %v", keys)
	}
	// The sweeper goroutine does it too.
	d2 := newDriver(t, dir, Options{SweepInterval: 10 * time.Millisecond})
	d2.IndexUser(bg, dead, "k", time.Now().Add(20*time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(d.indexPath(dead)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not remove an expired index file")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIndexAfterClose(t *testing.T) {
	d, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close(bg)
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
}
