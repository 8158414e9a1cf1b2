package backend

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// SQLServer is a PostgreSQL or MariaDB server the harness started: its
// own data folder in a temporary folder, on a free 127.0.0.1 port, with a
// connection of the harness' own (for creating databases and reading the
// counters) that no benchmark server shares.
type SQLServer struct {
	Name    string // postgres, mariadb
	Addr    string // host:port
	Version string // "PostgreSQL 15.18", "MariaDB 10.11.19"
	// Settings is how the server was tuned, for the results' notes.
	Settings string

	cmd *exec.Cmd
	dir string
	log *os.File
	pg  *pgx.Conn
	my  *sql.DB
	mu  sync.Mutex
}

// postgresSettings are the server parameters of the benchmark's
// PostgreSQL, as a DBA would set them for a benchmark box: more shared
// buffers than the default 128 MB, checkpoints rare enough not to fall
// into a measurement, and pg_stat_statements for counting statements.
// Durability stays at the defaults (fsync=on, synchronous_commit=on,
// full_page_writes=on).
var postgresSettings = []string{
	"shared_buffers=256MB",
	"max_connections=200",
	"max_wal_size=4GB",
	"checkpoint_timeout=30min",
	"shared_preload_libraries=pg_stat_statements",
	"pg_stat_statements.track=top",
	"pg_stat_statements.track_utility=off",
}

// mariadbSettings are the server options of the benchmark's MariaDB:
// a buffer pool and redo log sized for the box, no binary log (nothing
// replicates from it), and the default durability
// (innodb_flush_log_at_trx_commit=1: the redo log is flushed at every
// commit).
var mariadbSettings = []string{
	"--innodb-buffer-pool-size=256M",
	"--innodb-log-file-size=256M",
	"--innodb-flush-log-at-trx-commit=1",
	"--skip-log-bin",
	"--max-connections=500",
	"--skip-name-resolve",
}

// findBinary returns name from PATH or the newest match of the globbed
// folders.
func findBinary(name, debianPackage string, globs ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, g := range globs {
		matches, _ := filepath.Glob(filepath.Join(g, name))
		sort.Sort(sort.Reverse(sort.StringSlice(matches)))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode()&0o111 != 0 {
				return m, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in %s (Debian: apt-get install %s; make deps-sql does it)", name, strings.Join(globs, ", "), debianPackage)
}

// postgresUser returns the credentials to run PostgreSQL with: the
// postgres system user when the harness runs as root (PostgreSQL refuses
// to run as root), else nil (the harness' own user).
func postgresUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root and the postgres system user is missing (%v): install Debian's postgresql package, which creates it", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// PostgresArgs returns the postgres command line for a data folder,
// socket folder and port.
func PostgresArgs(data, sockDir string, port int) []string {
	args := []string{"-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + sockDir}
	for _, s := range postgresSettings {
		args = append(args, "-c", s)
	}
	return args
}

// StartPostgres runs initdb in a fresh temporary folder and starts
// PostgreSQL on a free port, as the postgres system user when the harness
// runs as root, trusting local connections (user postgres, no password).
func StartPostgres() (*SQLServer, error) {
	globs := []string{"/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"}
	initdb, err := findBinary("initdb", "postgresql", globs...)
	if err != nil {
		return nil, err
	}
	bin, err := findBinary("postgres", "postgresql", globs...)
	if err != nil {
		return nil, err
	}
	cred, err := postgresUser()
	if err != nil {
		return nil, err
	}
	// Not a folder private to root: the server runs as postgres.
	dir, err := os.MkdirTemp("", "bench-postgres-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	port, err := FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &SQLServer{Name: "postgres", Addr: Addr(port), dir: dir,
		Settings: "PostgreSQL: " + strings.Join(postgresSettings, ", ") + "; fsync, synchronous_commit and full_page_writes at their defaults (on)"}
	data := filepath.Join(dir, "data")
	init := exec.Command(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions")
	init.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := init.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, tail(out))
	}
	// The server exits with the harness (SIGQUIT: immediate shutdown).
	if err := s.startProcess(bin, PostgresArgs(data, dir, port), cred, syscall.SIGQUIT); err != nil {
		return nil, err
	}
	if err := waitFor(60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.PostgresDSN("postgres")+"&connect_timeout=2")
		if err != nil {
			return err
		}
		s.pg = c
		return nil
	}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("postgres at %s: %w\n%s", s.Addr, err, s.Output())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.pg.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		s.Stop()
		return nil, fmt.Errorf("postgres: pg_stat_statements: %w", err)
	}
	var v string
	if err := s.pg.QueryRow(ctx, "SHOW server_version").Scan(&v); err == nil {
		s.Version = "PostgreSQL " + strings.Fields(v)[0]
	}
	return s, nil
}

