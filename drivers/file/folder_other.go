//go:build !unix

package file

import (
	"fmt"
	"os"
)

// oNoFollow is zero where open(2) has no O_NOFOLLOW.
const oNoFollow = 0

// checkFolder only checks that dir is a folder: this system has no Unix
// owner and mode bits to check (see the Unix version).
func checkFolder(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("file: folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("file: %s is not a folder", dir)
	}
	return nil
}
