//go:build linux

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

// TestSQLServersDieWithTheTestBinary: a test binary that dies before its
// cleanups run leaves no PostgreSQL or MariaDB server behind, although
// PostgreSQL runs as another user (the parent-death signal must survive
// the switch of user). The test runs itself as a child that starts the
// server, prints its pid and folder, and exits without cleaning up.
func TestSQLServersDieWithTheTestBinary(t *testing.T) {
	for _, kind := range []string{"postgres", "mariadb"} {
		t.Run(kind, func(t *testing.T) {
			if os.Getenv("TESTSERVER_SQL_ORPHAN_CHILD") == kind {
				var srv *sqlServer
				if kind == "postgres" {
					srv = StartPostgres(t).srv
				} else {
					srv = StartMariaDB(t).srv
				}
				os.Stdout.WriteString("pid " + strconv.Itoa(srv.proc.Cmd.Process.Pid) + "\ndir " + srv.dir + "\n")
				os.Exit(3) // no cleanup runs
			}
			if kind == "postgres" {
				needBinary(t, "postgres", "postgresql", "/usr/lib/postgresql/*/bin")
			} else {
				needBinary(t, "mariadbd", "mariadb-server", "/usr/sbin")
			}
			cmd := exec.Command(os.Args[0], "-test.run", "^TestSQLServersDieWithTheTestBinary$/^"+kind+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), "TESTSERVER_SQL_ORPHAN_CHILD="+kind)
			out, err := cmd.Output()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 3 {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var pid int
			var dir string
			for _, line := range strings.Split(string(out), "\n") {
				if s, ok := strings.CutPrefix(line, "pid "); ok {
					pid, _ = strconv.Atoi(s)
				}
				if s, ok := strings.CutPrefix(line, "dir "); ok {
					dir = s
				}
			}
			if pid <= 0 || dir == "" {
				t.Fatalf("child printed no server pid or folder:\n%s", out)
			}
			t.Cleanup(func() { (&sqlServer{dir: dir}).remove() })
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
					return
				}
				if state, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(state), ") Z ") {
					return
				}
				if time.Now().After(deadline) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("%s (pid %d) still runs after the test binary that started it died", kind, pid)
				}
			}
		})
	}
}
