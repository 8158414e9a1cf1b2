//go:build unix

package testserver

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

// Pause stops the process with SIGSTOP, so calls to it hang rather than
// fail, and returns once the kernel reports it stopped: the signal is
// delivered asynchronously, and a test that measured right after sending
// it could still be answered. Where /proc is missing it waits 100ms.
func (p *Process) Pause(tb testing.TB) {
	tb.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatalf("testserver: pause %s: %v", p.Name, err)
	}
	if err := WaitStopped(p.Cmd.Process.Pid, 5*time.Second); err != nil {
		tb.Fatal(err)
	}
}

// Resume continues a process stopped by Pause.
func (p *Process) Resume(tb testing.TB) {
	tb.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		tb.Fatalf("testserver: resume %s: %v", p.Name, err)
	}
}

// WaitStopped waits until the process pid is in the stopped state ("T" in
// /proc/PID/stat), for at most timeout.
func WaitStopped(pid int, timeout time.Duration) error {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	if _, err := os.Stat(path); err != nil {
		time.Sleep(100 * time.Millisecond)
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			// pid (comm) S ...: the state follows the last ')'.
			if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'T' {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testserver: process %d did not stop within %v", pid, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
