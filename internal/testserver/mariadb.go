//go:build unix

package testserver

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mariadbStartTimeout bounds every wait for MariaDB to accept queries.
const mariadbStartTimeout = 60 * time.Second

// MariaDBServer is a MariaDB server started by a test on a free
// 127.0.0.1 port, with its data in a temporary folder; root connects
// from 127.0.0.1 without a password. InnoDB writes its log at every
// commit but does not flush it (innodb_flush_log_at_trx_commit=2), so a
// killed and restarted server keeps every write it acknowledged.
type MariaDBServer struct {
	// Addr is the server's host:port.
	Addr string
	srv  *sqlServer
}

// StartMariaDB starts a MariaDB server for one test and stops it in
// tb.Cleanup. It needs mariadbd (or mysqld) and mariadb-install-db on
// PATH or in /usr/sbin and /usr/bin (Debian's mariadb-server package),
// and skips the test without them (fails it when CI is set).
func StartMariaDB(tb testing.TB) *MariaDBServer {
	tb.Helper()
	s := startMariaDB(tb)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("mariadbd output:\n%s", s.srv.output())
		}
		s.srv.signalStop(syscall.SIGKILL, 10*time.Second)
		s.srv.remove()
	})
	return s
}

// SharedMariaDB returns the MariaDB server of the test binary, starting
// it on first use (as StartMariaDB does). Tests share it and each uses its
// own tables or database (NewDatabase). Stop it with StopShared from
// TestMain; a test must not stop or restart it.
func SharedMariaDB(tb testing.TB) *MariaDBServer {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.maria == nil {
		shared.maria = startMariaDB(tb)
		shared.servers = append(shared.servers, shared.maria.srv)
	}
	return shared.maria
}

func startMariaDB(tb testing.TB) *MariaDBServer {
	tb.Helper()
	dirs := []string{"/usr/sbin", "/usr/bin", "/usr/local/mysql/bin"}
	install := needBinary(tb, "mariadb-install-db", "mariadb-server", dirs...)
	bin := needBinary(tb, "mariadbd", "mariadb-server", dirs...)
	dir, err := os.MkdirTemp("", "mariadbtest")
	if err != nil {
		tb.Fatalf("testserver: %v", err)
	}
	data := filepath.Join(dir, "data")
	userArg := []string{}
	if os.Geteuid() == 0 {
		userArg = []string{"--user=root"}
	}
	port := FreePort(tb)
	s := &MariaDBServer{Addr: Addr(port), srv: &sqlServer{
		name: "mariadbd " + Addr(port),
		bin:  bin,
		dir:  dir,
		args: append([]string{
			"--no-defaults",
			"--datadir=" + data,
			"--socket=" + filepath.Join(dir, "mysqld.sock"),
			"--pid-file=" + filepath.Join(dir, "mysqld.pid"),
			"--port=" + strconv.Itoa(port),
			"--bind-address=127.0.0.1",
			"--skip-name-resolve",
			"--skip-log-bin",
			"--innodb-flush-log-at-trx-commit=2",
			"--innodb-buffer-pool-size=64M",
			"--innodb-log-file-size=48M",
			"--max-connections=500",
			"--max-allowed-packet=64M",
		}, userArg...),
	}}
	s.srv.run(tb, install, append([]string{"--no-defaults", "--auth-root-authentication-method=normal",
		"--datadir=" + data, "--skip-test-db"}, userArg...)...)
	s.srv.start(tb)
	if err := s.wait(mariadbStartTimeout); err != nil {
		out := s.srv.output()
		s.srv.signalStop(syscall.SIGKILL, 5*time.Second)
		s.srv.remove()
		tb.Fatalf("%v\nmariadbd output:\n%s", err, out)
	}
	return s
}

// DSN returns a mysql:// DSN for database on the server (user root, no
// password), with query appended if not empty.
func (s *MariaDBServer) DSN(database, query string) string {
	dsn := "mysql://root@" + s.Addr + "/" + database
	if query != "" {
		dsn += "?" + query
	}
	return dsn
}

// NewDatabase creates a fresh, empty database and returns its name.
func (s *MariaDBServer) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := uniqueName("test")
	db := s.open("")
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), mariadbStartTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		tb.Fatalf("testserver: create database: %v", err)
	}
	return name
}

// open returns a database/sql pool on database as root.
func (s *MariaDBServer) open(database string) *sql.DB {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = s.Addr
	cfg.DBName = database
	cfg.Timeout = 2 * time.Second
	cfg.Logger = &mysql.NopLogger{}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(err) // a fixed, valid configuration
	}
	return sql.OpenDB(c)
}

// Stop kills the server (SIGKILL, as a crash would; the next start
// recovers from InnoDB's log). The data folder stays for Restart.
func (s *MariaDBServer) Stop() { s.srv.signalStop(syscall.SIGKILL, 10*time.Second) }

// Restart starts the server again after Stop, on the same port and data,
// and waits until it accepts queries.
func (s *MariaDBServer) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	s.srv.start(tb)
	if err := s.wait(mariadbStartTimeout); err != nil {
		tb.Fatalf("%v\nmariadbd output:\n%s", err, s.srv.output())
	}
}

// wait waits until the server answers a query, for at most timeout.
func (s *MariaDBServer) wait(timeout time.Duration) error {
	db := s.open("")
	defer db.Close()
	err := waitFor(timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, "SELECT 1")
		return err
	})
	if err != nil {
		return fmt.Errorf("testserver: mariadb at %s not ready within %v: %w", s.Addr, timeout, err)
	}
	return nil
}
