package testserver

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill cmd's process when the test binary
// dies, so a test that panics or is killed before its cleanups run leaves
// no server behind. (The signal follows the OS thread that started the
// process; Go's runtime keeps its threads, and a goroutine locked to one
// never starts a server here.)
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