// MariaDBArgs returns the mariadbd command line for a folder and port.
func MariaDBArgs(dir string, port int, root bool) []string {
	args := []string{
		"--no-defaults",
		"--datadir=" + filepath.Join(dir, "data"),
		"--socket=" + filepath.Join(dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
	}
	args = append(args, mariadbSettings...)
	if root {
		args = append(args, "--user=root")
	}
	return args
}

// StartMariaDB runs mariadb-install-db in a fresh temporary folder and
// starts mariadbd on a free port (--user=root when the harness runs as
// root); root connects from 127.0.0.1 without a password.
func StartMariaDB() (*SQLServer, error) {
	dirs := []string{"/usr/sbin", "/usr/bin", "/usr/local/mysql/bin"}
	install, err := findBinary("mariadb-install-db", "mariadb-server", dirs...)
	if err != nil {
		return nil, err
	}
	bin, err := findBinary("mariadbd", "mariadb-server", dirs...)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-mariadb-")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	root := os.Geteuid() == 0
	s := &SQLServer{Name: "mariadb", Addr: Addr(port), dir: dir,
		Settings: "MariaDB: " + strings.Join(mariadbSettings, " ")}
	iargs := []string{"--no-defaults", "--auth-root-authentication-method=normal",
		"--datadir=" + filepath.Join(dir, "data"), "--skip-test-db"}
	if root {
		iargs = append(iargs, "--user=root")
	}
	if out, err := exec.Command(install, iargs...).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, tail(out))
	}
	if err := s.startProcess(bin, MariaDBArgs(dir, port, root), nil, syscall.SIGKILL); err != nil {
		return nil, err
	}
	s.my = s.mysqlDB("")
	s.my.SetMaxOpenConns(1)
	if err := waitFor(60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := s.my.ExecContext(ctx, "SELECT 1")
		return err
	}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("mariadb at %s: %w\n%s", s.Addr, err, s.Output())
	}
	var v string
	if err := s.my.QueryRow("SELECT VERSION()").Scan(&v); err == nil {
		v, _, _ = strings.Cut(v, "-")
		s.Version = "MariaDB " + v
	}
	return s, nil
}

