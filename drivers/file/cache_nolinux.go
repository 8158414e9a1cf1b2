//go:build !linux

package file

// networkFS reports whether the folder dir is on a network file system
// whose stat(2) answers may lag behind other machines' changes. Only
// Linux is checked; elsewhere turn the read cache off yourself
// (Options.ReadCache < 0, DSN read_cache=0) for a folder on NFS or SMB.
func networkFS(dir string) bool { return false }
