//go:build unix

package file

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// oNoFollow makes opening a file fail rather than follow a symbolic link
// in its last path component.
const oNoFollow = syscall.O_NOFOLLOW

// checkFolder refuses a store folder that another local user could plant
// session files in: one that everyone may write (o+w, with or without the
// sticky bit, which protects only the files of others, not the creation
// of new ones), or one owned by another user than this process' effective
// user or root. If dir is a symbolic link, the link itself must be owned
// by this user or root too, so a link another user planted (at a
// predictable path such as DefaultDir) is refused rather than followed.
// Write access through the folder's group is allowed: the group is chosen
// by the folder's owner. The errors say what to change.
func checkFolder(dir string) error {
	euid := os.Geteuid()
	us := fmt.Sprintf("this process' uid %d or root", euid)
	if euid == 0 {
		us = "root, this process' user"
	}
	lfi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("file: folder: %w", err)
	}
	if lfi.Mode()&fs.ModeSymlink != 0 {
		if uid, ok := ownerOf(lfi); ok && uid != uint32(euid) && uid != 0 {
			return fmt.Errorf("file: folder %s is a symbolic link owned by uid %d, not by %s: "+
				"its owner can point it at a folder of theirs; name the real folder in the DSN, or remove the link", dir, uid, us)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("file: folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("file: %s is not a folder", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mode, uid := uint32(st.Mode)&0o7777, uint32(st.Uid)
	if mode&0o002 != 0 {
		return fmt.Errorf("file: folder %s has mode %04o (owner uid %d): every local user can create files in it, "+
			"so another user could plant a session; run chmod 0700 %s, or use a folder of your own", dir, mode, uid, dir)
	}
	if uid != uint32(euid) && uid != 0 {
		return fmt.Errorf("file: folder %s (mode %04o) is owned by uid %d, not by %s: "+
			"its owner could plant a session; run chown %d %s, or use a folder of your own", dir, mode, uid, us, euid, dir)
	}
	return nil
}

// ownerOf returns the user ID owning the file fi describes.
func ownerOf(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint32(st.Uid), true
}