func (s *SQLServer) startProcess(bin string, args []string, cred *syscall.Credential, deathSig syscall.Signal) error {
	f, err := os.Create(filepath.Join(s.dir, "server.log"))
	if err != nil {
		os.RemoveAll(s.dir)
		return err
	}
	s.log = f
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	// Go sets the parent-death signal after switching users, so it
	// survives the switch: the server never outlives the harness.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: deathSig}
	if err := s.cmd.Start(); err != nil {
		f.Close()
		os.RemoveAll(s.dir)
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	return nil
}

// Output returns the end of the server's log.
func (s *SQLServer) Output() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	return string(tail(b))
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// Pid is the server's process ID (PostgreSQL's postmaster).
func (s *SQLServer) Pid() int {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop closes the harness' connection, stops the server (PostgreSQL:
// immediate shutdown; MariaDB: killed, nothing of it is kept) and removes
// its folder.
func (s *SQLServer) Stop() {
	if s == nil {
		return
	}
	if s.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.pg.Close(ctx)
		cancel()
	}
	if s.my != nil {
		_ = s.my.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		sig := syscall.SIGKILL
		if s.Name == "postgres" {
			sig = syscall.SIGQUIT
		}
		_ = s.cmd.Process.Signal(sig)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	if s.log != nil {
		_ = s.log.Close()
	}
	for i := 0; i < 50 && s.dir != ""; i++ {
		if err := os.RemoveAll(s.dir); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PostgresDSN is a libpq-style URL for database on the server (user
// postgres, no password, no TLS), with a query to which more options may
// be appended with "&".
func (s *SQLServer) PostgresDSN(database string) string {
	return PostgresDSN(s.Addr, database)
}

// PostgresDSN is a libpq-style URL for database at addr (user postgres,
// no password, no TLS), ending in a query to which more options may be
// appended with "&".
func PostgresDSN(addr, database string) string {
	return "postgres://postgres@" + addr + "/" + database + "?sslmode=disable"
}

func (s *SQLServer) mysqlDB(database string) *sql.DB {
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

// validDB matches the database names the harness makes.
var validDB = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// DBName turns a server name (lib/store) and a run into a database name:
// bench_ginkit_postgres_r1.
func DBName(server string, run int) string {
	r := strings.NewReplacer("/", "_", "-", "_", ".", "_")
	return fmt.Sprintf("bench_%s_r%d", r.Replace(strings.ToLower(server)), run)
}

// CreateDatabase drops database name if it exists and creates it empty.
func (s *SQLServer) CreateDatabase(name string) error {
	if !validDB.MatchString(name) {
		return fmt.Errorf("database name %q", name)
	}
	if err := s.DropDatabase(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch s.Name {
	case "postgres":
		_, err = s.pg.Exec(ctx, `CREATE DATABASE "`+name+`"`)
	case "mariadb":
		_, err = s.my.ExecContext(ctx, "CREATE DATABASE `"+name+"`")
	}
	return err
}

// DropDatabase drops database name, ending its connections (PostgreSQL).
func (s *SQLServer) DropDatabase(name string) error {
	if !validDB.MatchString(name) {
		return fmt.Errorf("database name %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch s.Name {
	case "postgres":
		_, err = s.pg.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	case "mariadb":
		_, err = s.my.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
	}
	return err
}

// SQLStats is what the harness reads from a SQL server between slices.
type SQLStats struct {
	// Statements counts executed statements by kind (select, insert,
	// update, delete, other): for PostgreSQL from pg_stat_statements in
	// the server's database alone; for MariaDB from the global Com_*
	// counters, less the harness' own SHOW.
	Statements map[string]int64
	// Extra holds other counters by name: MariaDB's questions (every
	// statement a client sent), stmt_prepare and stmt_execute.
	Extra map[string]int64
	// Connections counts connections opened (MariaDB: Connections, less
	// the harness'; PostgreSQL: backends of the database now alive, with
	// their start times in Backends).
	Connections int64
	Backends    map[int64]time.Time
	// CPU is the server's CPU time in seconds: for PostgreSQL the
	// postmaster, its live children, and the children it has reaped.
	CPU float64
}

// ReadStats reads the server's counters; database names the benchmark
// server's database (PostgreSQL counts per database).
func (s *SQLServer) ReadStats(database string) (SQLStats, error) {
	st := SQLStats{Statements: map[string]int64{}, Extra: map[string]int64{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch s.Name {
	case "postgres":
		rows, err := s.pg.Query(ctx, `SELECT s.query, s.calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1`, database)
		if err != nil {
			return st, err
		}
		for rows.Next() {
			var q string
			var n int64
			if err := rows.Scan(&q, &n); err != nil {
				rows.Close()
				return st, err
			}
			st.Statements[StatementKind(q)] += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, err
		}
		st.Backends = map[int64]time.Time{}
		rows, err = s.pg.Query(ctx, `SELECT pid, backend_start FROM pg_stat_activity WHERE datname = $1`, database)
		if err != nil {
			return st, err
		}
		for rows.Next() {
			var pid int64
			var t time.Time
			if err := rows.Scan(&pid, &t); err != nil {
				rows.Close()
				return st, err
			}
			st.Backends[pid] = t
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, err
		}
		st.CPU = TreeCPU(s.Pid()).Seconds()
	case "mariadb":
		rows, err := s.my.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_select','Com_insert','Com_update','Com_delete','Com_replace','Com_insert_select','Questions','Com_stmt_prepare','Com_stmt_execute','Com_stmt_close','Connections')")
		if err != nil {
			return st, err
		}
		for rows.Next() {
			var name, v string
			if err := rows.Scan(&name, &v); err != nil {
				rows.Close()
				return st, err
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			name = strings.ToLower(name)
			switch name {
			case "connections":
				st.Connections = n
			case "questions", "com_stmt_prepare", "com_stmt_execute", "com_stmt_close":
				st.Extra[strings.TrimPrefix(name, "com_")] = n
			case "com_insert_select", "com_replace":
				st.Statements["insert"] += n
			default:
				st.Statements[strings.TrimPrefix(name, "com_")] = n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, err
		}
		st.CPU = TreeCPU(s.Pid()).Seconds()
	}
	return st, nil
}

// Sub returns the counters of st minus those of before. For MariaDB it
// leaves out the harness' own SHOW (one question per read).
func (st SQLStats) Sub(before SQLStats) SQLStats {
	d := SQLStats{Statements: map[string]int64{}, Extra: map[string]int64{}, CPU: st.CPU - before.CPU}
	for k, v := range st.Statements {
		if n := v - before.Statements[k]; n > 0 {
			d.Statements[k] = n
		}
	}
	for k, v := range st.Extra {
		n := v - before.Extra[k]
		if k == "questions" {
			n-- // the SHOW GLOBAL STATUS that read st
		}
		if n > 0 {
			d.Extra[k] = n
		}
	}
	if st.Backends != nil {
		// PostgreSQL: backends alive now that were not before.
		for pid, t := range st.Backends {
			if bt, ok := before.Backends[pid]; !ok || !bt.Equal(t) {
				d.Connections++
			}
		}
	} else {
		d.Connections = st.Connections - before.Connections
	}
	return d
}

// StatementKind classifies a statement by its first keyword (after any
// WITH clause's name): select, insert, update, delete or other.
func StatementKind(q string) string {
	f := strings.Fields(strings.ToLower(strings.TrimSpace(q)))
	if len(f) == 0 {
		return "other"
	}
	switch f[0] {
	case "select", "insert", "update", "delete":
		return f[0]
	}
	return "other"
}

// TreeCPU returns the CPU time of process pid, of its live children, and
// of the children it has waited for (PostgreSQL's postmaster forks a
// backend per connection and reaps it when it ends).
func TreeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	own, reaped, err := statCPU(pid)
	if err != nil {
		return 0
	}
	total := own + reaped
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if ppid, err := parentOf(child); err == nil && ppid == pid {
			if c, _, err := statCPU(child); err == nil {
				total += c
			}
		}
	}
	return total
}

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("unexpected /proc stat %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("unexpected /proc stat %q", b)
	}
	return f, nil
}

func parentOf(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1]) // field 4
}

// statCPU returns a process' utime+stime and cutime+cstime.
func statCPU(pid int) (own, reaped time.Duration, err error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, 0, err
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	// f[0] is field 3: utime 14, stime 15, cutime 16, cstime 17.
	own = time.Duration(n(11)+n(12)) * time.Second / 100
	reaped = time.Duration(n(13)+n(14)) * time.Second / 100
	return own, reaped, nil
}

// SocketStats are the TCP counters of one process' connections to one
// port, from ss: per socket (by inode) the segments with data it sent (a
// request to the database and its answer is one round trip: at least one
// data segment each way).
type SocketStats map[string]int64

// ReadSockets reads ss' data_segs_out of the established TCP connections
// of process pid to port on 127.0.0.1.
func ReadSockets(pid, port int) (SocketStats, error) {
	out, err := exec.Command("ss", "-tinpeH", "state", "established", "dst", "127.0.0.1:"+strconv.Itoa(port)).Output()
	if err != nil {
		return nil, fmt.Errorf("ss: %w", err)
	}
	return ParseSS(out, pid), nil
}

// Sub returns the data segments sent between before and st: the growth
// of the sockets open at both times, plus everything the sockets opened
// since sent (those closed in between are lost), and how many sockets
// are new.
func (st SocketStats) Sub(before SocketStats) (segs, opened int64) {
	for ino, n := range st {
		b, ok := before[ino]
		if !ok {
			opened++
		}
		segs += n - b
	}
	return segs, opened
}

// Only returns the sockets of st that are also in other.
func (st SocketStats) Only(other SocketStats) SocketStats {
	out := SocketStats{}
	for ino, n := range st {
		if _, ok := other[ino]; ok {
			out[ino] = n
		}
	}
	return out
}

// Mean returns, for the sockets in both st and other, the mean of their
// counts (rounded down).
func (st SocketStats) Mean(other SocketStats) SocketStats {
	out := SocketStats{}
	for ino, n := range st {
		if m, ok := other[ino]; ok {
			out[ino] = (n + m) / 2
		}
	}
	return out
}

// ParseSS reads the output of ss -tinpeH: each socket is a line with the
// addresses, users:((...pid=N...)) and ino:N, then an indented line of
// TCP info with data_segs_out:N (absent while it is zero).
func ParseSS(out []byte, pid int) SocketStats {
	st := SocketStats{}
	want := "pid=" + strconv.Itoa(pid) + ","
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	ino := ""
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") {
			ino = ""
			if strings.Contains(line, want) {
				for _, f := range strings.Fields(line) {
					if v, ok := strings.CutPrefix(f, "ino:"); ok {
						ino = v
						st[ino] = 0
					}
				}
			}
			continue
		}
		if ino == "" {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "data_segs_out:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				st[ino] += n
			}
		}
	}
	return st
}
