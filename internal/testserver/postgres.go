//go:build unix

package testserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// sqlServer is a database server process run by a test: started, stopped
// and restarted with the same arguments (so on the same port and data
// folder), as a given system user when the test runs as root.
type sqlServer struct {
	name string
	bin  string
	args []string
	cred *syscall.Credential // nil: run as the test's own user
	dir  string              // the server's temporary folder, removed by stop

	mu   sync.Mutex
	proc *Process
}

// start runs the server process; the caller waits for it to be ready.
func (s *sqlServer) start(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &Process{Name: s.name, Args: s.args, log: &strings.Builder{}}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout = (*safeWriter)(p)
	cmd.Stderr = (*safeWriter)(p)
	dieWithTest(cmd)
	if s.cred != nil {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		// Go sets the parent-death signal after switching users, so it
		// survives the switch.
		cmd.SysProcAttr.Credential = s.cred
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testserver: start %s: %v", s.name, err)
	}
	p.Cmd = cmd
	s.proc = p
}

// signalStop sends sig to the server and waits for it to exit, for at
// most grace; then it kills it.
func (s *sqlServer) signalStop(sig syscall.Signal, grace time.Duration) {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil || p.Cmd == nil || p.Cmd.Process == nil || p.Cmd.ProcessState != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_ = p.Cmd.Wait()
		close(done)
	}()
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-done
	}
}

// output returns the end of the server's output, for failure messages.
func (s *sqlServer) output() string {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return ""
	}
	writeMu.Lock()
	defer writeMu.Unlock()
	return tail(p.log.String(), 4000)
}

// remove deletes the server's folder, retrying briefly while processes
// the server left behind still write into it.
func (s *sqlServer) remove() {
	for i := 0; i < 50; i++ {
		if err := os.RemoveAll(s.dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// run runs a setup command (initdb, mariadb-install-db) as the server's
// user and fails the test with its output if it fails.
func (s *sqlServer) run(tb testing.TB, bin string, args ...string) {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("testserver: %s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, tail(string(out), 4000))
	}
}

// needBinary finds a server binary on PATH or in one of the globbed
// folders (the newest version first), or skips the test (fails it when
// CI is set) like Need.
func needBinary(tb testing.TB, name, debianPackage string, globs ...string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, g := range globs {
		matches, _ := filepath.Glob(filepath.Join(g, name))
		sort.Sort(sort.Reverse(sort.StringSlice(matches)))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode()&0o111 != 0 {
				return m
			}
		}
	}
	return Need(tb, name, debianPackage) // skips or fails with the message
}

// shared holds the servers started once per test binary.
var shared struct {
	mu      sync.Mutex
	servers []*sqlServer
	pg      *PostgresServer
	maria   *MariaDBServer
}

// StopShared stops the servers that SharedPostgres and SharedMariaDB
// started and removes their folders. Call it from TestMain after m.Run.
// (If the test binary dies first, the kernel kills them: see Pdeathsig.)
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, s := range shared.servers {
		s.signalStop(syscall.SIGTERM, 10*time.Second)
		s.remove()
	}
	shared.servers, shared.pg, shared.maria = nil, nil, nil
}

// uniqueName returns a fresh database name with the given prefix.
var uniqueCounter struct {
	sync.Mutex
	n int
}

func uniqueName(prefix string) string {
	uniqueCounter.Lock()
	defer uniqueCounter.Unlock()
	uniqueCounter.n++
	return fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), uniqueCounter.n)
}

// postgresStartTimeout bounds every wait for PostgreSQL to accept queries.
const postgresStartTimeout = 30 * time.Second

// PostgresServer is a PostgreSQL server started by a test on a free
// 127.0.0.1 port, with its data in a temporary folder, trusting every
// local connection (user postgres, no password). It runs without fsync
// (a test needs no durability against power loss) but with synchronous
// commits, so a killed and restarted server still has every write it
// acknowledged.
type PostgresServer struct {
	// Addr is the server's host:port.
	Addr string
	srv  *sqlServer
}

