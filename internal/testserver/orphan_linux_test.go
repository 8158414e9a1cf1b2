package testserver

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServersDieWithTheTestBinary: a test binary that dies before its
// cleanups run (a panic in a goroutine, a kill by a timeout) leaves no
// server running behind it. The test runs itself as a child that starts
// memcached, prints its pid and exits without cleaning up.
func TestServersDieWithTheTestBinary(t *testing.T) {
	if os.Getenv("TESTSERVER_ORPHAN_CHILD") == "1" {
		_, proc := StartMemcached(t)
		os.Stdout.WriteString("pid " + strconv.Itoa(proc.Cmd.Process.Pid) + "\n")
		os.Exit(3) // no cleanup runs
	}
	Need(t, "memcached", "memcached")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestServersDieWithTheTestBinary$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TESTSERVER_ORPHAN_CHILD=1")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var pid int
	for _, line := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(line, "pid "); ok {
			pid, _ = strconv.Atoi(s)
		}
	}
	if pid <= 0 {
		t.Fatalf("child printed no server pid:\n%s", out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// The server is the child's child: once killed it is reparented
		// and reaped, and signal 0 finds no such process.
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if state, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(state), ") Z ") {
			return // killed, not yet reaped by its new parent
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("memcached (pid %d) still runs after the test binary that started it died", pid)
		}
	}
}
