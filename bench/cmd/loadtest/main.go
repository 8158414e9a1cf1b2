// Command loadtest is the session benchmark's driver. It starts its own
// redis-server and memcached on loopback (and PostgreSQL and MariaDB when
// a server needs them), then, one server at a time, runs
// a Gin server for each library and backend (as a child process: this same
// binary with the serve subcommand), creates a pool of sessions on it, and
// measures GET /none, /read and /write with wrk, a cookie drawn at random
// from the pool on every request. It reports requests per second, p50,
// p90 and p99 latency, errors, CPU time per request of the server and of
// the backend, and backend operations and new connections per request,
// and every figure as a ratio to bare Gin measured in the same run.
//
//	go run ./cmd/loadtest                       # the headline comparison
//	go run ./cmd/loadtest -mode size            # ginkit at 250 B, 4 KB, 64 KB
//	go run ./cmd/loadtest -mode conns           # ginkit at 16, 64, 256 connections
//	go run ./cmd/loadtest -mode sql             # the SQL drivers beside scs' and gin-contrib's PostgreSQL stores
//	go run ./cmd/loadtest -servers bare,ginkit/redis,scs/redis -routes read
//
// Results go to results/ as JSON (every measurement) and Markdown (the
// tables); -readme FILE also replaces the text between the lines
// "<!-- bench:MODE:start -->" and "<!-- bench:MODE:end -->" in FILE.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/bench/internal/app"
	"github.com/ginkit/sessions/bench/internal/backend"
	"github.com/ginkit/sessions/bench/internal/proc"
	_ "modernc.org/sqlite" // sqlite_version() for the host line
)

//go:embed pool.lua
var poolLua []byte

func main() {
	log.SetFlags(log.Ltime)
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		serve(os.Args[2:])
		return
	}
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// serve runs one benchmark server until SIGTERM or SIGINT.
func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	name := fs.String("server", "bare", "lib/store")
	listen := fs.String("listen", "127.0.0.1:0", "address")
	size := fs.Int("size", 0, "session size in bytes")
	redisAddr := fs.String("redis", "", "redis host:port")
	mcAddr := fs.String("memcached", "", "memcached host:port")
	dir := fs.String("dir", "", "folder for the file driver and the SQLite database")
	pgAddr := fs.String("postgres", "", "PostgreSQL host:port (user postgres, no password)")
	myAddr := fs.String("mysql", "", "MariaDB host:port (user root, no password)")
	db := fs.String("db", "", "the server's database on PostgreSQL or MariaDB")
	sqlConns := fs.Int("sql-conns", app.DefaultSQLConns, "connection pool of the PostgreSQL and MariaDB servers")
	sqliteConns := fs.Int("sqlite-conns", app.DefaultSQLiteConns, "ginkit/sqlite's max_conns")
	statsListen := fs.String("stats-listen", "", "serve this project's Manager.Stats as JSON at this address (another listener than the measured one)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (for go tool pprof)")
	adminListen := fs.String("admin-listen", "", "serve the scale mode's admin handler (preload, sweep, user operations; see app.Scale) at this address")
	capacity := fs.Int("capacity", 0, "with -admin-listen: the sessions the store must hold (the memory driver's max_entries)")
	_ = fs.Parse(args)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	spec, err := app.ParseName(*name)
	if err != nil {
		log.Fatal(err)
	}
	spec.Size, spec.RedisAddr, spec.MemcachedAddr, spec.Dir = *size, *redisAddr, *mcAddr, *dir
	spec.PostgresAddr, spec.MySQLAddr, spec.DB = *pgAddr, *myAddr, *db
	spec.SQLConns, spec.SQLiteConns = *sqlConns, *sqliteConns
	if *statsListen != "" {
		spec.OnManager = func(m *sessions.Manager) { go serveStats(*statsListen, m) }
	}
	var sc *app.Scale
	if *adminListen != "" {
		if sc, err = app.NewScale(&spec, *capacity); err != nil {
			log.Fatal(err)
		}
	}
	h, cleanup, err := app.Build(spec)
	if err != nil {
		log.Fatalf("serve %s: %v", *name, err)
	}
	if sc != nil {
		ah, err := sc.Handler(h)
		if err != nil {
			log.Fatal(err)
		}
		admin := &http.Server{Addr: *adminListen, Handler: ah, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := admin.ListenAndServe(); err != nil {
				log.Printf("admin listener: %v", err)
			}
		}()
		defer sc.Close()
	}
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
	cleanup()
}

// serveStats serves m.Stats() as JSON on its own listener, so that the
// measured engine carries no extra route.
func serveStats(addr string, m *sessions.Manager) {
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(m.Stats())
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Printf("stats listener: %v", err)
	}
}

type options struct {
	mode     string
	servers  []string
	routes   []string
	duration time.Duration
	warmup   time.Duration
	conns    []int
	sizes    []int
	threads  int
	pool     int
	runs     int
	partial  bool // -servers or -routes given: latest-MODE.md is left alone
	slices   int
	fileDir  string
	out      string
	readme   string
	// sqlConns is the pool of every PostgreSQL and MariaDB server,
	// sqliteConns ginkit/sqlite's.
	sqlConns    int
	sqliteConns int
	// live is the scale mode's numbers of live sessions; userSessions the
	// sessions of its one user.
	live         []int
	userSessions int
}

func run() error {
	var o options
	var servers, routes, conns, sizes, live string
	flag.StringVar(&o.mode, "mode", "headline", "headline (every library, 250 B, 64 connections), size (session sizes), conns (connection counts), sql (the SQL drivers beside scs' and gin-contrib's PostgreSQL stores) or scale (this project's seven backends holding -live sessions)")
	flag.StringVar(&live, "live", "", "-mode scale: live sessions preloaded in each store, comma-separated (default 10000,100000,1000000)")
	flag.IntVar(&o.userSessions, "user-sessions", 1000, "-mode scale: sessions of the one user whose UserSessions, devices page and RevokeUser are timed")
	flag.StringVar(&servers, "servers", "", "comma-separated servers (lib/store); default depends on -mode; known: "+strings.Join(app.AllNames(), ","))
	flag.StringVar(&routes, "routes", "", "routes to measure (default none,read,write; -mode size, conns and sql: read,write)")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "measured time per server and route (and as much again for bare Gin, in alternation)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured wrk run before each measured one")
	flag.StringVar(&conns, "conns", "", "wrk connections, comma-separated (default 64; -mode conns: 16,64,256)")
	flag.StringVar(&sizes, "sizes", "", "session sizes in bytes, comma-separated (default 250; -mode size: 250,4096,65536)")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.IntVar(&o.pool, "pool", 1000, "sessions in each server's pool")
	flag.IntVar(&o.runs, "runs", 1, "repeat the whole sequence this many times (ratios are per run; the tables show the median)")
	flag.IntVar(&o.slices, "slices", 8, "each measurement is this many wrk runs of -duration/slices, alternating with as many of bare Gin")
	flag.StringVar(&o.fileDir, "file-dir", "", "parent folder of the file driver's session folder (default: the OS temp folder)")
	flag.StringVar(&o.out, "out", "results", "folder for the results")
	flag.StringVar(&o.readme, "readme", "", "Markdown file whose bench:MODE section gets the table")
	flag.IntVar(&o.sqlConns, "sql-conns", app.DefaultSQLConns, "connection pool of every server on PostgreSQL or MariaDB, this project's (max_conns) and the peers'")
	flag.IntVar(&o.sqliteConns, "sqlite-conns", app.DefaultSQLiteConns, "ginkit/sqlite's pool (max_conns)")
	flag.Parse()
	if err := o.resolve(servers, routes, conns, sizes); err != nil {
		return err
	}
	if err := o.resolveLive(live); err != nil {
		return err
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk not found on PATH (Debian: apt-get install wrk; make deps does it)")
	}
	return measureAll(o)
}