// StartPostgres starts a PostgreSQL server for one test and stops it in
// tb.Cleanup. It needs initdb and postgres on PATH or under
// /usr/lib/postgresql/*/bin (Debian's postgresql package), and skips the
// test without them (fails it when CI is set). Run as root, it runs the
// server as the postgres system user, since PostgreSQL refuses to run as
// root, and fails the test if that user is missing.
func StartPostgres(tb testing.TB) *PostgresServer {
	tb.Helper()
	s := startPostgres(tb)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("postgres output:\n%s", s.srv.output())
		}
		s.srv.signalStop(syscall.SIGQUIT, 10*time.Second)
		s.srv.remove()
	})
	return s
}

// SharedPostgres returns the PostgreSQL server of the test binary,
// starting it on first use (as StartPostgres does). Startup takes seconds,
// so tests share one server and each uses its own tables or database
// (NewDatabase). Stop it with StopShared from TestMain; a test must not
// stop or restart it.
func SharedPostgres(tb testing.TB) *PostgresServer {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg == nil {
		shared.pg = startPostgres(tb)
		shared.servers = append(shared.servers, shared.pg.srv)
	}
	return shared.pg
}

func startPostgres(tb testing.TB) *PostgresServer {
	tb.Helper()
	globs := []string{"/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"}
	initdb := needBinary(tb, "initdb", "postgresql", globs...)
	bin := needBinary(tb, "postgres", "postgresql", globs...)
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("testserver: PostgreSQL refuses to run as root and the postgres system user is missing (%v): install Debian's postgresql package, which creates it (make test does)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not tb.TempDir: its folders are private to root, and the server
	// runs as postgres.
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		tb.Fatalf("testserver: %v", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			tb.Fatalf("testserver: %v", err)
		}
	}
	port := FreePort(tb)
	s := &PostgresServer{Addr: Addr(port), srv: &sqlServer{
		name: "postgres " + Addr(port),
		bin:  bin,
		cred: cred,
		dir:  dir,
		args: []string{
			"-D", filepath.Join(dir, "data"),
			"-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=" + dir,
			"-c", "fsync=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=300",
			"-c", "shared_buffers=32MB",
		},
	}}
	s.srv.run(tb, initdb, "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	s.srv.start(tb)
	if err := s.wait(postgresStartTimeout); err != nil {
		out := s.srv.output()
		s.srv.signalStop(syscall.SIGQUIT, 5*time.Second)
		s.srv.remove()
		tb.Fatalf("%v\npostgres output:\n%s", err, out)
	}
	return s
}

// DSN returns a postgres:// DSN for database on the server (user
// postgres, no password, no TLS), with query appended if not empty.
func (s *PostgresServer) DSN(database, query string) string {
	dsn := "postgres://postgres@" + s.Addr + "/" + database + "?sslmode=disable"
	if query != "" {
		dsn += "&" + query
	}
	return dsn
}

// NewDatabase creates a fresh, empty database and returns its name.
func (s *PostgresServer) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := uniqueName("test")
	ctx, cancel := context.WithTimeout(context.Background(), postgresStartTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, s.DSN("postgres", ""))
	if err != nil {
		tb.Fatalf("testserver: connect to postgres: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		tb.Fatalf("testserver: create database: %v", err)
	}
	return name
}

// Stop shuts the server down at once, as a crash would (immediate
// shutdown: no checkpoint; the next start recovers from the WAL). The
// data folder stays for Restart.
func (s *PostgresServer) Stop() { s.srv.signalStop(syscall.SIGQUIT, 10*time.Second) }

// Restart starts the server again after Stop, on the same port and data,
// and waits until it accepts queries.
func (s *PostgresServer) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	s.srv.start(tb)
	if err := s.wait(postgresStartTimeout); err != nil {
		tb.Fatalf("%v\npostgres output:\n%s", err, s.srv.output())
	}
}

// wait waits until the server answers a query, for at most timeout.
func (s *PostgresServer) wait(timeout time.Duration) error {
	err := waitFor(timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.DSN("postgres", "connect_timeout=2"))
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, "SELECT 1")
		return err
	})
	if err != nil {
		return fmt.Errorf("testserver: postgres at %s not ready within %v: %w", s.Addr, timeout, err)
	}
	return nil
}
