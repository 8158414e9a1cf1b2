package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Scan calls fn with the key of every live session record in the folder,
// in no particular order, for bulk tools (count, migrate, purge); it
// implements sessions.Scanner.
//
// Scan first lists the names of the folder's session files ("<key>.sess"
// with a valid key), and then, for each in turn, checks that the file is
// still a regular file of at least a header's length whose expiry has not
// passed, and calls fn with its key. Temporary files, lock files, user
// index files ("<user>.idx") and files the driver did not create are
// never passed. Because the listing is complete before fn first runs, fn
// may change the folder freely (Delete included, as in a purge); the
// names take about 60 bytes of memory each for the scan's duration.
//
// A record live for the whole scan is passed, normally once. Listing a
// folder while other processes rename files in it is not exact on every
// file system, though: a record re-saved while the listing is being read
// may be listed twice, or on a file system whose listing order changes
// when a file is renamed over another (tmpfs on older Linux kernels) be
// missed. Only that short window is exposed. A record saved after the
// listing is not passed; one deleted or expired before fn's turn is not
// passed. Scan reads a file's contents only when its time stamp says it
// expired (to tell an expired record from a save that has not set the time
// stamp yet), so a damaged session file (which Load reports as absent)
// may be passed. fn is called from the goroutine
// that called Scan, one key at a time. Scan takes no lock stripe.
//
// If fn returns an error, Scan stops and returns that error unchanged. It
// also stops when ctx ends, with an error wrapping ctx's, and returns
// ErrClosed after Close (also when Close happens during the scan).
func (d *Driver) Scan(ctx context.Context, fn func(key string) error) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: scan: %w", err)
	}
	keys, err := d.listKeys(ctx)
	if err != nil {
		return err
	}
	for _, key := range keys {
		if d.closed.Load() {
			return ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("file: scan: %w", err)
		}
		fi, err := os.Lstat(d.path(key))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since the listing
		}
		if err != nil {
			return fmt.Errorf("file: scan: %w", err)
		}
		if !fi.Mode().IsRegular() || fi.Size() < minFileLen {
			continue
		}
		if !fi.ModTime().After(time.Now()) {
			// Expired, or a save was caught between writing its record
			// and setting the time stamp (or died there): the file decides.
			st, err := readSession(d.path(key))
			if err != nil {
				return fmt.Errorf("file: scan: %w", err)
			}
			if !st.live(time.Now().UnixNano()) {
				continue
			}
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	return nil
}

// listKeys returns the keys of the session files in the folder, whatever
// their expiry.
func (d *Driver) listKeys(ctx context.Context) ([]string, error) {
	dir, err := os.Open(d.dir)
	if err != nil {
		return nil, fmt.Errorf("file: scan: %w", err)
	}
	defer dir.Close()
	var keys []string
	for {
		entries, rerr := dir.ReadDir(1024)
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, sessSuffix) || !e.Type().IsRegular() {
				continue
			}
			if key := strings.TrimSuffix(name, sessSuffix); checkKey(key) == nil {
				keys = append(keys, key)
			}
		}
		if rerr == io.EOF {
			return keys, nil
		}
		if rerr != nil {
			return nil, fmt.Errorf("file: scan: list folder: %w", rerr)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("file: scan: %w", err)
		}
		if d.closed.Load() {
			return nil, ErrClosed
		}
	}
}
