//go:build linux

package file

import "syscall"

// networkFS reports whether the folder dir is on a file system whose
// client may answer stat(2) from an attribute cache that lags behind
// other machines' (or a FUSE daemon's) changes: NFS, SMB/CIFS, 9p, Ceph,
// Lustre, GlusterFS and other FUSE file systems, AFS. There stat is no
// reliable check of a cached record, so New turns the read cache off.
func networkFS(dir string) bool {
	var s syscall.Statfs_t
	if err := syscall.Statfs(dir, &s); err != nil {
		return true // unknown: be safe
	}
	switch uint32(s.Type) {
	case 0x6969, // NFS
		0xFF534D42, // CIFS
		0xFE534D42, // SMB2
		0x517B,     // SMB
		0x01021997, // 9p (v9fs)
		0x00C36400, // Ceph
		0x0BD00BD0, // Lustre
		0x65735546, // FUSE
		0x5346414F, // AFS
		0x6B414653: // kAFS
		return true
	}
	return false
}
