//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package file

import "os"

// multiProcess reports whether lock stripes exclude other processes: here
// they do not, so a folder must be used by one process at a time.
const multiProcess = false

// lockFile does nothing on systems without flock: the stripe's mutex alone
// excludes the goroutines of this process.
func lockFile(*os.File) error { return nil }

// unlockFile does nothing on systems without flock.
func unlockFile(*os.File) error { return nil }
