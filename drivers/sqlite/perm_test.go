//go:build unix

package sqlite_test

import (
	"context"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ginkit/sessions/sessionstest"
)

// TestFilesArePrivate: the database file Open creates, and the -wal and
// -shm files SQLite creates beside it, are 0600 after a write, whatever
// the umask, so other local users cannot read the sessions in them.
func TestFilesArePrivate(t *testing.T) {
	// The usual umask, under which SQLite's own default makes 0644.
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dsn := fileDSN(t, "sweep_interval=-1s")
	d := openDSN(t, dsn)
	if ok, err := d.Save(context.Background(), sessionstest.Key(t), []byte("secret"), 0, time.Hour); err != nil || !ok {
		t.Fatalf("Save = %v, %v", ok, err)
	}
	u, _ := url.Parse(dsn)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(u.Path + suffix)
		if err != nil {
			t.Errorf("database file%s: %v", suffix, err)
			continue
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("database file%s has mode %04o; want 0600", suffix, perm)
		}
	}
}
