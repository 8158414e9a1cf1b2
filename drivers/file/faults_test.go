package file

// Faults the kernel really produces, injected under the file driver: a
// folder that is read-only (EROFS from a read-only bind mount, EACCES from
// permissions), a full disk (ENOSPC on a tiny tmpfs), a file size limit
// (EFBIG from RLIMIT_FSIZE), and writers killed at arbitrary moments.
//
// Each fault runs in a child process (the test binary again, running
// TestFaultHelperProcess), because each changes the state of the whole
// process: its mount namespace, its user ID or its resource limits. The
// child reports what the driver did as JSON on stdout; the parent checks
// the report and, where the child's folder is visible to it, the folder
// itself. Tests run as root here, where permissions do not stop writes: a
// root child drops to an unprivileged user for EACCES, and mount
// namespaces (which need root) give EROFS and ENOSPC. A fault that cannot
// be produced on the machine skips with a message saying why; none is
// faked.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ginkit/sessions/sessionstest"
)

const faultEnv = "GINKIT_FILE_FAULT_HELPER"

// faultResult is one driver call as the child saw it.
type faultResult struct {
	Err   string `json:"err,omitempty"`
	Errno string `json:"errno,omitempty"` // the syscall.Errno inside Err, by name
}

func faultResultOf(err error) faultResult {
	if err == nil {
		return faultResult{}
	}
	r := faultResult{Err: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		r.Errno = faultErrnoName(errno)
	}
	return r
}

func faultErrnoName(e syscall.Errno) string {
	for name, v := range map[string]syscall.Errno{"EROFS": syscall.EROFS, "EACCES": syscall.EACCES, "EPERM": syscall.EPERM,
		"ENOSPC": syscall.ENOSPC, "EFBIG": syscall.EFBIG, "EDQUOT": syscall.EDQUOT} {
		if e == v {
			return name
		}
	}
	return fmt.Sprintf("errno %d", int(e))
}

// faultReport is what a child prints.
type faultReport struct {
	Skip    string                 `json:"skip,omitempty"`  // the fault cannot be produced here, and why
	Setup   string                 `json:"setup,omitempty"` // a setup step failed
	Calls   map[string]faultResult `json:"calls"`
	Loaded  []byte                 `json:"loaded"` // the record Load returned after the faults
	Version uint64                 `json:"version"`
	Expires time.Time              `json:"expires"`
	Temps   []string               `json:"temps"` // temporary files left in the folder
}

