package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/drivers/file"
)

// newFile returns a file driver over dir (no sweeper), closed when the
// test ends.
func newFile(t *testing.T, dir string) *file.Driver {
	t.Helper()
	d, err := file.New(dir, file.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(bg) })
	return d
}

// keysOf returns every key d's Scanner passes, sorted.
func keysOf(t *testing.T, d driver.Driver) []string {
	t.Helper()
	var keys []string
	if err := d.(driver.Scanner).Scan(bg, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

// folderFiles returns the names of the files in dir, sorted, and their
// contents, but for the file driver's lock files: empty files a write
// opens once per lock stripe and keeps, holding nothing.
func folderFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".lock-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, e.Name()+"="+string(b))
	}
	return files
}

// TestSameStore: the check looks at the stores, not at their names. One
// driver value passed twice, and two file drivers over one folder spelled
// three ways, are one store; two folders, and two memory drivers, are
// two. Whatever the answer, no marker is left in either store, and the
// sessions already there are untouched.
func TestSameStore(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	seed := newEngine(t, newFile(t, dir), nil)
	for range 3 {
		stored(t, seed, "k", "v")
	}
	before := folderFiles(t, dir)
	memA, memB := newMemory(t), newMemory(t)
	fileA := newFile(t, dir)
	for _, tc := range []struct {
		name string
		a, b driver.Driver
		same bool
	}{
		{"one memory driver twice", memA, memA, true},
		{"one file driver twice", fileA, fileA, true},
		{"two file drivers over one folder", newFile(t, dir), newFile(t, dir+string(filepath.Separator)), true},
		{"and through ./", newFile(t, filepath.Join(dir, "sub", "..")), newFile(t, dir+"/./"), true},
		{"two folders", newFile(t, dir), newFile(t, other), false},
		{"two folders, the other way", newFile(t, other), newFile(t, dir), false},
		{"two memory drivers", memA, memB, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			same, err := SameStore(bg, tc.a, tc.b)
			if err != nil || same != tc.same {
				t.Fatalf("SameStore = %v, %v; want %v", same, err, tc.same)
			}
			for _, d := range []driver.Driver{tc.a, tc.b} {
				for _, k := range keysOf(t, d) {
					if strings.HasPrefix(k, SameStoreKeyPrefix) {
						t.Fatalf("a marker is left behind: %s", k)
					}
				}
			}
		})
	}
	if after := folderFiles(t, dir); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("the folder's files changed:\nbefore %q\nafter  %q", before, after)
	}
	if n := len(keysOf(t, fileA)); n != 3 {
		t.Fatalf("%d sessions in the store, want 3", n)
	}
	if files := folderFiles(t, other); len(files) != 0 {
		t.Fatalf("files left in the other folder: %v", files)
	}
}

// TestSameStoreMarkerIsNoSession: the marker never decodes as a session,
// in the clear or with encryption, and its key is never a session's.
func TestSameStoreMarkerIsNoSession(t *testing.T) {
	if _, err := DecodeRecord(sameStoreMarker); err == nil {
		t.Fatal("the marker decodes as a record")
	}
	e := newEngine(t, newMemory(t), func(o *Options) { o.EncryptionKeys = [][]byte{make([]byte, 32)} })
	key := SameStoreKeyPrefix + NewID()
	if _, err := e.decode(key, sameStoreMarker); err == nil {
		t.Fatal("the marker opens as a sealed record")
	}
	if len(key) == len(StoreKey(NewID())) {
		t.Fatal("a marker key has the length of a session's store key")
	}
}

// TestSameStoreErrorsDeleteTheMarker: a store that fails the load after
// the save still gets its marker deleted, and the answer is an error, not
// "different stores".
func TestSameStoreErrorsDeleteTheMarker(t *testing.T) {
	mem := newMemory(t)
	same, err := SameStore(bg, failingLoad{plainDriver{d: mem}}, mem)
	if err == nil || same {
		t.Fatalf("SameStore = %v, %v; want an error", same, err)
	}
	if keys := keysOf(t, mem); len(keys) != 0 {
		t.Fatalf("the marker is left behind: %v", keys)
	}
}

// failingLoad fails every Load of the driver it wraps.
type failingLoad struct{ plainDriver }

func (failingLoad) Load(context.Context, string) ([]byte, uint64, time.Time, error) {
	return nil, 0, time.Time{}, errors.New("connection refused")
}

// TestMoveRefusesSameStore: a bulk move whose previous backend is the
// current store (one folder under two names) is refused before it scans,
// and every session is still there; two folders still move.
func TestMoveRefusesSameStore(t *testing.T) {
	dir := t.TempDir()
	cur := newFile(t, dir)
	seed := newEngine(t, cur, nil)
	for range 5 {
		stored(t, seed, "k", "v")
	}
	e := newEngine(t, cur, func(o *Options) { o.Previous = newFile(t, dir+"/./") })
	stats, err := e.Move(bg, func(MoveProgress) {})
	if !errors.Is(err, errSameStore) || KindOf(err) != KindConfig {
		t.Fatalf("Move = %+v, %v; want the same-store refusal", stats, err)
	}
	if got := err.Error(); strings.Count(got, "sessions:") != 1 || !strings.Contains(got, "SESSION_DSN_PREVIOUS") {
		t.Fatalf("the error reads %q", got)
	}
	if stats.Moved+stats.Kept+stats.Skipped+stats.Failed != 0 {
		t.Fatalf("the refused move handled sessions: %+v", stats)
	}
	if keys := keysOf(t, cur); len(keys) != 5 {
		t.Fatalf("%d sessions left of 5: %v", len(keys), keys)
	}

	to := newFile(t, t.TempDir())
	stats, err = newEngine(t, to, func(o *Options) { o.Previous = cur }).Move(bg, nil)
	if err != nil || stats.Moved != 5 {
		t.Fatalf("a move between two folders: %+v, %v", stats, err)
	}
	if n := len(keysOf(t, to)); n != 5 {
		t.Fatalf("%d sessions moved, want 5", n)
	}
}
