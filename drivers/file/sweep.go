package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sweeper runs Sweep every interval until ctx is canceled (by Close).
func (d *Driver) sweeper(ctx context.Context, interval time.Duration) {
	defer close(d.sweeperDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Errors are left for the next sweep: a file that could not be
			// removed is expired and so invisible anyway.
			_, _ = d.Sweep(ctx)
		}
	}
}

// Sweep removes the expired session files in the folder, the user index
// files whose entries have all expired, and the temporary files left more
// than five minutes ago by writers that died before renaming them, and
// returns how many files it removed. Live session files, index files with
// a live entry, fresh temporary files, lock files and files the driver did
// not create are kept. Each session (index) file is removed under its key's
// (user's) lock stripe after checking again that it has expired, so Sweep
// never removes a session that a concurrent Save or Touch (in any process)
// has just renewed, nor an index that a concurrent IndexUser has. It is
// safe to run from several processes at once. Sweep keeps going past files
// it fails to remove and returns the first such error; it stops early,
// with ctx's error, if ctx ends. It also drops expired records from this
// Driver's read cache.
func (d *Driver) Sweep(ctx context.Context) (removed int, err error) {
	if d.closed.Load() {
		return 0, ErrClosed
	}
	dir, err := os.Open(d.dir)
	if err != nil {
		return 0, fmt.Errorf("file: sweep: %w", err)
	}
	defer dir.Close()
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("file: sweep: %w", err)
		}
	}
	if d.cache != nil {
		// Expired entries are useless (Load checks the expiry first); drop
		// them now rather than when their key is next loaded.
		d.cache.purgeExpired(time.Now().UnixNano())
	}
	for {
		// Read the folder in batches so a huge folder needs little memory.
		entries, rerr := dir.ReadDir(1024)
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return removed, fmt.Errorf("file: sweep: %w", err)
			}
			name := e.Name()
			var ok bool
			var err error
			switch {
			case strings.HasSuffix(name, sessSuffix):
				ok, err = d.removeIfExpired(strings.TrimSuffix(name, sessSuffix))
			case strings.HasSuffix(name, idxSuffix):
				ok, err = d.removeIndexIfExpired(strings.TrimSuffix(name, idxSuffix))
			case strings.HasPrefix(name, tempPrefix):
				ok, err = d.removeIfStale(e)
			}
			if errors.Is(err, ErrClosed) {
				return removed, err
			}
			note(err)
			if ok {
				removed++
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			note(rerr)
			break
		}
	}
	return removed, firstErr
}

// removeIfExpired removes the session file of key if it has expired,
// checking under the key's stripe lock.
func (d *Driver) removeIfExpired(key string) (bool, error) {
	if checkKey(key) != nil {
		return false, nil // not a name this driver creates
	}
	path := d.path(key)
	removed, err := d.removeExpiredFile(key, path, func() (bool, error) {
		// The time stamp said expired; the record may say otherwise if a
		// save died before setting it. Then the time stamp is set again,
		// so the next sweep does not read the file.
		st, err := readSession(path)
		if err != nil || !st.live(time.Now().UnixNano()) {
			return false, err
		}
		return true, os.Chtimes(path, time.Time{}, time.Unix(0, st.expires))
	})
	if removed && d.cache != nil {
		d.cache.drop(key)
	}
	return removed, err
}

// removeExpiredFile removes the file at path if its modification time (the
// expiry of what it holds) has passed: a first look without a lock (most
// files are live), then again under name's stripe lock, so it never
// removes a file a concurrent save, touch or index update has just
// renewed. Under the lock, live (nil for index files) has the last word:
// if it reports the file live, the file stays.
func (d *Driver) removeExpiredFile(name, path string, live func() (bool, error)) (bool, error) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.ModTime().After(time.Now()) {
		return false, nil
	}
	s, err := d.lock(name)
	if err != nil {
		return false, err
	}
	defer s.unlock()
	fi, err = os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.ModTime().After(time.Now()) {
		return false, nil // removed or renewed meanwhile
	}
	if live != nil {
		if ok, err := live(); ok || err != nil {
			return false, err
		}
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// removeIfStale removes a temporary file created more than d.tempMaxAge
// ago. Its age comes from the Unix time in its name (".tmp-<unix>-…"),
// because its modification time may already be set to a session's expiry;
// for a name without one, from its modification time.
func (d *Driver) removeIfStale(e fs.DirEntry) (bool, error) {
	name := e.Name()
	var created time.Time
	rest := strings.TrimPrefix(name, tempPrefix)
	if i := strings.IndexByte(rest, '-'); i > 0 {
		if sec, err := strconv.ParseInt(rest[:i], 10, 64); err == nil {
			created = time.Unix(sec, 0)
		}
	}
	if created.IsZero() {
		fi, err := e.Info()
		if err != nil {
			return false, nil
		}
		created = fi.ModTime()
	}
	if time.Since(created) <= d.tempMaxAge {
		return false, nil
	}
	if !e.Type().IsRegular() {
		return false, nil
	}
	if err := os.Remove(filepath.Join(d.dir, name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