// TestFaultHelperProcess is not a test: the fault tests run the test
// binary again with faultEnv set, and this function then acts as a child.
func TestFaultHelperProcess(t *testing.T) {
	mode := os.Getenv(faultEnv)
	if mode == "" {
		return
	}
	dir, key := os.Getenv("FAULT_DIR"), os.Getenv("FAULT_KEY")
	rep := faultReport{Calls: map[string]faultResult{}}
	out := json.NewEncoder(os.Stdout)
	finish := func() {
		if st, err := readSession(filepath.Join(dir, key+sessSuffix)); err == nil && st.live(time.Now().UnixNano()) {
			rep.Loaded, rep.Version, rep.Expires = st.record, st.version, time.Unix(0, st.expires)
		}
		rep.Temps, _ = filepath.Glob(filepath.Join(dir, tempPrefix+"*"))
		_ = out.Encode(rep)
		os.Exit(0)
	}
	skip := func(format string, args ...any) { rep.Skip = fmt.Sprintf(format, args...); finish() }
	setup := func(format string, args ...any) { rep.Setup = fmt.Sprintf(format, args...); finish() }
	call := func(name string, err error) { rep.Calls[name] = faultResultOf(err) }
	other := faultOtherStripeKey(key)

	switch mode {
	case "erofs":
		// The driver is running when its folder turns read-only: a bind
		// mount of the folder onto itself, remounted read-only, in this
		// process's own mount namespace (the parent still sees it
		// writable, and checks the record there afterwards).
		d, err := New(dir, Options{SweepInterval: -1})
		if err != nil {
			setup("New: %v", err)
		}
		s, err := d.lock(key) // open the key's lock stripe while the folder is writable
		if err != nil {
			setup("lock: %v", err)
		}
		s.unlock()
		_, ver, _, err := d.Load(bg, key)
		if err != nil || ver == 0 {
			setup("Load before the fault: %d, %v", ver, err)
		}
		if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
			skip("bind mount: %v (needs CAP_SYS_ADMIN in a mount namespace)", err)
		}
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			skip("read-only remount: %v", err)
		}
		_, err = d.Save(bg, key, bytes.Repeat([]byte("new"), 1000), ver, time.Hour)
		call("save", err)
		call("touch", d.Touch(bg, key, 2*time.Hour))
		call("delete", d.Delete(bg, key))
		_, err = d.Save(bg, other, []byte("x"), 0, time.Hour)
		call("save on another stripe", err)
		d2, err := New(dir, Options{SweepInterval: -1})
		if err == nil {
			d2.Close(bg)
		}
		call("new", err)
		d.Close(bg)
		finish()

	case "eacces":
		// Permissions, for an unprivileged user: a root child drops to
		// nobody first (root ignores permission bits).
		if os.Geteuid() == 0 {
			if err := syscall.Setgroups(nil); err != nil {
				skip("setgroups: %v", err)
			}
			if err := syscall.Setgid(65534); err != nil {
				skip("setgid nobody: %v", err)
			}
			if err := syscall.Setuid(65534); err != nil {
				skip("setuid nobody: %v", err)
			}
		}
		d, err := New(dir, Options{SweepInterval: -1})
		if err != nil {
			setup("New: %v", err)
		}
		_, ver, _, err := d.Load(bg, key)
		if err != nil || ver == 0 {
			setup("Load: %d, %v", ver, err)
		}
		_, err = d.Save(bg, key, bytes.Repeat([]byte("new"), 1000), ver, time.Hour)
		call("save", err)
		call("delete", d.Delete(bg, key))
		_, err = d.Save(bg, other, []byte("x"), 0, time.Hour)
		call("save on another stripe", err)
		d.Close(bg)
		finish()

	case "enospc":
		// A full disk: a 64 KiB tmpfs over the (empty) folder, in this
		// process's own mount namespace.
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
			skip("mount tmpfs: %v (needs CAP_SYS_ADMIN in a mount namespace)", err)
		}
		d, err := New(dir, Options{SweepInterval: -1})
		if err != nil {
			setup("New on the tmpfs: %v", err)
		}
		if ok, err := d.Save(bg, key, []byte("old record"), 0, time.Hour); err != nil || !ok {
			setup("first save: %v, %v", ok, err)
		}
		_, ver, _, _ := d.Load(bg, key)
		_, err = d.Save(bg, key, bytes.Repeat([]byte("x"), 1<<20), ver, time.Hour)
		call("save", err)
		finish()

	case "efbig":
		// A file size limit, enforced by the kernel for this process: a
		// write past it fails with EFBIG (Go ignores SIGXFSZ).
		d, err := New(dir, Options{SweepInterval: -1})
		if err != nil {
			setup("New: %v", err)
		}
		_, ver, _, err := d.Load(bg, key)
		if err != nil || ver == 0 {
			setup("Load: %d, %v", ver, err)
		}
		lim := syscall.Rlimit{Cur: 64 << 10, Max: 64 << 10}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			skip("setrlimit: %v", err)
		}
		_, err = d.Save(bg, key, bytes.Repeat([]byte("x"), 256<<10), ver, time.Hour)
		call("save", err)
		_, err = d.Save(bg, other, []byte("small"), 0, time.Hour)
		call("small save", err)
		d.Close(bg)
		finish()

	case "churn":
		// Save records of 256 KiB, each all one byte, forever: the parent
		// kills this process at a random moment.
		d, err := New(dir, Options{SweepInterval: -1})
		if err != nil {
			setup("New: %v", err)
		}
		fmt.Println("ready")
		// Bounded, in case the parent dies before it kills this process.
		for i, start := 1, time.Now(); i < 100_000 && time.Since(start) < 20*time.Second; i++ {
			_, ver, _, err := d.Load(bg, key)
			if err != nil {
				setup("Load: %v", err)
			}
			if _, err := d.Save(bg, key, bytes.Repeat([]byte{byte('a' + i%26)}, faultChurnSize), ver, time.Hour); err != nil {
				setup("Save: %v", err)
			}
		}
		os.Exit(0)
	}
	os.Exit(7)
}

// faultChurnSize is the size of each record the churning child writes.
const faultChurnSize = 256 << 10

// faultOtherStripeKey returns a key whose lock stripe differs from key's.
func faultOtherStripeKey(key string) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("other%d", i)
		if stripeIndex(k) != stripeIndex(key) {
			return k
		}
	}
}

