//go:build dragonfly || illumos || linux || openbsd

package file

import "syscall"

// idOfStat converts a stat result (its time fields are Mtim and Ctim on
// these systems) to a file identity.
func idOfStat(st *syscall.Stat_t) fileID {
	return fileID{
		dev:   uint64(st.Dev),
		ino:   uint64(st.Ino),
		size:  int64(st.Size),
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}
}