// resolve fills in the defaults of o.mode and checks the lists.
func (o *options) resolve(servers, routes, conns, sizes string) error {
	defServers, defConns, defSizes, defRoutes := app.Names(), "64", "250", "none,read,write"
	ours := []string{"bare", "ginkit/memory", "ginkit/file", "ginkit/redis", "ginkit/redis-cache", "ginkit/memcached"}
	switch o.mode {
	case "headline":
	case "size":
		defServers, defSizes, defRoutes = ours, "250,4096,65536", "read,write"
	case "conns":
		defServers, defConns, defRoutes = ours, "16,64,256", "read,write"
	case "sql":
		defServers, defRoutes = app.SQLNames(), "read,write"
	case "scale":
		defServers, defRoutes = ScaleServers(), "read,write"
	default:
		return fmt.Errorf("-mode %q: want headline, size, conns, sql or scale", o.mode)
	}
	if o.sqlConns <= 0 || o.sqliteConns <= 0 {
		return fmt.Errorf("-sql-conns and -sqlite-conns must be positive")
	}
	o.partial = servers != "" || routes != ""
	o.servers = splitList(servers, defServers)
	o.routes = splitList(routes, strings.Split(defRoutes, ","))
	var err error
	if o.conns, err = intList(conns, defConns); err != nil {
		return fmt.Errorf("-conns: %w", err)
	}
	if o.sizes, err = intList(sizes, defSizes); err != nil {
		return fmt.Errorf("-sizes: %w", err)
	}
	if o.servers[0] != "bare" {
		o.servers = append([]string{"bare"}, o.servers...)
	}
	for _, s := range o.servers {
		if _, err := app.ParseName(s); err != nil {
			return err
		}
	}
	for _, r := range o.routes {
		if r != "none" && r != "read" && r != "write" {
			return fmt.Errorf("-routes: %q: want none, read or write", r)
		}
	}
	return nil
}

// needs reports which backends the servers of o use: redis, memcached,
// postgres, mariadb, sqlite.
func (o *options) needs() map[string]bool {
	out := map[string]bool{}
	for _, name := range o.servers {
		spec, err := app.ParseName(name)
		switch {
		case err != nil:
		case spec.IsSQL():
			out[spec.SQLBackend()] = true
		case strings.Contains(spec.Store, "redis"):
			out["redis"] = true
		case spec.Store == "memcached":
			out["memcached"] = true
		}
	}
	return out
}