// faultChild runs the helper in mode over dir and key. unshare gives the
// child its own mount namespace.
func faultChild(t *testing.T, mode, dir, key string, unshare bool) faultReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultHelperProcess$")
	cmd.Env = append(os.Environ(), faultEnv+"="+mode, "FAULT_DIR="+dir, "FAULT_KEY="+key)
	if unshare {
		if runtime.GOOS != "linux" {
			t.Skip("mount namespaces are Linux only")
		}
		if os.Geteuid() != 0 {
			t.Skip("a mount namespace needs root (CAP_SYS_ADMIN); this fault is skipped for other users")
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		if unshare {
			t.Skipf("cannot start a child in its own mount namespace here: %v", err)
		}
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child %s: %v\nstdout: %s\nstderr: %s", mode, err, stdout.String(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("child %s hung\nstderr: %s", mode, stderr.String())
	}
	var rep faultReport
	line, _, _ := strings.Cut(stdout.String(), "\n")
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		t.Fatalf("child %s printed %q: %v\nstderr: %s", mode, stdout.String(), err, stderr.String())
	}
	if rep.Setup != "" {
		t.Fatalf("child %s: %s", mode, rep.Setup)
	}
	if rep.Skip != "" {
		t.Skipf("%s cannot be produced here: %s", mode, rep.Skip)
	}
	return rep
}

// faultExpectErr checks that a call failed cleanly with the expected errno:
// an error from the driver ("file: <op>:"), carrying the errno.
func faultExpectErr(t *testing.T, rep faultReport, call, op string, errnos ...string) {
	t.Helper()
	r, ok := rep.Calls[call]
	switch {
	case !ok:
		t.Errorf("%s: not run", call)
	case r.Err == "":
		t.Errorf("%s succeeded; want an error", call)
	case !strings.HasPrefix(r.Err, "file: "+op+": "):
		t.Errorf("%s: error %q does not say what failed", call, r.Err)
	case !faultContains(errnos, r.Errno):
		t.Errorf("%s: error %q carries %q; want one of %v", call, r.Err, r.Errno, errnos)
	default:
		t.Logf("%s: %s", call, r.Err)
	}
}

func faultContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// faultSeed creates dir with one session record under a fresh key and
// returns the key and what Load reports for it.
func faultSeed(t *testing.T, dir string) (key string, rec []byte, ver uint64, exp time.Time) {
	t.Helper()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	key = sessionstest.Key(t)
	if ok, err := d.Save(bg, key, []byte("old record"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	rec, ver, exp, err := d.Load(bg, key)
	if err != nil || ver == 0 {
		t.Fatal(ver, err)
	}
	return key, rec, ver, exp
}

// faultIntact checks, from this process, that the record under key is
// exactly as seeded and that no temporary file was left behind.
func faultIntact(t *testing.T, dir, key string, rec []byte, ver uint64, exp time.Time) {
	t.Helper()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	got, gotVer, gotExp, err := d.Load(bg, key)
	if err != nil || !bytes.Equal(got, rec) || gotVer != ver || !gotExp.Equal(exp) {
		t.Errorf("after the fault: Load = %q, %d, %v, %v; want the old record %q, %d, %v intact", got, gotVer, gotExp, err, rec, ver, exp)
	}
	if temps := globTemps(t, dir); len(temps) != 0 {
		t.Errorf("temporary files left behind: %v", temps)
	}
}

// TestFaultReadOnlyFolderEROFS: the folder becomes read-only (a read-only
// bind mount) while the driver runs. Save, Touch and Delete fail with
// EROFS and say which operation failed; the record stays exactly as it was
// (bytes, version, expiry), no temporary file is left, and New on the
// read-only folder fails at once rather than at the first save.
func TestFaultReadOnlyFolderEROFS(t *testing.T) {
	dir := t.TempDir()
	key, rec, ver, exp := faultSeed(t, dir)
	rep := faultChild(t, "erofs", dir, key, true)
	faultExpectErr(t, rep, "save", "save", "EROFS")
	faultExpectErr(t, rep, "touch", "touch", "EROFS")
	faultExpectErr(t, rep, "delete", "delete", "EROFS")
	faultExpectErr(t, rep, "save on another stripe", "save", "EROFS")
	if r := rep.Calls["new"]; r.Err == "" || r.Errno != "EROFS" {
		t.Errorf("New on a read-only folder = %+v; want an EROFS error", r)
	}
	if !bytes.Equal(rep.Loaded, rec) || rep.Version != ver || !rep.Expires.Equal(exp) || len(rep.Temps) != 0 {
		t.Errorf("inside the read-only mount: Load = %q, %d, %v, temps %v; want the old record", rep.Loaded, rep.Version, rep.Expires, rep.Temps)
	}
	faultIntact(t, dir, key, rec, ver, exp)
}

// TestFaultReadOnlyFolderEACCES: a folder the process may not write
// (mode 0500 for its owner; for root, the child drops to the user nobody,
// since root ignores permission bits). Save and Delete fail with EACCES;
// the record stays intact.
func TestFaultReadOnlyFolderEACCES(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	dir := t.TempDir()
	key, rec, ver, exp := faultSeed(t, dir)
	if os.Geteuid() == 0 {
		// nobody must reach the folder and open the files that exist: the
		// folder's ancestors (test folders, 0700) become traversable, the
		// files become nobody's; the folder itself stays root's, 0555.
		for p := filepath.Dir(dir); strings.HasPrefix(p, os.TempDir()) && p != os.TempDir(); p = filepath.Dir(p) {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if err := os.Chown(filepath.Join(dir, e.Name()), 65534, 65534); err != nil {
				t.Skipf("chown to nobody: %v", err)
			}
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	rep := faultChild(t, "eacces", dir, key, false)
	faultExpectErr(t, rep, "save", "save", "EACCES")
	faultExpectErr(t, rep, "delete", "delete", "EACCES")
	faultExpectErr(t, rep, "save on another stripe", "save", "EACCES")
	os.Chmod(dir, 0o700)
	faultIntact(t, dir, key, rec, ver, exp)
}

// TestFaultDiskFull: the folder is a 64 KiB tmpfs; a 1 MiB save runs out
// of space (ENOSPC). The error names the save, the previous record is
// intact and the partial temporary file is removed. (The tmpfs lives in
// the child's mount namespace, so the child checks the folder itself.)
func TestFaultDiskFull(t *testing.T) {
	dir := t.TempDir()
	rep := faultChild(t, "enospc", dir, sessionstest.Key(t), true)
	faultExpectErr(t, rep, "save", "save", "ENOSPC", "EDQUOT")
	if string(rep.Loaded) != "old record" || rep.Version == 0 || len(rep.Temps) != 0 {
		t.Errorf("after ENOSPC: Load = %q (version %d), temps %v; want the old record and no temporary file", rep.Loaded, rep.Version, rep.Temps)
	}
}

// TestFaultFileSizeLimit: with RLIMIT_FSIZE at 64 KiB, a 256 KiB save
// fails with EFBIG (a limit the kernel enforces; unlike ENOSPC it needs
// no privileges). The previous record is intact, no temporary file is
// left, and a small save still works.
func TestFaultFileSizeLimit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no RLIMIT_FSIZE")
	}
	dir := t.TempDir()
	key, rec, ver, exp := faultSeed(t, dir)
	rep := faultChild(t, "efbig", dir, key, false)
	faultExpectErr(t, rep, "save", "save", "EFBIG")
	if r := rep.Calls["small save"]; r.Err != "" {
		t.Errorf("a small save under the limit failed: %s", r.Err)
	}
	faultIntact(t, dir, key, rec, ver, exp)
}

// TestFaultKilledWriterNeverTears kills a process that saves 256 KiB
// records in a loop with SIGKILL, at a random moment, ten times. After
// each kill the record under the key is always whole: the previous record
// or one complete new one (every byte the same, the full length, the
// checksum good), never absent and never a mix; the dead writer's lock
// is free; stray temporary files are swept. (TestWriterKilledMidWrite
// kills at a fixed point inside a write; this kills anywhere.)
func TestFaultKilledWriterNeverTears(t *testing.T) {
	if !multiProcess {
		t.Skip("needs flock and SIGKILL")
	}
	dir := t.TempDir()
	d := newDriver(t, dir, Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	if ok, err := d.Save(bg, key, bytes.Repeat([]byte{'A'}, faultChurnSize), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	contents := map[byte]bool{}
	const kills = 10
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFaultHelperProcess$")
		cmd.Env = append(os.Environ(), faultEnv+"=churn", "FAULT_DIR="+dir, "FAULT_KEY="+key)
		startUntilReady(t, cmd)
		time.Sleep(time.Duration(5+rand.IntN(60)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		rec, ver, _, err := d.Load(bg, key)
		if err != nil || len(rec) != faultChurnSize || ver == 0 {
			t.Fatalf("kill %d: Load = %d bytes, version %d, %v; want a whole %d-byte record", i, len(rec), ver, err, faultChurnSize)
		}
		if n := bytes.Count(rec, rec[:1]); n != len(rec) {
			t.Fatalf("kill %d: the record mixes two writes: %d of %d bytes are %q", i, n, len(rec), rec[:1])
		}
		contents[rec[0]] = true
		// The lock died with the writer.
		done := make(chan error, 1)
		go func() {
			_, err := d.Save(bg, key, rec, ver, time.Hour)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("kill %d: Save blocked on the dead writer's lock", i)
		}
	}
	temps := globTemps(t, dir)
	d.tempMaxAge = -time.Second
	n, err := d.Sweep(bg)
	if err != nil || len(globTemps(t, dir)) != 0 {
		t.Fatalf("Sweep = %d, %v; temporary files left: %v", n, err, globTemps(t, dir))
	}
	t.Logf("%d kills at random moments: every record whole (%d distinct records seen after the kills); %d stray temporary files swept", kills, len(contents), len(temps))
}
