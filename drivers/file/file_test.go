package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginkit/sessions/sessionstest"
)

var bg = context.Background()

func newDriver(t *testing.T, dir string, opts Options) *Driver {
	t.Helper()
	d, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(bg) })
	return d
}

func TestConformance(t *testing.T) {
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := New(t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{})
}

func TestConformanceSync(t *testing.T) {
	if testing.Short() {
		t.Skip("fsync per save")
	}
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := New(t.TempDir(), Options{Sync: true, SweepInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, sessionstest.Options{Parallel: 4})
}

// TestTwoDriversOneFolder runs the lost-update check with writers split
// over two Drivers on one folder: their stripes are separate descriptors,
// so only flock keeps them apart.
func TestTwoDriversOneFolder(t *testing.T) {
	if !multiProcess {
		t.Skip("no flock on " + runtime.GOOS)
	}
	dir := t.TempDir()
	a, b := newDriver(t, dir, Options{}), newDriver(t, dir, Options{})
	key := sessionstest.Key(t)
	if ok, err := a.Save(bg, key, make([]byte, 8), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		d := a
		if w%2 == 1 {
			d = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := increment(d, key, 20); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := counter(t, a, key); n != 160 {
		t.Fatalf("counter = %d after 160 increments through two drivers", n)
	}
}

// increment adds 1 to the counter under key n times with conditional saves.
func increment(d *Driver, key string, n int) error {
	for i := 0; i < n; i++ {
		for {
			rec, ver, _, err := d.Load(bg, key)
			if err != nil {
				return err
			}
			if len(rec) != 8 {
				return fmt.Errorf("counter record has %d bytes", len(rec))
			}
			next := binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(rec)+1)
			saved, err := d.Save(bg, key, next, ver, time.Hour)
			if err != nil {
				return err
			}
			if saved {
				break
			}
		}
	}
	return nil
}

func counter(t *testing.T, d *Driver, key string) uint64 {
	t.Helper()
	rec, _, _, err := d.Load(bg, key)
	if err != nil || len(rec) != 8 {
		t.Fatalf("Load counter = %x, %v", rec, err)
	}
	return binary.BigEndian.Uint64(rec)
}

const helperEnv = "GINKIT_FILE_TEST_HELPER"

// TestHelperProcess is not a test: the multi-process tests run the test
// binary again with helperEnv set, and this function then acts as a child.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	dir, key := os.Getenv("HELPER_DIR"), os.Getenv("HELPER_KEY")
	d, err := New(dir, Options{SweepInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch mode {
	case "increment":
		n, _ := strconv.Atoi(os.Getenv("HELPER_N"))
		if err := increment(d, key, n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		d.Close(bg)
		os.Exit(0)
	case "die-mid-write":
		testHookMidWrite = func() {
			fmt.Println("ready") // the header is on disk, the record is not
			select {}            // wait for SIGKILL
		}
		_, ver, _, err := d.Load(bg, key)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		d.Save(bg, key, bytes.Repeat([]byte("new"), 10000), ver, time.Hour)
		os.Exit(5) // unreachable
	case "die-mid-slot", "die-before-expiry":
		// A record that fits the file's slot, so it is written in place.
		hook := func() {
			fmt.Println("ready")
			select {} // wait for SIGKILL
		}
		if mode == "die-mid-slot" {
			testHookMidWrite = hook // half the slot is written
		} else {
			testHookBeforeSetExpiry = hook // the slot is written, the time stamp is not set
		}
		_, ver, _, err := d.Load(bg, key)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		d.Save(bg, key, []byte(os.Getenv("HELPER_REC")), ver, 2*time.Hour)
		os.Exit(5) // unreachable
	case "save": // replace the record under key with HELPER_REC
		_, ver, _, err := d.Load(bg, key)
		if err == nil {
			var ok bool
			ok, err = d.Save(bg, key, []byte(os.Getenv("HELPER_REC")), ver, time.Hour)
			if err == nil && !ok {
				err = errors.New("version conflict")
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(7)
		}
		d.Close(bg)
		os.Exit(0)
	case "delete":
		if err := d.Delete(bg, key); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(8)
		}
		d.Close(bg)
		os.Exit(0)
	}
	os.Exit(6)
}

func helper(mode, dir, key string, extra ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "HELPER_DIR="+dir, "HELPER_KEY="+key)
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// TestMultiProcessNoLostUpdates has 4 processes each increment a counter 25
// times with conditional saves on one folder: without the cross-process
// lock, concurrent read-compare-write sequences would lose increments.
func TestMultiProcessNoLostUpdates(t *testing.T) {
	if !multiProcess {
		t.Skip("no flock on " + runtime.GOOS)
	}
	const procs, each = 4, 25
	dir := t.TempDir()
	d := newDriver(t, dir, Options{})
	key := sessionstest.Key(t)
	if ok, err := d.Save(bg, key, make([]byte, 8), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*bytes.Buffer, procs)
	for i := range cmds {
		cmds[i] = helper("increment", dir, key, "HELPER_N="+strconv.Itoa(each))
		outs[i] = new(bytes.Buffer)
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	// This process increments too, while the children run.
	if err := increment(d, key, each); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	if n := counter(t, d, key); n != (procs+1)*each {
		t.Fatalf("counter = %d after %d increments from %d processes: updates were lost", n, (procs+1)*each, procs+1)
	}
}

// TestWriterKilledMidWrite kills a child process with SIGKILL after it has
// written part of a new record (and while it holds the key's lock): the
// old record must survive intact, the lock must be free again, and the
// stray temporary file must be swept once stale.
func TestWriterKilledMidWrite(t *testing.T) {
	if !multiProcess {
		t.Skip("needs flock and SIGKILL")
	}
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	if ok, err := d.Save(bg, key, []byte("old record"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	_, oldVer, oldExp, _ := d.Load(bg, key)

	killAt(t, "die-mid-write", dir, key)

	rec, ver, exp, err := d.Load(bg, key)
	if err != nil || string(rec) != "old record" || ver != oldVer || !exp.Equal(oldExp) {
		t.Fatalf("after the writer died: Load = %q, %d, %v, %v; want the old record intact", rec, ver, exp, err)
	}
	temps := globTemps(t, dir)
	if len(temps) != 1 {
		t.Fatalf("temporary files after the kill: %v; want the one the child left", temps)
	}
	if fi, _ := os.Stat(temps[0]); fi.Size() != slotHeaderLen {
		t.Fatalf("stray temporary file has %d bytes; want a partial write of %d", fi.Size(), slotHeaderLen)
	}
	// The dead child's flock went with it: this save must not block.
	done := make(chan error, 1)
	go func() {
		_, err := d.Save(bg, key, []byte("after"), oldVer, time.Hour)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Save blocked on the dead writer's lock")
	}
	// A fresh stray file is kept (its writer may be alive), a stale one goes.
	if n, err := d.Sweep(bg); err != nil || n != 0 || len(globTemps(t, dir)) != 1 {
		t.Fatalf("Sweep removed %d (%v); a fresh temporary file must stay", n, err)
	}
	d.tempMaxAge = -time.Second
	if n, err := d.Sweep(bg); err != nil || n != 1 || len(globTemps(t, dir)) != 0 {
		t.Fatalf("Sweep removed %d (%v); want the stale temporary file removed", n, err)
	}
	expectRecord(t, d, key, "after")
}

// killAt runs the helper in mode until it prints "ready", then kills it
// with SIGKILL.
func killAt(t *testing.T, mode, dir, key string, extra ...string) {
	t.Helper()
	cmd := helper(mode, dir, key, extra...)
	startUntilReady(t, cmd)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

// startUntilReady starts cmd, a run of this test binary as a child, and
// returns once it prints "ready"; if it does not, the test fails with the
// child's error output.
func startUntilReady(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v\n%s", line, err, stderr.String())
	}
}

// TestWriterKilledMidSlot kills a writer half-way through rewriting a slot
// in place: the previous record must load intact (from the other slot),
// the file must not be replaced, and the next save must go through.
func TestWriterKilledMidSlot(t *testing.T) {
	if !multiProcess {
		t.Skip("needs flock and SIGKILL")
	}
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1, ReadCache: -1})
	key := sessionstest.Key(t)
	old := bytes.Repeat([]byte("old "), 60)
	mustSave(t, d, key, old, 0, time.Hour)
	_, oldVer, oldExp, _ := d.Load(bg, key)
	fi0, _ := os.Stat(d.path(key))

	killAt(t, "die-mid-slot", dir, key, "HELPER_REC="+strings.Repeat("new!", 70))

	raw, _ := os.ReadFile(d.path(key))
	if !bytes.Contains(raw, []byte("new!")) {
		t.Fatal("the child wrote nothing of the new record: the test did not tear a slot")
	}
	rec, ver, exp, err := d.Load(bg, key)
	if err != nil || !bytes.Equal(rec, old) || ver != oldVer || !exp.Equal(oldExp) {
		t.Fatalf("after the writer died mid-slot: Load = %q, %d, %v, %v; want the old record intact", rec, ver, exp, err)
	}
	if fi, _ := os.Stat(d.path(key)); !os.SameFile(fi0, fi) || len(globTemps(t, dir)) != 0 {
		t.Fatal("an in-place save replaced the file or left a temporary file")
	}
	mustSave(t, d, key, []byte("after"), oldVer, time.Hour)
	expectRecord(t, d, key, "after")
}

// TestWriterKilledBeforeSetExpiry kills a writer after it wrote a slot in
// place and before it set the file's time stamp to the new expiry, which
// leaves the time stamp at the moment of the write, in the past: the
// record is live all the same (its expiry is in the slot), for Load, Scan
// and another Driver's cache, and Sweep keeps the file and repairs its
// time stamp instead of removing it.
func TestWriterKilledBeforeSetExpiry(t *testing.T) {
	if !multiProcess {
		t.Skip("needs flock and SIGKILL")
	}
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	mustSave(t, d, key, []byte("old"), 0, time.Hour)
	mustLoad(t, d, key) // cached

	killAt(t, "die-before-expiry", dir, key, "HELPER_REC=new")
	time.Sleep(10 * time.Millisecond) // the time stamp the write left is now in the past

	path := d.path(key)
	fi, _ := os.Stat(path)
	if fi.ModTime().After(time.Now()) {
		t.Fatalf("the write left the time stamp at %v, in the future: the test did not stop the writer in time", fi.ModTime())
	}
	for _, drv := range []*Driver{d, newDriver(t, dir, Options{SweepInterval: -1, ReadCache: -1})} {
		rec, _, exp, err := drv.Load(bg, key)
		if err != nil || string(rec) != "new" || time.Until(exp) < time.Hour {
			t.Fatalf("Load = %q, %v, %v; want the new record, expiring in about 2h", rec, exp, err)
		}
	}
	var scanned []string
	d.Scan(bg, func(k string) error { scanned = append(scanned, k); return nil })
	if len(scanned) != 1 || scanned[0] != key {
		t.Fatalf("Scan passed %q; want the session", scanned)
	}
	if n, err := d.Sweep(bg); err != nil || n != 0 {
		t.Fatalf("Sweep = %d, %v; it must keep the live session", n, err)
	}
	if fi, _ := os.Stat(path); time.Until(fi.ModTime()) < time.Hour {
		t.Fatalf("after Sweep the time stamp is %v; want it repaired to the record's expiry", fi.ModTime())
	}
	expectRecord(t, d, key, "new")
}

// TestLoadDuringSavesNeverAbsent has one Driver rewrite a session as fast
// as it can while others load it without a lock, with and without a read
// cache: a Load must never find the session absent, nor return a record
// that was not saved. In place, a reader can race a writer on the very
// bytes it reads; the other slot, and the time stamp set only after the
// write, are what keep the session visible.
func TestLoadDuringSavesNeverAbsent(t *testing.T) {
	dir := t.TempDir()
	w := newDriver(t, dir, Options{SweepInterval: -1})
	readers := []*Driver{
		newDriver(t, dir, Options{SweepInterval: -1, ReadCache: -1}),
		newDriver(t, dir, Options{SweepInterval: -1}),
	}
	key := sessionstest.Key(t)
	rec := func(i int) []byte { return fmt.Appendf(nil, "%06d%s", i, bytes.Repeat([]byte{'a' + byte(i%26)}, 200)) }
	mustSave(t, w, key, rec(0), 0, time.Hour)
	const saves = 3000
	done := make(chan struct{})
	errs := make(chan error, len(readers))
	for _, r := range readers {
		go func() {
			loads := 0
			for {
				select {
				case <-done:
					if loads == 0 {
						errs <- errors.New("no Load ran during the saves")
					}
					errs <- nil
					return
				default:
				}
				got, _, _, err := r.Load(bg, key)
				loads++
				if err != nil || got == nil {
					errs <- fmt.Errorf("Load %d during saves = %q, %v; want a record", loads, got, err)
					return
				}
				var i int
				if _, err := fmt.Sscanf(string(got[:6]), "%06d", &i); err != nil || !bytes.Equal(got, rec(i)) {
					errs <- fmt.Errorf("Load returned %q, which was never saved", got)
					return
				}
			}
		}()
	}
	_, ver, _ := mustLoad(t, w, key)
	for i := 1; i <= saves; i++ {
		mustSave(t, w, key, rec(i), ver, time.Hour)
		_, ver, _ = mustLoad(t, w, key)
	}
	close(done)
	for range readers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func globTemps(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, tempPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func expectRecord(t *testing.T, d *Driver, key, want string) {
	t.Helper()
	rec, ver, _, err := d.Load(bg, key)
	if err != nil || string(rec) != want || ver == 0 {
		t.Fatalf("Load = %q, %d, %v; want %q", rec, ver, err, want)
	}
}

func expectAbsent(t *testing.T, d *Driver, key string) {
	t.Helper()
	rec, ver, exp, err := d.Load(bg, key)
	if err != nil || rec != nil || ver != 0 || !exp.IsZero() {
		t.Fatalf("Load = %q, %d, %v, %v; want absent", rec, ver, exp, err)
	}
}

func TestDamagedFilesReadAsAbsent(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	if ok, err := d.Save(bg, key, []byte("a valid record"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	path := d.path(key)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	zeroVersion := bytes.Clone(good)
	encodeSlot(zeroVersion, 1, 0, future.UnixNano(), []byte("x"))
	cases := map[string][]byte{
		"empty":           {},
		"short header":    good[:10],
		"header only":     good[:slotHeaderLen], // record cut off
		"truncated":       good[:len(good)-3],
		"wrong magic":     flip(0),
		"version flipped": flip(18),
		"expiry flipped":  flip(30),
		"record flipped":  flip(slotHeaderLen + 2),
		"zero version":    zeroVersion,
	}
	for name, content := range cases {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, time.Time{}, future)
		rec, ver, _, err := d.Load(bg, key)
		if err != nil || rec != nil || ver != 0 {
			t.Errorf("%s: Load = %q, %d, %v; want absent", name, rec, ver, err)
		}
		// Absent for Save too, so the core's fresh session can replace it.
		if ok, err := d.Save(bg, key, []byte("fresh"), 0, time.Hour); err != nil || !ok {
			t.Errorf("%s: Save(version 0) over a damaged file = %v, %v", name, ok, err)
		}
		expectRecord(t, d, key, "fresh")
	}
	// A directory in place of a session file is absent, not an error.
	key2 := sessionstest.Key(t)
	if err := os.Mkdir(d.path(key2), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(d.path(key2), time.Time{}, future)
	expectAbsent(t, d, key2)
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	d := newDriver(t, dir, Options{})
	for _, p := range []string{filepath.Join(root, "a"), dir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("created folder %s has mode %v; want 0700", p, perm)
		}
	}
	key := sessionstest.Key(t)
	if ok, err := d.Save(bg, key, []byte("secret"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 2 {
		t.Fatalf("folder holds %d files; want a session file and lock files", len(entries))
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v; want 0600", e.Name(), perm)
		}
	}

	// An existing wider folder is used as is.
	wide := filepath.Join(root, "wide")
	if err := os.Mkdir(wide, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(wide, 0o755)
	dw := newDriver(t, wide, Options{})
	if ok, err := dw.Save(bg, key, []byte("x"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if fi, _ := os.Stat(wide); fi.Mode().Perm() != 0o755 {
		t.Errorf("existing folder's mode changed to %v", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(dw.path(key)); fi.Mode().Perm() != 0o600 {
		t.Errorf("session file in a wide folder has mode %v", fi.Mode().Perm())
	}

	// A file where the folder should be is an error.
	notDir := filepath.Join(root, "plain")
	os.WriteFile(notDir, nil, 0o600)
	if d, err := New(notDir, Options{}); err == nil {
		d.Close(bg)
		t.Error("New on a regular file succeeded")
	}
}

func TestPathSafety(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "store")
	d := newDriver(t, dir, Options{SweepInterval: -1})
	bad := []string{
		"", ".", "..", "../x", "../../etc/passwd", "a/b", "/abs", "a\x00b", "a.b", "x.sess",
		"a\\b", "a b", "é", "a\nb", strings.Repeat("a", MaxKeyLen+1),
	}
	for _, key := range bad {
		if _, err := d.Save(bg, key, []byte("x"), 0, time.Hour); err == nil || !strings.Contains(err.Error(), "invalid key") {
			t.Errorf("Save(%q) = %v; want an invalid-key error", key, err)
		}
		if _, _, _, err := d.Load(bg, key); err == nil {
			t.Errorf("Load(%q) succeeded", key)
		}
		if err := d.Delete(bg, key); err == nil {
			t.Errorf("Delete(%q) succeeded", key)
		}
		if err := d.Touch(bg, key, time.Hour); err == nil {
			t.Errorf("Touch(%q) succeeded", key)
		}
	}
	// Errors never repeat the rejected key.
	_, err := d.Save(bg, "../../etc/passwd", nil, 0, time.Hour)
	if strings.Contains(err.Error(), "passwd") {
		t.Errorf("error repeats the key: %v", err)
	}
	// Nothing was created outside the folder, nor inside it but locks.
	if names := listDir(t, root); len(names) != 1 || names[0] != "store" {
		t.Errorf("root holds %v; want only the store folder", names)
	}
	for _, name := range listDir(t, dir) {
		if !strings.HasPrefix(name, lockPrefix) {
			t.Errorf("folder holds %q after invalid keys only", name)
		}
	}
	// The longest valid key works.
	long := strings.Repeat("Az09_-", MaxKeyLen/6) + strings.Repeat("z", MaxKeyLen%6)
	if ok, err := d.Save(bg, long, []byte("x"), 0, time.Hour); err != nil || !ok {
		t.Fatalf("Save(%d-byte key) = %v, %v", len(long), ok, err)
	}
	expectRecord(t, d, long, "x")
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestSweep(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	live, expired, touchedDown := sessionstest.Key(t), sessionstest.Key(t), sessionstest.Key(t)
	for _, k := range []string{live, expired, touchedDown} {
		if ok, err := d.Save(bg, k, []byte(k), 0, time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	past := time.Now().Add(-time.Minute)
	setExpiry(t, d.path(expired), past)
	if err := d.Touch(bg, touchedDown, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-10 * time.Minute)
	write := func(name string, mtime time.Time) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, time.Time{}, mtime)
	}
	// Temporary files as Save names them; the stale one already carries a
	// future expiry as its mtime, as it would after Chtimes.
	staleTemp := fmt.Sprintf("%s%d-12345", tempPrefix, old.Unix())
	write(staleTemp, time.Now().Add(time.Hour))
	freshTemp := fmt.Sprintf("%s%d-67890", tempPrefix, time.Now().Unix())
	write(freshTemp, time.Now().Add(time.Hour))
	write(tempPrefix+"noTimestamp", old) // judged by mtime
	write("README", old)                 // not ours
	write("bad.name.sess", old)          // not a valid key
	time.Sleep(5 * time.Millisecond)

	n, err := d.Sweep(bg)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("Sweep removed %d files; want 4 (2 expired sessions, 2 stale temporary files)", n)
	}
	names := listDir(t, dir)
	has := func(name string) bool {
		i := sort.SearchStrings(names, name)
		return i < len(names) && names[i] == name
	}
	for _, keep := range []string{live + sessSuffix, freshTemp, "README", "bad.name.sess", lockName(0)} {
		if !has(keep) {
			t.Errorf("Sweep removed %s", keep)
		}
	}
	for _, gone := range []string{expired + sessSuffix, touchedDown + sessSuffix, staleTemp, tempPrefix + "noTimestamp"} {
		if has(gone) {
			t.Errorf("Sweep kept %s", gone)
		}
	}
	expectRecord(t, d, live, live)

	ctx, cancel := context.WithCancel(bg)
	cancel()
	setExpiry(t, d.path(live), past)
	if _, err := d.Sweep(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sweep(canceled) = %v", err)
	}
}

func TestSweeperGoroutine(t *testing.T) {
	waitGoroutines := func(want int) int {
		var n int
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if n = runtime.NumGoroutine(); n <= want {
				return n
			}
		}
		return n
	}
	base := waitGoroutines(runtime.NumGoroutine())
	dir := t.TempDir()
	d, err := New(dir, Options{SweepInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	key := sessionstest.Key(t)
	d.Save(bg, key, []byte("x"), 0, 20*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(d.path(key)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sweeper did not remove the expired file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := d.Close(bg); err != nil {
		t.Fatal(err)
	}
	if n := waitGoroutines(base); n > base {
		t.Fatalf("%d goroutines after Close; baseline %d", n, base)
	}
}

func TestTouch(t *testing.T) {
	d := newDriver(t, t.TempDir(), Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	if ok, err := d.Save(bg, key, []byte("content"), 0, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	path := d.path(key)
	fi1, _ := os.Stat(path)
	_, v1, _, _ := d.Load(bg, key)
	if err := d.Touch(bg, key, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(path)
	rec, v2, exp, _ := d.Load(bg, key)
	if string(rec) != "content" || v1 != v2 {
		t.Fatalf("after Touch: %q version %d; want the same record and version %d", rec, v2, v1)
	}
	if !os.SameFile(fi1, fi2) || fi1.Size() != fi2.Size() {
		t.Fatal("Touch replaced or resized the file; it must rewrite a slot in place")
	}
	if want := time.Now().Add(3 * time.Hour); fi2.ModTime().Sub(want).Abs() > 5*time.Second || !exp.Equal(fi2.ModTime()) {
		t.Fatalf("after Touch(3h): mtime %v, Load expiry %v; want about %v", fi2.ModTime(), exp, want)
	}
	// A fresh Driver (no cache of this one's) reads the same.
	d2 := newDriver(t, d.Dir(), Options{SweepInterval: -1, ReadCache: -1})
	if rec, v, e, _ := d2.Load(bg, key); string(rec) != "content" || v != v1 || !e.Equal(exp) {
		t.Fatalf("another Driver loads %q, %d, %v after Touch", rec, v, e)
	}
	// An expired file is not revived.
	setExpiry(t, path, time.Now().Add(-time.Second))
	if err := d.Touch(bg, key, time.Hour); err != nil {
		t.Fatal(err)
	}
	expectAbsent(t, d, key)
	if fi, _ := os.Stat(path); fi.ModTime().After(time.Now()) {
		t.Fatal("Touch moved an expired file's expiry into the future")
	}
	if err := d.Touch(bg, key, 0); err == nil {
		t.Fatal("Touch with ttl 0 succeeded")
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	d, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := 0; i < 20; i++ {
		k := sessionstest.Key(t)
		keys = append(keys, k)
		d.Save(bg, k, []byte("x"), 0, time.Hour)
	}
	if err := d.Close(bg); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(bg); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v; want ErrClosed", err)
	}
	if _, _, _, err := d.Load(bg, keys[0]); err == nil || err.Error() != "file: driver closed" {
		t.Fatalf("Load after Close = %v", err)
	}
	if _, err := d.Save(bg, keys[0], nil, 0, time.Hour); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close = %v", err)
	}
	if err := d.Touch(bg, keys[0], time.Hour); !errors.Is(err, ErrClosed) {
		t.Fatalf("Touch after Close = %v", err)
	}
	if err := d.Delete(bg, keys[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Delete after Close = %v", err)
	}
	if _, err := d.Sweep(bg); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sweep after Close = %v", err)
	}
	for i := range d.stripes {
		if d.stripes[i].f != nil {
			t.Fatalf("lock file %d still open after Close", i)
		}
	}
	if runtime.GOOS == "linux" {
		fds, _ := os.ReadDir("/proc/self/fd")
		for _, fd := range fds {
			if target, _ := os.Readlink("/proc/self/fd/" + fd.Name()); strings.HasPrefix(target, dir) {
				t.Errorf("descriptor %s still open on %s", fd.Name(), target)
			}
		}
	}
	// The files stay: a new driver sees them.
	d2 := newDriver(t, dir, Options{})
	expectRecord(t, d2, keys[0], "x")

	// Close racing with traffic never panics.
	d3, _ := New(t.TempDir(), Options{SweepInterval: time.Millisecond})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := sessionstest.Key(t)
			for i := 0; i < 200; i++ {
				_, v, _, _ := d3.Load(bg, k)
				d3.Save(bg, k, []byte("x"), v, time.Hour)
				d3.Touch(bg, k, time.Hour)
				d3.Sweep(bg)
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	d3.Close(bg)
	wg.Wait()
}

func TestCanceledContext(t *testing.T) {
	d := newDriver(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(bg)
	cancel()
	key := sessionstest.Key(t)
	if _, err := d.Save(ctx, key, nil, 0, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save(canceled) = %v", err)
	}
	if _, _, _, err := d.Load(ctx, key); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load(canceled) = %v", err)
	}
}

func TestStripeIndexIsStable(t *testing.T) {
	// Processes must agree on the stripe of a key: the hash is fixed.
	// FNV-1a("a") = 0xe40c292c, FNV-1a("") = 0x811c9dc5, bytes XORed.
	for key, want := range map[string]int{"a": 0xe4 ^ 0x0c ^ 0x29 ^ 0x2c, "": 0x81 ^ 0x1c ^ 0x9d ^ 0xc5} {
		if got := stripeIndex(key); got != want {
			t.Errorf("stripeIndex(%q) = %#x; want %#x", key, got, want)
		}
	}
	seen := map[int]bool{}
	for i := 0; i < 10000; i++ {
		seen[stripeIndex(strconv.Itoa(i))] = true
	}
	if len(seen) != numStripes {
		t.Errorf("10000 keys used %d of %d stripes", len(seen), numStripes)
	}
}

func TestDSN(t *testing.T) {
	abs := t.TempDir()
	good := []struct {
		dsn  string
		dir  string
		opts Options
	}{
		{"file://", DefaultDir(), Options{}},
		{"file:", DefaultDir(), Options{}},
		{"file://" + filepath.ToSlash(abs), abs, Options{}},
		{"file:" + filepath.ToSlash(abs), abs, Options{}},
		{"file:///var/x/../sessions/", "/var/sessions", Options{}},
		{"file:///srv/my%20sessions", "/srv/my sessions", Options{}},
		{"file:///srv/s?sweep_interval=30s&sync=true", "/srv/s", Options{SweepInterval: 30 * time.Second, Sync: true}},
		{"file:///srv/s?sweep_interval=-1s&sync=0", "/srv/s", Options{SweepInterval: -time.Second}},
	}
	if runtime.GOOS == "windows" {
		good = good[:4]
	}
	for _, tc := range good {
		u, err := url.Parse(tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		dir, opts, err := parseDSN(u)
		if want := filepath.Clean(tc.dir); err != nil || dir != want && tc.dir != DefaultDir() || opts != tc.opts {
			t.Errorf("parseDSN(%q) = %q, %+v, %v; want %q, %+v", tc.dsn, dir, opts, err, want, tc.opts)
		}
		if tc.dir == DefaultDir() && dir != "" {
			t.Errorf("parseDSN(%q) = %q; want the default folder (empty)", tc.dsn, dir)
		}
	}
	d, err := Open(&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: "sweep_interval=1h"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Dir() != abs {
		t.Errorf("Dir() = %q; want %q", d.Dir(), abs)
	}
	d.Close(bg)

	bad := []struct{ dsn, mention string }{
		{"file://host/x", `host "host"`},
		{"file://var/sessions", `host "var"`},
		{"file://localhost/srv", `host "localhost"`},
		{"file://./x", `host "."`},
		{"file:sessions", `relative path "sessions"`},
		{"file:./sessions", "relative path"},
		{"file://user@/srv", "user information"},
		{"file:///srv?sweep=1m", `option "sweep": unknown`},
		{"file:///srv?sweep_interval=5", `"sweep_interval": "5"`},
		{"file:///srv?sync=maybe", `"sync": "maybe"`},
		{"file:///srv?sync=1&sync=0", `"sync": given 2 times`},
		{"file:///srv?%zz", "query"},
	}
	for _, tc := range bad {
		u, err := url.Parse(tc.dsn)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tc.dsn, err)
		}
		_, err = Open(u)
		if err == nil || !strings.Contains(err.Error(), tc.mention) || !strings.HasPrefix(err.Error(), "file: ") {
			t.Errorf("Open(%q) = %v; want an error mentioning %s", tc.dsn, err, tc.mention)
		}
	}
	if _, err := Open(&url.URL{Scheme: "file", Path: "rel/dir"}); err == nil || !strings.Contains(err.Error(), "relative") {
		t.Errorf("Open(relative Path) = %v", err)
	}
	if _, err := Open(nil); err == nil {
		t.Error("Open(nil) succeeded")
	}
}

func BenchmarkSave(b *testing.B) {
	d, err := New(b.TempDir(), Options{SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(bg)
	rec := make([]byte, 1024)
	key := "benchmark-key"
	var ver uint64
	for b.Loop() {
		d.Save(bg, key, rec, ver, time.Hour)
		_, ver, _, _ = d.Load(bg, key)
	}
}
