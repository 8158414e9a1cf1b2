//go:build darwin || freebsd || netbsd

package file

import "syscall"

// idOfStat converts a stat result (its time fields are Mtimespec and
// Ctimespec on these systems) to a file identity.
func idOfStat(st *syscall.Stat_t) fileID {
	return fileID{
		dev:   uint64(st.Dev),
		ino:   uint64(st.Ino),
		size:  int64(st.Size),
		mtime: st.Mtimespec.Nano(),
		ctime: st.Ctimespec.Nano(),
	}
}
