//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file

import (
	"errors"
	"io/fs"
	"syscall"
)

// cacheSupported reports whether this system reports the file identity
// the read cache needs (see fileID). It is true exactly where lock
// stripes exclude other processes (multiProcess).
const cacheSupported = true

// statFile stats path (not following a symbolic link, as opening it does
// not) with one lstat(2) and returns the identity of the file and whether
// it is a regular file (a link is not). A missing file gives an error
// matching fs.ErrNotExist.
func statFile(path string) (id fileID, regular bool, err error) {
	var st syscall.Stat_t
	for {
		err = syscall.Lstat(path, &st)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fileID{}, false, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return idOfStat(&st), uint32(st.Mode)&syscall.S_IFMT == syscall.S_IFREG, nil
}

// idOf returns the identity of the file fi describes, if fi came from a
// stat of this system.
func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st == nil {
		return fileID{}, false
	}
	return idOfStat(st), true
}