func splitList(s string, def []string) []string {
	if s == "" {
		return def
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func intList(s, def string) ([]int, error) {
	if s == "" {
		s = def
	}
	var out []int
	for _, f := range splitList(s, nil) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Result is one measured wrk run.
type Result struct {
	Run    int    `json:"run"`
	Server string `json:"server"`
	Route  string `json:"route"`
	Size   int    `json:"size"`
	Conns  int    `json:"conns"`
	// Live is, in the scale mode, the sessions the store held.
	Live int `json:"live,omitempty"`
	// PairedWith is, for a bare Gin result, the server it alternated with.
	PairedWith string `json:"paired_with,omitempty"`

	Requests  int64            `json:"requests"`
	RPS       float64          `json:"rps"`
	P50us     int64            `json:"p50_us"`
	P90us     int64            `json:"p90_us"`
	P99us     int64            `json:"p99_us"`
	MaxUs     int64            `json:"max_us"`
	Errors    int64            `json:"errors"`
	ErrDetail map[string]int64 `json:"error_detail,omitempty"`

	// ServerCPUus is the server process' CPU time per request, in µs.
	ServerCPUus float64 `json:"server_cpu_us"`
	// Backend is "redis", "memcached", "postgres", "mariadb", "sqlite" or
	// "" (no store I/O).
	Backend string `json:"backend,omitempty"`
	// BackendCPUus is the backend's CPU time per request, in µs.
	BackendCPUus float64 `json:"backend_cpu_us,omitempty"`
	// Ops is backend commands sent per request: Redis commandstats less
	// the commands Lua scripts ran (see splitOps), memcached's
	// get/set/add/cas/touch/delete commands, the statements PostgreSQL
	// (pg_stat_statements, the server's database) or MariaDB (Com_select,
	// Com_insert, Com_update, Com_delete) executed, or for SQLite, which
	// no other process can count, the driver calls this project's
	// Manager.Stats counts (loads, saves, save conflicts, touches: one
	// statement each, as the driver documents).
	Ops float64 `json:"ops"`
	// OpsDetail is Ops per command.
	OpsDetail map[string]float64 `json:"ops_detail,omitempty"`
	// ScriptOpsDetail is, per command, what Redis ran inside Lua scripts
	// per request.
	ScriptOpsDetail map[string]float64 `json:"script_ops_detail,omitempty"`
	// NewConns is backend connections opened per request.
	NewConns float64 `json:"new_conns"`
	// RoundTrips is, for PostgreSQL and MariaDB, the round trips to the
	// database per request: the data segments the server process sent to
	// it per statement (ss' data_segs_out over its connections; a request
	// to the database fits in one segment) times the statements per
	// request.
	RoundTrips float64 `json:"round_trips,omitempty"`
	// RoundTripsPerStatement is what RoundTrips is computed from: data
	// segments per statement, measured apart (see probeRoundTrips), times
	// Ops.
	RoundTripsPerStatement float64 `json:"round_trips_per_statement,omitempty"`
	// ExtraDetail is, per request, other counters of the backend:
	// MariaDB's questions, stmt_prepare and stmt_execute.
	ExtraDetail map[string]float64 `json:"extra_detail,omitempty"`

	// BareRPS is bare Gin's RPS on the same route, size and conns, measured
	// in slices alternating with this server's.
	BareRPS float64 `json:"bare_rps"`
	// Ratio is RPS / BareRPS.
	Ratio float64 `json:"ratio"`
	// BareCPUus is bare Gin's CPU time per request over its slices, and
	// CPURatio is BareCPUus / ServerCPUus: the throughput ratio the server
	// would reach if CPU were all that limited both (it is, on this
	// machine, but other work on it disturbs the throughput more than the
	// CPU time per request).
	BareCPUus float64 `json:"bare_cpu_us"`
	CPURatio  float64 `json:"cpu_ratio"`
}

type wrkSummary struct {
	Requests   int64            `json:"requests"`
	DurationUs int64            `json:"duration_us"`
	Errors     map[string]int64 `json:"errors"`
	Latency    struct {
		P50  int64   `json:"p50"`
		P90  int64   `json:"p90"`
		P99  int64   `json:"p99"`
		Max  int64   `json:"max"`
		Mean float64 `json:"mean"`
	} `json:"latency_us"`
}

type env struct {
	o        options
	self     string
	redis    *backend.Server
	mc       *backend.Server
	pg       *backend.SQLServer // nil unless a server needs it
	maria    *backend.SQLServer // nil unless a server needs it
	sqlNotes string             // how the SQL backends were set up, for the results
	script   string
	tmp      string
	started  time.Time
	results  []Result
	hostInfo string

	mu   sync.Mutex
	live map[*server]bool // running servers, killed on ^C

	// capacity is the sessions the next server's store must hold (scale
	// mode); scale the scale mode's figures per server and live count.
	capacity int
	scale    []ScaleResult
}

// server is a running benchmark server with its session pool.
type server struct {
	name     string
	spec     app.Spec
	base     string // http://host:port
	cmd      *exec.Cmd
	poolFile string
	log      *bytes.Buffer
	dir      string
	db       string // its database on PostgreSQL or MariaDB
	stats    string // URL of its Manager.Stats (ginkit/sqlite)
	admin    string // URL of its scale-mode admin listener
}

func measureAll(o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ginkit-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	e := &env{o: o, self: self, tmp: tmp, started: time.Now()}
	e.script = filepath.Join(tmp, "pool.lua")
	if err := os.WriteFile(e.script, poolLua, 0o644); err != nil {
		return err
	}
	if e.redis, err = backend.StartRedis(); err != nil {
		return err
	}
	defer e.redis.Stop()
	if e.mc, err = backend.StartMemcachedMB(memcachedMB(o)); err != nil {
		return err
	}
	defer e.mc.Stop()
	log.Printf("redis-server on %s, memcached on %s", e.redis.Addr, e.mc.Addr)
	needs := o.needs()
	if needs["postgres"] {
		if e.pg, err = backend.StartPostgres(); err != nil {
			return err
		}
		defer e.pg.Stop()
		log.Printf("%s on %s", e.pg.Version, e.pg.Addr)
	}
	if needs["mariadb"] {
		if e.maria, err = backend.StartMariaDB(); err != nil {
			return err
		}
		defer e.maria.Stop()
		log.Printf("%s on %s", e.maria.Version, e.maria.Addr)
	}
	e.hostInfo = hostInfo(needs, e.redis.Addr, e.pg, e.maria)
	e.sqlNotes = sqlNotes(o, e.pg, e.maria, needs["sqlite"])

	e.live = map[*server]bool{}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		e.mu.Lock()
		for s := range e.live {
			_ = s.cmd.Process.Kill()
		}
		e.redis.Stop()
		e.mc.Stop()
		e.pg.Stop()
		e.maria.Stop()
		os.RemoveAll(tmp)
		os.Exit(130)
	}()

	// Bare Gin runs for the whole invocation: every measurement of a
	// server is paired with one of bare Gin taken in alternation with it.
	bare, err := e.start("bare", 0, 0)
	if err != nil {
		return err
	}
	defer e.stop(bare)

	if o.mode == "scale" {
		if err := e.measureScaleAll(bare); err != nil {
			return err
		}
		return e.write()
	}
	for run := 1; run <= o.runs; run++ {
		for _, size := range o.sizes {
			for _, conns := range o.conns {
				for _, name := range o.servers {
					if name == "bare" {
						continue
					}
					rs, err := e.measureServer(run, bare, name, size, conns)
					if err != nil {
						return fmt.Errorf("%s (size %d, %d connections): %w", name, size, conns, err)
					}
					e.results = append(e.results, rs...)
				}
			}
		}
	}
	return e.write()
}

// start runs a server as a child process and makes its session pool.
// run numbers its database on PostgreSQL or MariaDB (0 for bare Gin).
func (e *env) start(name string, size, run int) (*server, error) {
	spec, err := app.ParseName(name)
	if err != nil {
		return nil, err
	}
	s := &server{name: name, spec: spec, log: &bytes.Buffer{}}
	if spec.Store == "file" || spec.Store == "sqlite" {
		if s.dir, err = os.MkdirTemp(e.o.fileDir, "ginkit-bench-"+spec.Store+"-"); err != nil {
			return nil, err
		}
	}
	if db := e.sqlServer(spec); db != nil {
		// Its own database, fresh for every run, dropped by stop.
		s.db = backend.DBName(name, run)
		if err := db.CreateDatabase(s.db); err != nil {
			return nil, fmt.Errorf("%s: create database %s: %w", db.Name, s.db, err)
		}
	}
	port, err := backend.FreePort()
	if err != nil {
		return nil, err
	}
	addr := backend.Addr(port)
	args := serveArgs(name, addr, size, e.redis.Addr, e.mc.Addr, s.dir)
	if spec.IsSQL() {
		args = append(args, "-db", s.db, "-sql-conns", strconv.Itoa(e.o.sqlConns), "-sqlite-conns", strconv.Itoa(e.o.sqliteConns))
		if e.pg != nil {
			args = append(args, "-postgres", e.pg.Addr)
		}
		if e.maria != nil {
			args = append(args, "-mysql", e.maria.Addr)
		}
		if spec.Lib == "ginkit" && spec.Store == "sqlite" {
			sp, err := backend.FreePort()
			if err != nil {
				return nil, err
			}
			args = append(args, "-stats-listen", backend.Addr(sp))
			s.stats = "http://" + backend.Addr(sp) + "/stats"
		}
	}
	if e.o.mode == "scale" && spec.Lib == "ginkit" {
		ap, err := backend.FreePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "-admin-listen", backend.Addr(ap), "-capacity", strconv.Itoa(e.capacity))
		s.admin = "http://" + backend.Addr(ap)
	}
	s.cmd = exec.Command(e.self, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	e.mu.Lock()
	err = s.cmd.Start()
	if err == nil {
		e.live[s] = true
	}
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.base = "http://" + addr
	if err := proc.WaitHTTP(s.base+"/none", 20*time.Second); err != nil {
		e.stop(s)
		return nil, fmt.Errorf("server did not start: %w\n%s", err, s.log.String())
	}
	if s.admin != "" {
		// The scale mode preloads the sessions in the server (see
		// measureScale): no pool over HTTP.
		return s, nil
	}
	pool, err := makePool(s.base, spec, e.o.pool)
	if err != nil {
		e.stop(s)
		return nil, fmt.Errorf("session pool: %w\n%s", err, s.log.String())
	}
	if spec.Store == "redis-cache" {
		// The driver reads keys it wrote itself in the last five seconds
		// from Redis, not from its cache (read-your-writes): let the pool's
		// writes age out of that window so that /read sees steady state.
		time.Sleep(6 * time.Second)
	}
	s.poolFile = filepath.Join(e.tmp, "pool-"+strconv.Itoa(port)+".txt")
	if err := os.WriteFile(s.poolFile, []byte(strings.Join(pool, "\n")+"\n"), 0o644); err != nil {
		e.stop(s)
		return nil, err
	}
	return s, nil
}

// serveArgs is the command line of a server's child process.
func serveArgs(name, addr string, size int, redisAddr, mcAddr, dir string) []string {
	return []string{"serve", "-server", name, "-listen", addr, "-size", strconv.Itoa(size),
		"-redis", redisAddr, "-memcached", mcAddr, "-dir", dir}
}

// sqlServer is the PostgreSQL or MariaDB server that spec keeps its
// sessions in, or nil.
func (e *env) sqlServer(spec app.Spec) *backend.SQLServer {
	switch spec.SQLBackend() {
	case "postgres":
		return e.pg
	case "mariadb":
		return e.maria
	}
	return nil
}

// stop ends a server and empties the backends.
func (e *env) stop(s *server) {
	proc.Stop(s.cmd, 10*time.Second)
	e.mu.Lock()
	delete(e.live, s)
	e.mu.Unlock()
	if spec, _ := app.ParseName(s.name); spec.HasSessions() {
		_, _ = backend.RedisCommand(e.redis.Addr, "FLUSHALL")
		_ = backend.MemcachedFlush(e.mc.Addr)
	}
	if db := e.sqlServer(s.spec); db != nil && s.db != "" {
		if err := db.DropDatabase(s.db); err != nil {
			log.Printf("%s: drop database %s: %v", db.Name, s.db, err)
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// tally sums the slices of one server's measurement.
type tally struct {
	requests   int64
	durationUs int64
	errs       map[string]int64
	// latency percentiles, weighted by requests over the slices
	p50, p90, p99 float64
	max           int64
	cpu           time.Duration
	redis         backend.RedisStats
	mcOps         map[string]int64
	mcConns       int64
	mcCPU         float64
	// sql sums the SQL server's counters over the slices; driverOps
	// ginkit/sqlite's Manager.Stats counters.
	sql       backend.SQLStats
	driverOps map[string]int64
	samples   int
}

func (t *tally) add(s wrkSummary) {
	t.requests += s.Requests
	t.durationUs += s.DurationUs
	if t.errs == nil {
		t.errs = map[string]int64{}
	}
	for k, v := range s.Errors {
		t.errs[k] += v
	}
	w := float64(s.Requests)
	t.p50 += w * float64(s.Latency.P50)
	t.p90 += w * float64(s.Latency.P90)
	t.p99 += w * float64(s.Latency.P99)
	t.max = max(t.max, s.Latency.Max)
	t.samples++
}

func (t *tally) rps() float64 {
	if t.durationUs == 0 {
		return 0
	}
	return float64(t.requests) / (float64(t.durationUs) / 1e6)
}

// measureServer starts one server, makes its pool and measures every
// route, each in slices that alternate with slices of bare Gin (in the
// order bare, server, server, bare, bare, server, ...), so that both see
// the same machine: the ratio of their totals is robust to other work
// slowing the machine down or speeding it up meanwhile.
func (e *env) measureServer(run int, bare *server, name string, size, conns int) ([]Result, error) {
	spec, _ := app.ParseName(name)
	if spec.Lib == "gincontrib" && spec.Store == "cookie" && size > 3000 {
		log.Printf("skip %s at %d bytes: a cookie holds at most 4 KB", name, size)
		return nil, nil
	}
	s, err := e.start(name, size, run)
	if err != nil {
		return nil, err
	}
	defer e.stop(s)
	return e.measureRoutes(run, bare, s, size, conns)
}

// measureRoutes measures every route of the running server s, each in
// slices alternating with bare Gin's (see measureServer).
func (e *env) measureRoutes(run int, bare, s *server, size, conns int) ([]Result, error) {
	name, spec := s.name, s.spec
	var err error
	slices := max(1, e.o.slices)
	slice := e.o.duration / time.Duration(slices)
	var out []Result
	for _, route := range e.o.routes {
		if _, err := e.wrk(s.base+"/"+route, s.poolFile, conns, e.o.warmup); err != nil {
			return nil, err
		}
		if _, err := e.wrk(bare.base+"/"+route, bare.poolFile, conns, time.Second); err != nil {
			return nil, err
		}
		var tb, ts tally
		ts.redis = backend.RedisStats{Calls: map[string]int64{}}
		ts.mcOps = map[string]int64{}
		ts.sql = backend.SQLStats{Statements: map[string]int64{}, Extra: map[string]int64{}}
		ts.driverOps = map[string]int64{}
		for i := 0; i < 2*slices; i++ {
			// ABBA: bare first in even pairs, the server first in odd ones.
			measureBare := (i%4 == 0) || (i%4 == 3)
			if measureBare {
				cpu0, err := proc.CPU(bare.cmd.Process.Pid)
				if err != nil {
					return nil, err
				}
				sum, err := e.wrk(bare.base+"/"+route, bare.poolFile, conns, slice)
				if err != nil {
					return nil, err
				}
				cpu1, _ := proc.CPU(bare.cmd.Process.Pid)
				tb.add(sum)
				tb.cpu += cpu1 - cpu0
				continue
			}
			if err := e.measureSlice(s, route, conns, slice, &ts); err != nil {
				return nil, err
			}
		}
		var probe *redisProbe
		if strings.Contains(spec.Store, "redis") {
			if probe, err = e.probeRedis(s, route); err != nil {
				return nil, err
			}
		}
		r := e.result(run, name, route, size, conns, spec, &ts, probe)
		if db := e.sqlServer(spec); db != nil {
			perStmt, err := e.probeRoundTrips(s, db, route, conns)
			if err != nil {
				return nil, err
			}
			r.RoundTripsPerStatement = perStmt
			r.RoundTrips = perStmt * r.Ops
		}
		r.BareRPS = tb.rps()
		if r.BareRPS > 0 {
			r.Ratio = r.RPS / r.BareRPS
		}
		if tb.requests > 0 {
			r.BareCPUus = tb.cpu.Seconds() * 1e6 / float64(tb.requests)
		}
		if r.ServerCPUus > 0 {
			r.CPURatio = r.BareCPUus / r.ServerCPUus
		}
		br := Result{Run: run, Server: "bare", PairedWith: name, Route: route, Size: size, Conns: conns,
			Requests: tb.requests, RPS: tb.rps(), BareRPS: tb.rps(), Ratio: 1, CPURatio: 1, Errors: sumErrs(tb.errs)}
		if tb.requests > 0 {
			br.P50us, br.P90us, br.P99us = int64(tb.p50/float64(tb.requests)), int64(tb.p90/float64(tb.requests)), int64(tb.p99/float64(tb.requests))
			br.ServerCPUus, br.BareCPUus = r.BareCPUus, r.BareCPUus
		}
		log.Printf("run %d  %-20s /%-5s size %-6d conns %-4d  %8.0f req/s (bare %8.0f) ratio %.2f  p50 %6.2fms  p99 %7.2fms  errors %d  cpu %.1fµs/req (bare %.1f) cpu-ratio %.2f  ops %.2f/req  conns %.3f/req",
			run, name, route, size, conns, r.RPS, r.BareRPS, r.Ratio, float64(r.P50us)/1000, float64(r.P99us)/1000, r.Errors, r.ServerCPUus, r.BareCPUus, r.CPURatio, r.Ops, r.NewConns)
		out = append(out, br, r)
	}
	return out, nil
}

func sumErrs(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// measureSlice runs one slice of wrk against s and adds it, with the
// server's CPU time and the backends' counters over the slice, to t.
func (e *env) measureSlice(s *server, route string, conns int, d time.Duration, t *tally) error {
	if s.spec.IsSQL() {
		return e.measureSQLSlice(s, route, conns, d, t)
	}
	beforeR, err := backend.ReadRedisStats(e.redis.Addr)
	if err != nil {
		return err
	}
	beforeM, err := backend.MemcachedStats(e.mc.Addr)
	if err != nil {
		return err
	}
	cpu0, err := proc.CPU(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	sum, err := e.wrk(s.base+"/"+route, s.poolFile, conns, d)
	if err != nil {
		return err
	}
	cpu1, _ := proc.CPU(s.cmd.Process.Pid)
	afterR, err := backend.ReadRedisStats(e.redis.Addr)
	if err != nil {
		return err
	}
	afterM, err := backend.MemcachedStats(e.mc.Addr)
	if err != nil {
		return err
	}
	t.add(sum)
	t.cpu += cpu1 - cpu0
	dr := afterR.Sub(beforeR)
	for k, v := range dr.Calls {
		t.redis.Calls[k] += v
	}
	t.redis.Connections += dr.Connections - 1 // the harness' own INFO connection
	t.redis.CPU += dr.CPU
	for k, v := range afterM.Counters {
		t.mcOps[k] += v - beforeM.Counters[k]
	}
	t.mcConns += afterM.Counters["total_connections"] - beforeM.Counters["total_connections"] - 1
	t.mcCPU += afterM.CPU - beforeM.CPU
	return nil
}

// measureSQLSlice is measureSlice for a server on PostgreSQL, MariaDB or
// SQLite: the counters are the SQL server's (or, for SQLite, the
// Manager's) and the server process' TCP segments to the database.
func (e *env) measureSQLSlice(s *server, route string, conns int, d time.Duration, t *tally) error {
	db := e.sqlServer(s.spec)
	read := func() (backend.SQLStats, map[string]int64, error) {
		var st backend.SQLStats
		var ops map[string]int64
		var err error
		if db != nil {
			if st, err = db.ReadStats(s.db); err != nil {
				return st, ops, err
			}
		}
		if s.stats != "" {
			if ops, err = managerStats(s.stats); err != nil {
				return st, ops, err
			}
		}
		return st, ops, nil
	}
	before, opsBefore, err := read()
	if err != nil {
		return err
	}
	cpu0, err := proc.CPU(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	sum, err := e.wrk(s.base+"/"+route, s.poolFile, conns, d)
	if err != nil {
		return err
	}
	cpu1, _ := proc.CPU(s.cmd.Process.Pid)
	after, opsAfter, err := read()
	if err != nil {
		return err
	}
	t.add(sum)
	t.cpu += cpu1 - cpu0
	if db != nil {
		dd := after.Sub(before)
		for k, v := range dd.Statements {
			t.sql.Statements[k] += v
		}
		for k, v := range dd.Extra {
			t.sql.Extra[k] += v
		}
		t.sql.Connections += dd.Connections
		t.sql.CPU += dd.CPU

	}
	for k, v := range opsAfter {
		t.driverOps[k] += v - opsBefore[k]
	}
	return nil
}

// managerStats reads a ginkit server's Manager.Stats from its stats
// listener: the counters of driver calls (loads, saves, save conflicts,
// touches).
func managerStats(url string) (map[string]int64, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st sessions.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return driverCalls(st), nil
}

// driverCalls picks from a Manager's Stats the calls that reach the
// driver: each load, each conditional write (saves and the conflicts,
// which were written again), each touch.
func driverCalls(st sessions.Stats) map[string]int64 {
	return map[string]int64{
		"load":          int64(st.Loads),
		"save":          int64(st.Saves),
		"save_conflict": int64(st.SaveConflicts),
		"touch":         int64(st.Touches),
	}
}

// result turns a server's tally into a Result.
func (e *env) result(run int, name, route string, size, conns int, spec app.Spec, t *tally, probe *redisProbe) Result {
	r := Result{Run: run, Server: name, Route: route, Size: size, Conns: conns, Requests: t.requests, RPS: t.rps(), MaxUs: t.max}
	n := float64(t.requests)
	if n == 0 {
		return r
	}
	r.P50us, r.P90us, r.P99us = int64(t.p50/n), int64(t.p90/n), int64(t.p99/n)
	for k, v := range t.errs {
		if v > 0 {
			if r.ErrDetail == nil {
				r.ErrDetail = map[string]int64{}
			}
			r.ErrDetail[k] = v
			r.Errors += v
		}
	}
	r.ServerCPUus = t.cpu.Seconds() * 1e6 / n
	switch {
	case strings.Contains(spec.Store, "redis"):
		r.Backend = "redis"
		sent, script := splitOps(t.redis.Calls, probe)
		r.OpsDetail, r.ScriptOpsDetail = map[string]float64{}, map[string]float64{}
		for k, v := range sent {
			r.OpsDetail[k] = v / n
			r.Ops += v / n
		}
		for k, v := range script {
			r.ScriptOpsDetail[k] = v / n
		}
		r.NewConns = float64(t.redis.Connections) / n
		r.BackendCPUus = t.redis.CPU * 1e6 / n
	case spec.IsSQL():
		r.Backend = spec.SQLBackend()
		r.OpsDetail = map[string]float64{}
		src := t.sql.Statements
		if r.Backend == "sqlite" {
			src = t.driverOps
		}
		for k, v := range src {
			if v > 0 {
				r.OpsDetail[k] = float64(v) / n
				r.Ops += float64(v) / n
			}
		}
		if r.Backend != "sqlite" {
			r.NewConns = float64(t.sql.Connections) / n
			r.BackendCPUus = t.sql.CPU * 1e6 / n
			for k, v := range t.sql.Extra {
				if r.ExtraDetail == nil {
					r.ExtraDetail = map[string]float64{}
				}
				r.ExtraDetail[k] = float64(v) / n
			}
		}
	case spec.Store == "memcached":
		r.Backend = "memcached"
		r.OpsDetail = map[string]float64{}
		var ops int64
		for _, k := range []string{"cmd_get", "cmd_set", "cmd_touch", "delete_hits", "delete_misses", "incr_hits", "incr_misses", "decr_hits", "decr_misses"} {
			if v := t.mcOps[k]; v > 0 {
				r.OpsDetail[k] = float64(v) / n
				ops += v
			}
		}
		r.Ops = float64(ops) / n
		r.NewConns = float64(t.mcConns) / n
		r.BackendCPUus = t.mcCPU * 1e6 / n
	}
	return r
}

// splitOps splits Redis' calls per command into those clients sent and
// those Lua scripts ran. commandstats counts both alike; the probe (MONITOR
// over a short extra wrk run) gives, per command, the share that clients
// sent. A command the probe did not see counts as sent. INFO and MONITOR
// are the harness' own and left out.
func splitOps(calls map[string]int64, probe *redisProbe) (sent, script map[string]float64) {
	sent, script = map[string]float64{}, map[string]float64{}
	for k, v := range calls {
		if k == "info" || k == "monitor" || v <= 0 {
			continue
		}
		frac := 1.0
		if probe != nil {
			c, l := probe.client[k], probe.lua[k]
			if c+l > 0 {
				frac = float64(c) / float64(c+l)
			}
		}
		if x := float64(v) * frac; x > 0 {
			sent[k] = x
		}
		if x := float64(v) * (1 - frac); x > 0 {
			script[k] = x
		}
	}
	return sent, script
}

// redisProbe is what MONITOR showed during a short extra run: commands per
// name sent by clients and run by scripts.
type redisProbe struct {
	client, lua map[string]int64
}

// probeRedis runs wrk on s for a second at 8 connections with MONITOR
// attached to Redis.
func (e *env) probeRedis(s *server, route string) (*redisProbe, error) {
	type res struct {
		p   *redisProbe
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, l, err := backend.RedisMonitor(e.redis.Addr, 1500*time.Millisecond)
		ch <- res{&redisProbe{c, l}, err}
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := e.wrk(s.base+"/"+route, s.poolFile, 8, time.Second); err != nil {
		return nil, err
	}
	r := <-ch
	return r.p, r.err
}

// probeRoundTrips measures the round trips to the database per statement
// of the server s: the data segments its process sends over its
// connections to db per statement executed, over two seconds in the
// middle of a 4-second wrk run. Not over the measured slices: when wrk
// stops, the requests in flight are cancelled, and a driver that closes
// its database connection on cancellation (pgx and go-sql-driver do)
// takes that connection's counters with it.
func (e *env) probeRoundTrips(s *server, db *backend.SQLServer, route string, conns int) (float64, error) {
	_, p, _ := strings.Cut(db.Addr, ":")
	port, _ := strconv.Atoi(p)
	errc := make(chan error, 1)
	go func() {
		_, err := e.wrk(s.base+"/"+route, s.poolFile, conns, 4*time.Second)
		errc <- err
	}()
	// The statement counters between two readings of the sockets, whose
	// mean is taken: the readings are not simultaneous.
	read := func() (backend.SQLStats, backend.SocketStats, error) {
		a, err := backend.ReadSockets(s.cmd.Process.Pid, port)
		if err != nil {
			return backend.SQLStats{}, nil, err
		}
		st, err := db.ReadStats(s.db)
		if err != nil {
			return st, nil, err
		}
		b, err := backend.ReadSockets(s.cmd.Process.Pid, port)
		return st, a.Mean(b), err
	}
	time.Sleep(time.Second)
	st0, so0, err0 := read()
	time.Sleep(2 * time.Second)
	st1, so1, err1 := read()
	if err := errors.Join(<-errc, err0, err1); err != nil {
		return 0, err
	}
	// Only the connections open at both reads.
	segs, _ := so1.Only(so0).Sub(so0.Only(so1))
	var stmts int64
	for _, v := range st1.Sub(st0).Statements {
		stmts += v
	}
	if stmts == 0 {
		return 0, nil
	}
	return float64(segs) / float64(stmts), nil
}

// wrk runs wrk against url with the cookie pool and returns its summary.
func (e *env) wrk(url, poolFile string, conns int, d time.Duration) (wrkSummary, error) {
	var s wrkSummary
	threads := min(e.o.threads, conns)
	secs := max(1, int((d+time.Second-1)/time.Second))
	cmd := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "5s", "-s", e.script, url, "--", poolFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return s, fmt.Errorf("wrk %s: %v\n%s", url, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if js, ok := strings.CutPrefix(line, "BENCHJSON "); ok {
			if err := json.Unmarshal([]byte(js), &s); err != nil {
				return s, fmt.Errorf("wrk summary %q: %v", js, err)
			}
			return s, nil
		}
	}
	return s, fmt.Errorf("wrk printed no summary:\n%s", out)
}

// makePool creates n sessions with GET /write and returns their cookies as
// "name=value". Bare Gin and the floor set no cookie: their pool is n
// random cookies of the same shape, so their requests are as large as the
// others'.
func makePool(base string, spec app.Spec, n int) ([]string, error) {
	if !spec.HasSessions() {
		out := make([]string, n)
		for i := range out {
			var b strings.Builder
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			for range 43 {
				b.WriteByte(alphabet[rand.IntN(64)])
			}
			out[i] = app.CookieName + "=" + b.String()
		}
		return out, nil
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	out := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := client.Get(base + "/write")
			if err != nil {
				errs[i] = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs[i] = fmt.Errorf("GET /write: %s", resp.Status)
				return
			}
			for _, c := range resp.Cookies() {
				if c.Name == app.CookieName && c.Value != "" {
					out[i] = c.Name + "=" + c.Value
				}
			}
			if out[i] == "" {
				errs[i] = fmt.Errorf("GET /write set no %q cookie", app.CookieName)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// hostInfo describes the machine and the versions of the backends the
// servers use (needs, from options.needs).
func hostInfo(needs map[string]bool, redisAddr string, pg, maria *backend.SQLServer) string {
	var parts []string
	if out, err := exec.Command("nproc").Output(); err == nil {
		parts = append(parts, strings.TrimSpace(string(out))+" cores")
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				parts = append(parts, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":")))
				break
			}
		}
	}
	if v, err := backend.RedisCommand(redisAddr, "INFO", "server"); err == nil && needs["redis"] {
		for _, l := range strings.Split(v, "\n") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
				parts = append(parts, "Redis "+s)
			}
		}
	}
	if out, err := exec.Command("memcached", "-V").Output(); err == nil && needs["memcached"] {
		parts = append(parts, strings.TrimSpace(string(out)))
	}
	for _, db := range []*backend.SQLServer{pg, maria} {
		if db != nil && db.Version != "" {
			parts = append(parts, db.Version)
		}
	}
	if needs["sqlite"] {
		if v := sqliteVersion(); v != "" {
			parts = append(parts, "SQLite "+v+" (modernc.org/sqlite)")
		}
	}
	if out, err := exec.Command("wrk", "-v").CombinedOutput(); err == nil {
		parts = append(parts, strings.SplitN(strings.TrimSpace(string(out)), " [", 2)[0])
	}
	return strings.Join(parts, ", ")
}

// sqliteVersion is the version of the SQLite that modernc.org/sqlite
// (this project's SQLite driver) embeds.
func sqliteVersion() string {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return ""
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SELECT sqlite_version()").Scan(&v); err != nil {
		return ""
	}
	return v
}

// sqlNotes says how the SQL backends were set up and what their figures
// count, for the results.
func sqlNotes(o options, pg, maria *backend.SQLServer, sqlite bool) string {
	if pg == nil && maria == nil && !sqlite {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SQL backends: every server on PostgreSQL or MariaDB, this project's (`max_conns=%d`) and the peers' (pgxpool `pool_max_conns=%d`; database/sql `SetMaxOpenConns(%d)` and `SetMaxIdleConns(%d)`), has a pool of %d connections (`-sql-conns`), and its own database, created empty for each run and dropped after it. ",
		o.sqlConns, o.sqlConns, o.sqlConns, o.sqlConns, o.sqlConns)
	for _, db := range []*backend.SQLServer{pg, maria} {
		if db != nil {
			fmt.Fprintf(&b, "%s. ", db.Settings)
		}
	}
	if sqlite {
		where := o.fileDir
		if where == "" {
			where = os.TempDir()
		}
		fmt.Fprintf(&b, "SQLite: ginkit/sqlite's file in a fresh folder under %s, `max_conns=%d` (`-sqlite-conns`), in the driver's WAL mode with synchronous=NORMAL, which does not sync at each commit (durable across a crash of the process, not of the machine), unlike PostgreSQL and MariaDB here. ", where, o.sqliteConns)
	}
	b.WriteString("Ops/req is, for PostgreSQL, the statements pg_stat_statements counted in the server's database; for MariaDB the global Com_select, Com_insert, Com_update and Com_delete less the harness' own queries; for SQLite, embedded in the server process, the driver calls the Manager's Stats counted (each one statement). Round trips/req: statements per request times the round trips per statement, which is the data segments the server process sent to the database over its connections (ss' data_segs_out) per statement executed, over two seconds in the middle of a separate 4-second wrk run (not over the slices: when wrk stops, the requests in flight are cancelled, and pgx and go-sql-driver close a connection whose query is cancelled, taking its counters along). Backend CPU is PostgreSQL's postmaster and backends together, or mariadbd; SQLite's is part of the server's own.")
	return b.String()
}

// keyOf groups results of one configuration across runs.
type keyOf struct {
	server, route string
	size, conns   int
	live          int // scale mode: live sessions in the store
}

// aggregate is the median over runs of one configuration.
type aggregate struct {
	keyOf
	n                        int
	rps, ratio, p50, p99     float64
	cpuRatio                 float64
	cpu, bcpu, ops, newConns float64
	roundTrips               float64
	errors                   int64
	ratioMin, ratioMax       float64
	opsDetail                map[string]float64
	scriptOps                map[string]float64
	extra                    map[string]float64
	backendName              string
}

func aggregateResults(rs []Result) (map[keyOf]*aggregate, []keyOf) {
	groups := map[keyOf][]Result{}
	var order []keyOf
	for _, r := range rs {
		k := keyOf{r.Server, r.Route, r.Size, r.Conns, r.Live}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := map[keyOf]*aggregate{}
	for k, g := range groups {
		a := &aggregate{keyOf: k, n: len(g), ratioMin: 1e9, opsDetail: map[string]float64{}, scriptOps: map[string]float64{}, extra: map[string]float64{}}
		var rps, ratio, p50, p99, cpu, bcpu, ops, nc, cr, rt []float64
		for _, r := range g {
			rps = append(rps, r.RPS)
			ratio = append(ratio, r.Ratio)
			cr = append(cr, r.CPURatio)
			p50 = append(p50, float64(r.P50us))
			p99 = append(p99, float64(r.P99us))
			cpu = append(cpu, r.ServerCPUus)
			bcpu = append(bcpu, r.BackendCPUus)
			ops = append(ops, r.Ops)
			nc = append(nc, r.NewConns)
			rt = append(rt, r.RoundTrips)
			for c, v := range r.ExtraDetail {
				a.extra[c] += v / float64(len(g))
			}
			a.errors += r.Errors
			a.ratioMin = min(a.ratioMin, r.Ratio)
			a.ratioMax = max(a.ratioMax, r.Ratio)
			for c, v := range r.OpsDetail {
				a.opsDetail[c] += v / float64(len(g))
			}
			for c, v := range r.ScriptOpsDetail {
				a.scriptOps[c] += v / float64(len(g))
			}
			a.backendName = r.Backend
		}
		a.rps, a.ratio, a.p50, a.p99 = proc.Median(rps), proc.Median(ratio), proc.Median(p50), proc.Median(p99)
		a.cpu, a.bcpu, a.ops, a.newConns = proc.Median(cpu), proc.Median(bcpu), proc.Median(ops), proc.Median(nc)
		a.cpuRatio = proc.Median(cr)
		a.roundTrips = proc.Median(rt)
		out[k] = a
	}
	return out, order
}

func (e *env) write() error {
	if err := os.MkdirAll(e.o.out, 0o755); err != nil {
		return err
	}
	stamp := e.started.UTC().Format("20060102-150405")
	doc := map[string]any{
		"mode":     e.o.mode,
		"started":  e.started.UTC().Format(time.RFC3339),
		"host":     e.hostInfo,
		"duration": e.o.duration.String(),
		"warmup":   e.o.warmup.String(),
		"threads":  e.o.threads,
		"pool":     e.o.pool,
		"runs":     e.o.runs,
		"results":  e.results,
	}
	if e.o.mode == "scale" {
		doc["live"], doc["user_sessions"], doc["scale"] = e.o.live, e.o.userSessions, e.scale
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	jsonPath := filepath.Join(e.o.out, stamp+"-"+e.o.mode+".json")
	if err := os.WriteFile(jsonPath, raw, 0o644); err != nil {
		return err
	}
	md := e.markdown()
	if e.o.mode == "scale" {
		md = e.scaleMarkdown()
	}
	mdPath := filepath.Join(e.o.out, stamp+"-"+e.o.mode+".md")
	if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
		return err
	}
	if !e.o.partial {
		// latest-MODE.md is the newest complete run of a mode: a run of
		// chosen servers or routes does not replace it.
		if err := os.WriteFile(filepath.Join(e.o.out, "latest-"+e.o.mode+".md"), []byte(md), 0o644); err != nil {
			return err
		}
	}
	log.Printf("wrote %s and %s", jsonPath, mdPath)
	fmt.Println(md)
	if e.o.readme != "" {
		if err := replaceSection(e.o.readme, e.o.mode, md); err != nil {
			return err
		}
		log.Printf("updated the bench:%s section of %s", e.o.mode, e.o.readme)
	}
	return nil
}

func (e *env) markdown() string {
	aggs, order := aggregateResults(e.results)
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s UTC on %s; wrk %d threads, per server and route %s of warm-up then %s in %d slices alternating with as many of bare Gin; a pool of %d sessions; %d run(s): medians, with the range of the ratio over the runs in brackets.\n\n",
		e.started.UTC().Format("2006-01-02 15:04"), e.hostInfo, e.o.threads, e.o.warmup, e.o.duration, e.o.slices, e.o.pool, e.o.runs)
	hasSQL, hasKV := false, false
	for _, a := range aggs {
		switch a.backendName {
		case "postgres", "mariadb", "sqlite":
			hasSQL = true
		case "redis", "memcached":
			hasKV = true
		}
	}
	if e.sqlNotes != "" {
		b.WriteString(e.sqlNotes + "\n\n")
	}
	fmt.Fprintf(&b, "Ratio: requests per second over those of bare Gin (same route, alternating slices). CPU ratio: bare Gin's server CPU time per request over this server's: the throughput ratio if the server had the machine to itself, and so a lower bound of it here, where wrk shares the cores; it is much less disturbed by other work on the machine than the throughput. p50/p99: wrk's, averaged over the slices. CPU: the server process' CPU time per request. Ops: backend commands sent per request. Conns: backend connections opened per request. The bare row is the median over all its slices.\n\n")

	type section struct {
		size, conns int
	}
	var secs []section
	seen := map[section]bool{}
	for _, k := range order {
		s := section{k.size, k.conns}
		if !seen[s] {
			seen[s] = true
			secs = append(secs, s)
		}
	}
	for _, s := range secs {
		if len(secs) > 1 {
			fmt.Fprintf(&b, "#### Session of %s, %d connections\n\n", sizeLabel(s.size), s.conns)
		}
		if hasSQL {
			fmt.Fprintf(&b, "| server | route | req/s | ratio to bare | CPU ratio | p50 ms | p99 ms | errors | CPU µs/req | backend CPU µs/req | ops/req | round trips/req | conns/req |\n")
			fmt.Fprintf(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		} else {
			fmt.Fprintf(&b, "| server | route | req/s | ratio to bare | CPU ratio | p50 ms | p99 ms | errors | CPU µs/req | backend CPU µs/req | ops/req | conns/req |\n")
			fmt.Fprintf(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		}
		var servers []string
		seenS := map[string]bool{}
		for _, k := range order {
			if k.size == s.size && k.conns == s.conns && !seenS[k.server] {
				seenS[k.server] = true
				servers = append(servers, k.server)
			}
		}
		for _, srv := range servers {
			for _, route := range e.o.routes {
				a, ok := aggs[keyOf{server: srv, route: route, size: s.size, conns: s.conns}]
				if !ok {
					continue
				}
				ratio := fmt.Sprintf("%.2f", a.ratio)
				if a.n > 1 && srv != "bare" {
					ratio += fmt.Sprintf(" [%.2f–%.2f]", a.ratioMin, a.ratioMax)
				}
				bcpu, ops, nc, rt := "–", "–", "–", "–"
				if a.backendName != "" {
					bcpu = fmt.Sprintf("%.1f", a.bcpu)
					ops = fmt.Sprintf("%.2f", a.ops)
					nc = fmt.Sprintf("%.3f", a.newConns)
				}
				switch a.backendName {
				case "postgres", "mariadb":
					rt = fmt.Sprintf("%.2f", a.roundTrips)
				case "sqlite":
					// In the server's process: no backend process, no
					// connections, no round trips.
					bcpu, nc = "–", "–"
				}
				row := fmt.Sprintf("| %s | /%s | %.0f | %s | %.2f | %.2f | %.2f | %d | %.1f | %s | %s |",
					srv, route, a.rps, ratio, a.cpuRatio, a.p50/1000, a.p99/1000, a.errors, a.cpu, bcpu, ops)
				if hasSQL {
					row += " " + rt + " |"
				}
				b.WriteString(row + " " + nc + " |\n")
			}
		}
		b.WriteString("\n")
	}
	// Per-command detail for the backends.
	if hasKV || !hasSQL {
		fmt.Fprintf(&b, "<details><summary>Backend commands per request</summary>\n\n| server | route | size | conns | sent by the server | run inside Lua scripts |\n|---|---|---:|---:|---|---|\n")
		for _, k := range order {
			a := aggs[k]
			if a.backendName != "redis" && a.backendName != "memcached" {
				continue
			}
			fmt.Fprintf(&b, "| %s | /%s | %s | %d | %s | %s |\n", k.server, k.route, sizeLabel(k.size), k.conns, opsList(a.opsDetail), opsList(a.scriptOps))
		}
		b.WriteString("\n</details>\n")
	}
	if hasSQL {
		if hasKV {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "<details><summary>Statements per request</summary>\n\n| server | route | size | conns | backend | statements | round trips | other counters |\n|---|---|---:|---:|---|---|---:|---|\n")
		for _, k := range order {
			a := aggs[k]
			switch a.backendName {
			case "postgres", "mariadb":
				fmt.Fprintf(&b, "| %s | /%s | %s | %d | %s | %s | %.2f | %s |\n", k.server, k.route, sizeLabel(k.size), k.conns, a.backendName, opsList(a.opsDetail), a.roundTrips, opsList(a.extra))
			case "sqlite":
				fmt.Fprintf(&b, "| %s | /%s | %s | %d | sqlite (driver calls) | %s | – | – |\n", k.server, k.route, sizeLabel(k.size), k.conns, opsList(a.opsDetail))
			}
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// opsList formats commands per request, sorted by name.
func opsList(m map[string]float64) string {
	var cmds []string
	for c, v := range m {
		if v >= 0.005 {
			cmds = append(cmds, c)
		}
	}
	sort.Strings(cmds)
	var parts []string
	for _, c := range cmds {
		parts = append(parts, fmt.Sprintf("%s %.2f", c, m[c]))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

func sizeLabel(n int) string {
	switch {
	case n >= 1024 && n%1024 == 0:
		return strconv.Itoa(n/1024) + " KB"
	case n >= 1000 && n%1024 != 0 && n > 4000:
		return fmt.Sprintf("%.0f KB", float64(n)/1024)
	}
	return strconv.Itoa(n) + " B"
}

// replaceSection replaces the text between "<!-- bench:MODE:start -->" and
// "<!-- bench:MODE:end -->" in file with md.
func replaceSection(file, mode, md string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	start, end := "<!-- bench:"+mode+":start -->", "<!-- bench:"+mode+":end -->"
	s := string(b)
	i := strings.Index(s, start)
	j := strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s section", file, start, end)
	}
	s = s[:i+len(start)] + "\n" + md + "\n" + s[j:]
	return os.WriteFile(file, []byte(s), 0o644)
}
