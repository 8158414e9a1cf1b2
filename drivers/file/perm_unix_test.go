//go:build unix

package file

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions/sessionstest"
)

// nobody is the user ID the tests give folders of "another user".
const nobody = 65534

// needRoot skips a subtest that must chown a file to another user, which
// only root may do. CI runs the tests as root, so there they run.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a folder to another user (chown) needs root; CI runs these tests as root")
	}
}

// expectRefused checks that New(dir) fails with the driver's error naming
// the folder, its mode and its owner, and saying what to run.
func expectRefused(t *testing.T, dir string, mode os.FileMode, uid int, fix string) {
	t.Helper()
	d, err := New(dir, Options{SweepInterval: -1})
	if err == nil {
		d.Close(bg)
		t.Fatalf("New(%s) with mode %04o, owner %d succeeded; want it refused", dir, mode, uid)
	}
	msg := err.Error()
	for _, want := range []string{"file: folder " + dir, fmt.Sprintf("mode %04o", mode), "uid " + strconv.Itoa(uid), fix} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "sessions:") {
		t.Errorf("error %q carries the root's prefix", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, lockName(0))); err == nil {
		t.Errorf("New created a lock file in the refused folder %s", dir)
	}
}

// mkdirMode makes a folder of exactly mode (umask aside) and returns it.
func mkdirMode(t *testing.T, mode os.FileMode) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRefusesFolderOthersCanWrite: a folder every local user may write
// (o+w), sticky or not, is refused, since any user could plant a session
// file in it; the error names the folder, mode and owner and the chmod
// that fixes it. Group write and a plain 0755 are accepted.
func TestRefusesFolderOthersCanWrite(t *testing.T) {
	for _, tc := range []struct {
		mode  os.FileMode // Go's bits
		octal os.FileMode // what ls and chmod call it
	}{
		{0o777, 0o777},
		{0o777 | os.ModeSticky, 0o1777},
		{0o757, 0o757},
		{0o703, 0o703},
	} {
		t.Run(fmt.Sprintf("%04o", tc.octal), func(t *testing.T) {
			dir := mkdirMode(t, tc.mode)
			expectRefused(t, dir, tc.octal, os.Geteuid(), "chmod 0700 "+dir)
		})
	}
	for _, mode := range []os.FileMode{0o700, 0o755, 0o770} {
		t.Run(fmt.Sprintf("%04o accepted", mode), func(t *testing.T) {
			newDriver(t, mkdirMode(t, mode), Options{SweepInterval: -1})
		})
	}
}

// TestRefusesFolderOfAnotherUser: a folder owned by another user (here
// nobody) is refused even with mode 0700, because its owner could plant a
// session in it; a folder owned by this user or by root is accepted, and
// so is a symbolic link owned by either, while a link another user owns
// is refused even when it points at a good folder.
func TestRefusesFolderOfAnotherUser(t *testing.T) {
	t.Run("other user's 0700 folder", func(t *testing.T) {
		needRoot(t)
		dir := mkdirMode(t, 0o700)
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		expectRefused(t, dir, 0o700, nobody, "chown 0 "+dir)
	})
	t.Run("root's 0700 folder", func(t *testing.T) {
		needRoot(t) // as another user, a root-owned 0700 folder cannot be entered at all
		dir := mkdirMode(t, 0o700)
		if err := os.Chown(dir, 0, 0); err != nil {
			t.Fatal(err)
		}
		d := newDriver(t, dir, Options{SweepInterval: -1})
		if ok, err := d.Save(bg, sessionstest.Key(t), []byte("x"), 0, time.Minute); err != nil || !ok {
			t.Fatalf("Save in a root-owned folder = %v, %v", ok, err)
		}
	})
	t.Run("own folder", func(t *testing.T) {
		newDriver(t, mkdirMode(t, 0o700), Options{SweepInterval: -1})
	})
	t.Run("own link", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(mkdirMode(t, 0o700), link); err != nil {
			t.Fatal(err)
		}
		newDriver(t, link, Options{SweepInterval: -1})
	})
	t.Run("other user's link", func(t *testing.T) {
		needRoot(t)
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(mkdirMode(t, 0o700), link); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(link, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		d, err := New(link, Options{SweepInterval: -1})
		if err == nil {
			d.Close(bg)
			t.Fatal("New through a symbolic link owned by another user succeeded")
		}
		if msg := err.Error(); !strings.Contains(msg, link) || !strings.Contains(msg, "symbolic link owned by uid "+strconv.Itoa(nobody)) {
			t.Errorf("error %q does not name the link and its owner", msg)
		}
	})
}

