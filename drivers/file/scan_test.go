package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ginkit/sessions/sessionstest"
)

func scanKeys(t *testing.T, d *Driver) []string {
	t.Helper()
	var keys []string
	if err := d.Scan(bg, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	slices.Sort(keys)
	return keys
}

// TestScanPassesSessionFilesOnly fills a folder with every kind of file
// the driver makes, and some it does not, and checks that Scan passes
// exactly the live, well-formed session files.
func TestScanPassesSessionFilesOnly(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	live := []string{sessionstest.Key(t), sessionstest.Key(t), "short-key"}
	for _, k := range live {
		if ok, err := d.Save(bg, k, []byte("x"), 0, time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	expired := sessionstest.Key(t)
	d.Save(bg, expired, []byte("x"), 0, time.Hour)
	setExpiry(t, d.path(expired), time.Now().Add(-time.Second))
	user := sessionstest.Key(t)
	d.IndexUser(bg, user, live[0], time.Now().Add(time.Hour))

	future := time.Now().Add(time.Hour)
	write := func(name string, content []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, time.Time{}, future)
	}
	write(tempPrefix+"123-456", make([]byte, 64))            // a temporary file
	write("bad.name.sess", make([]byte, 64))                 // not a valid key
	write(sessionstest.Key(t)+sessSuffix, []byte("tiny"))    // shorter than a header
	write("README", nil)                                     // not ours
	write(sessionstest.Key(t)+".sess.bak", make([]byte, 64)) // not a session suffix
	if err := os.Mkdir(filepath.Join(dir, "adir"+sessSuffix), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(d.path(live[0]), filepath.Join(dir, "link"+sessSuffix)); err != nil {
		t.Logf("no symlink: %v", err)
	}

	want := slices.Clone(live)
	slices.Sort(want)
	if got := scanKeys(t, d); !slices.Equal(got, want) {
		t.Fatalf("Scan passed %q; want exactly the live sessions %q", got, want)
	}
}

func TestScanStops(t *testing.T) {
	d := newDriver(t, t.TempDir(), Options{SweepInterval: -1})
	for i := 0; i < 5; i++ {
		d.Save(bg, sessionstest.Key(t), []byte("x"), 0, time.Hour)
	}
	stop := errors.New("stop")
	calls := 0
	if err := d.Scan(bg, func(string) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("Scan = %v after %d calls; want fn's error after one", err, calls)
	}
	ctx, cancel := context.WithCancel(bg)
	calls = 0
	err := d.Scan(ctx, func(string) error { calls++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Scan canceled by fn = %v after %d calls", err, calls)
	}
	calls = 0
	err = d.Scan(bg, func(string) error { calls++; return d.Close(bg) })
	if !errors.Is(err, ErrClosed) || calls != 1 {
		t.Fatalf("Scan closed by fn = %v after %d calls; want ErrClosed", err, calls)
	}
}

// TestScanPurgeLargeFolder deletes every key from fn over more files than
// one directory read returns.
func TestScanPurgeLargeFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 3000 files")
	}
	d := newDriver(t, t.TempDir(), Options{SweepInterval: -1})
	const n = 3000
	for i := 0; i < n; i++ {
		if ok, err := d.Save(bg, sessionstest.Key(t), nil, 0, time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	deleted := 0
	err := d.Scan(bg, func(k string) error { deleted++; return d.Delete(bg, k) })
	if err != nil || deleted != n {
		t.Fatalf("Scan deleting = %v after %d keys; want %d", err, deleted, n)
	}
	if keys := scanKeys(t, d); len(keys) != 0 {
		t.Fatalf("%d keys left after the purge", len(keys))
	}
}
