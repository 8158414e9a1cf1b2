//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package file

import (
	"errors"
	"io/fs"
)

// cacheSupported reports whether this system reports the file identity
// the read cache needs (see fileID): here it does not, so there is no read
// cache and every Load reads the file.
const cacheSupported = false

var errNoIdentity = errors.New("file identity not available on this system")

// statFile is never called without a read cache.
func statFile(path string) (fileID, bool, error) {
	return fileID{}, false, &fs.PathError{Op: "stat", Path: path, Err: errNoIdentity}
}

// idOf reports no identity on this system.
func idOf(fs.FileInfo) (fileID, bool) { return fileID{}, false }
