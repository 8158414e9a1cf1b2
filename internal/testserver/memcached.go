package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memcachedStartTimeout bounds how long StartMemcached waits for a fresh
// memcached to answer.
const memcachedStartTimeout = 10 * time.Second

// StartMemcached starts memcached on a free 127.0.0.1 port, TCP only
// (-l 127.0.0.1 -p PORT -U 0), with extraArgs appended (for example
// "-I", "2m"). It returns once the server answers a version command, and
// stops it in tb.Cleanup. When the test runs as root it adds -u with the
// current user name, since memcached refuses to run as root otherwise.
//
// A missing memcached binary skips the test, or fails it when CI is set
// (see Need). After proc.Restart, call WaitMemcached before using addr.
func StartMemcached(tb testing.TB, extraArgs ...string) (addr string, proc *Process) {
	tb.Helper()
	bin := Need(tb, "memcached", "memcached")
	port := FreePort(tb)
	addr = Addr(port)
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0"}
	if os.Geteuid() == 0 {
		name := "root"
		if u, err := user.Current(); err == nil && u.Username != "" {
			name = u.Username
		}
		args = append(args, "-u", name)
	}
	args = append(args, extraArgs...)
	proc = Start(tb, "memcached", bin, args...)
	if err := WaitMemcached(addr, memcachedStartTimeout); err != nil {
		// Start's cleanup prints the server's output.
		tb.Fatalf("testserver: memcached %s: %v", strings.Join(args, " "), err)
	}
	return addr, proc
}

// WaitMemcached waits until the memcached at addr answers a version
// command over TCP, for at most timeout. It returns the last error seen
// if the server never answered.
func WaitMemcached(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := memcachedVersion(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testserver: memcached at %s did not answer within %v: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// memcachedVersion sends one version command to addr and checks the reply.
func memcachedVersion(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("version\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("unexpected reply to version: %q", line)
	}
	return nil
}