// TestDefaultDirIsPerUserAndChecked: the default folder of "file://" is
// under os.TempDir() and named after this process' user ID, is created
// 0700, and is subject to the same checks, so another user who creates it
// first (writable by all, or their own) gets it refused, not used.
func TestDefaultDirIsPerUserAndChecked(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	want := filepath.Join(tmp, "ginkit-sessions-"+strconv.Itoa(os.Geteuid()))
	if got := DefaultDir(); got != want {
		t.Fatalf("DefaultDir() = %q; want %q", got, want)
	}
	d, err := Open(&url.URL{Scheme: "file", RawQuery: "sweep_interval=-1s"})
	if err != nil {
		t.Fatal(err)
	}
	d.Close(bg)
	if d.Dir() != want {
		t.Errorf("file:// uses %q; want %q", d.Dir(), want)
	}
	if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("default folder: %v, %v; want mode 0700", fi, err)
	}

	t.Run("planted writable by all", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		dir := DefaultDir()
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, 0o777)
		expectRefused(t, dir, 0o777, os.Geteuid(), "chmod 0700 "+dir)
	})
	t.Run("planted by another user", func(t *testing.T) {
		needRoot(t)
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		dir := DefaultDir()
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		expectRefused(t, dir, 0o700, nobody, "chown")
	})
}

// TestSymlinksAreNotFollowed: a symbolic link planted in the folder where
// a session, index or lock file would be is not followed. The session it
// points at is not loaded (with and without the read cache), not touched
// and not overwritten (a save replaces the link), an index it points at
// is not read, and a dangling lock-file link does not create its target.
func TestSymlinksAreNotFollowed(t *testing.T) {
	outside := newDriver(t, t.TempDir(), Options{SweepInterval: -1})
	key := sessionstest.Key(t)
	if ok, err := outside.Save(bg, key, []byte("victim"), 0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	target := outside.path(key)
	targetBytes, _ := os.ReadFile(target)
	targetInfo, _ := os.Stat(target)

	for _, cache := range []int{0, -1} {
		t.Run(fmt.Sprintf("session read_cache=%d", cache), func(t *testing.T) {
			d := newDriver(t, t.TempDir(), Options{SweepInterval: -1, ReadCache: cache})
			if err := os.Symlink(target, d.path(key)); err != nil {
				t.Fatal(err)
			}
			if rec, ver, _, err := d.Load(bg, key); rec != nil || ver != 0 || err != nil {
				t.Fatalf("Load through a planted link = %q, %d, %v; want absent", rec, ver, err)
			}
			if err := d.Touch(bg, key, 5*time.Hour); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(target); !fi.ModTime().Equal(targetInfo.ModTime()) {
				t.Fatalf("Touch through a link moved the target's expiry from %v to %v", targetInfo.ModTime(), fi.ModTime())
			}
			if ok, err := d.Save(bg, key, []byte("mine"), 0, time.Hour); err != nil || !ok {
				t.Fatalf("Save over a planted link = %v, %v", ok, err)
			}
			if b, _ := os.ReadFile(target); !bytes.Equal(b, targetBytes) {
				t.Fatal("Save wrote through a planted link")
			}
			if fi, err := os.Lstat(d.path(key)); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("after Save the session file is %v, %v; want a regular file", fi, err)
			}
			expectRecord(t, d, key, "mine")
		})
	}

	t.Run("index", func(t *testing.T) {
		user := "alice"
		if err := outside.IndexUser(bg, user, key, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		d := newDriver(t, t.TempDir(), Options{SweepInterval: -1})
		if err := os.Symlink(outside.indexPath(user), d.indexPath(user)); err != nil {
			t.Fatal(err)
		}
		if keys, err := d.UserKeys(bg, user); err != nil || len(keys) != 0 {
			t.Fatalf("UserKeys through a planted link = %q, %v; want none", keys, err)
		}
		before, _ := os.ReadFile(outside.indexPath(user))
		if err := d.IndexUser(bg, user, sessionstest.Key(t), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile(outside.indexPath(user)); !bytes.Equal(before, after) {
			t.Fatal("IndexUser wrote through a planted link")
		}
	})

	t.Run("lock file", func(t *testing.T) {
		dir := t.TempDir()
		created := filepath.Join(t.TempDir(), "created-by-the-driver")
		if err := os.Symlink(created, filepath.Join(dir, lockName(0))); err != nil {
			t.Fatal(err)
		}
		d, err := New(dir, Options{SweepInterval: -1})
		if err == nil {
			d.Close(bg)
			t.Error("New with a planted lock-file link succeeded")
		} else if !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("error %q does not say the lock file is a symbolic link", err)
		}
		if _, err := os.Lstat(created); err == nil {
			t.Fatal("opening a lock file created the target of a planted link")
		}
	})
}
