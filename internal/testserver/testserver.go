// Package testserver starts real backend servers (redis-server, memcached)
// for tests: on free loopback ports, in temporary folders, stopped when the
// test ends. Binaries are found on PATH. When one is missing the test is
// skipped with a message naming it, except when the CI environment variable
// is set: there a missing binary fails the test, so CI can never pass by
// skipping what it was meant to run. OpenDSN, OpenURL and MustParse are
// the tests' one way to open a driver from a DSN or parse one.
package testserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Need returns the path of binary on PATH. If it is missing, Need skips the
// test (or fails it when CI is set) with a message that says which Debian
// package provides it.
func Need(tb testing.TB, binary, debianPackage string) string {
	tb.Helper()
	path, err := exec.LookPath(binary)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found on PATH: install Debian's %s package (make test does it with apt-get)", binary, debianPackage)
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s; CI is set, so a missing server fails the test instead of skipping it", msg)
	}
	tb.Skip(msg)
	return ""
}

// Addr formats a loopback address for port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// WaitDial waits until addr accepts TCP connections, for at most timeout.
func WaitDial(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testserver: %s did not accept connections within %v: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Process is a server process started by a test.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	Args []string
	log  *strings.Builder
}

// Start runs bin with args and registers its stop with tb.Cleanup.
// Its output is kept and printed if the test fails.
func Start(tb testing.TB, name, bin string, args ...string) *Process {
	tb.Helper()
	p := &Process{Name: name, Args: args, log: &strings.Builder{}}
	p.start(tb, bin)
	tb.Cleanup(func() {
		p.Stop()
		if tb.Failed() && p.log.Len() > 0 {
			tb.Logf("%s output:\n%s", name, tail(p.log.String(), 4000))
		}
	})
	return p
}

func (p *Process) start(tb testing.TB, bin string) {
	tb.Helper()
	cmd := exec.Command(bin, p.Args...)
	cmd.Stdout = (*safeWriter)(p)
	cmd.Stderr = (*safeWriter)(p)
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testserver: start %s: %v", p.Name, err)
	}
	p.Cmd = cmd
}

// Restart starts the process again with the same arguments, after Stop.
func (p *Process) Restart(tb testing.TB) {
	tb.Helper()
	p.Stop()
	p.start(tb, p.Cmd.Path)
}

// Stop kills the process and waits for it. Stopping twice is harmless.
func (p *Process) Stop() {
	if p.Cmd == nil || p.Cmd.Process == nil || p.Cmd.ProcessState != nil {
		return
	}
	_ = p.Cmd.Process.Kill()
	_ = p.Cmd.Wait()
}

type safeWriter Process

func (w *safeWriter) Write(b []byte) (int, error) {
	// exec copies output from one goroutine per stream; the log is only
	// read after Wait, so a builder suffices when writes are serialised.
	writeMu.Lock()
	defer writeMu.Unlock()
	return w.log.Write(b)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
