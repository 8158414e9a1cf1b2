// Command soak runs this project's session server for a long time under
// mixed traffic and fails if it leaks or fails a request (`make soak`,
// not part of `make test`).
//
// For each backend it starts the backend server (as cmd/loadtest does),
// then the session server as a child process (this same binary with the
// serve subcommand: app.Build on a ginkit spec with app.Soak's login and
// logout routes), preloads -live sessions over HTTP (excluded from the
// measured window), and then for -duration sends a mix of GET /read,
// /write, /login and /logout from -workers goroutines at -rate requests
// per second, each with a cookie drawn at random from the pool, following
// every Set-Cookie so the pool stays the live sessions. Every 5 seconds
// (-sample) it reads the server's VmRSS from /proc/PID/status and its
// goroutine count from the server's admin listener.
//
// A backend fails if any request fails (a transport error, a status other
// than 2xx, a login or logout that hands out no new cookie), if a load
// finds no session (a session of the pool lost: Manager.Stats' Misses),
// or if the mean RSS or goroutine count of the last fifth of the samples
// exceeds the first fifth's by more than 10% (-max-growth).
//
//	go run ./cmd/soak -backends redis,postgres -live 100000 -duration 10m -out results
//
// Results go to OUT/STAMP-soak-BACKEND.json (every sample and count) and
// .md (a table); the summary is printed. The exit status is 1 if any
// backend failed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/bench/internal/app"
	"github.com/ginkit/sessions/bench/internal/backend"
	"github.com/ginkit/sessions/bench/internal/proc"
)

// Backends lists the ginkit stores the soak knows, in the default order.
var Backends = []string{"memory", "file", "redis", "memcached", "postgres", "mysql", "sqlite"}

// DefaultMix is the default traffic: 60% reads, 25% writes, 10% logins,
// 5% logouts.
const DefaultMix = "read=60,write=25,login=10,logout=5"

// Ops are the request kinds a mix may name, each a GET of the route of
// the same name (fail and leak only for the tests: see app.Soak).
var Ops = []string{"read", "write", "login", "logout", "fail", "leak"}

func main() {
	log.SetFlags(log.Ltime)
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serve(os.Args[2:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	failed, err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	if failed {
		os.Exit(1)
	}
}

// serve runs the session server until SIGTERM or SIGINT, with an admin
// listener that reports its goroutines and Manager.Stats as JSON.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	store := fs.String("store", "memory", "ginkit store")
	listen := fs.String("listen", "127.0.0.1:0", "address")
	admin := fs.String("admin", "", "address of the admin listener (goroutines and Manager.Stats as JSON)")
	redisAddr := fs.String("redis", "", "redis host:port")
	mcAddr := fs.String("memcached", "", "memcached host:port")
	dir := fs.String("dir", "", "folder for the file driver and the SQLite database")
	pgAddr := fs.String("postgres", "", "PostgreSQL host:port")
	myAddr := fs.String("mysql", "", "MariaDB host:port")
	db := fs.String("db", "", "the server's database on PostgreSQL or MariaDB")
	maxEntries := fs.Int("max-entries", 0, "the memory driver's max_entries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	spec := app.Spec{Lib: "ginkit", Store: *store, RedisAddr: *redisAddr, MemcachedAddr: *mcAddr, Dir: *dir,
		PostgresAddr: *pgAddr, MySQLAddr: *myAddr, DB: *db, Soak: &app.Soak{MaxEntries: *maxEntries}}
	adminErr := make(chan error, 1)
	spec.OnManager = func(m *sessions.Manager) {
		go func() { adminErr <- serveAdmin(*admin, m) }()
	}
	h, cleanup, err := app.Build(spec)
	if err != nil {
		return fmt.Errorf("serve %s: %w", spec.Name(), err)
	}
	defer cleanup()
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		select {
		case <-sig:
		case err := <-adminErr:
			log.Printf("admin listener: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Admin is what the server's admin listener answers.
type Admin struct {
	Goroutines int            `json:"goroutines"`
	Stats      sessions.Stats `json:"stats"`
}

// serveAdmin serves Admin as JSON at addr, apart from the measured
// listener.
func serveAdmin(addr string, m *sessions.Manager) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Admin{Goroutines: runtime.NumGoroutine(), Stats: m.Stats()})
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// options are the soak's flags.
type options struct {
	backends  []string
	live      int
	duration  time.Duration
	workers   int
	rate      float64
	mix       Mix
	sample    time.Duration
	maxGrowth float64
	out       string
	fileDir   string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backends := fs.String("backends", strings.Join(Backends, ","), "comma-separated ginkit stores: "+strings.Join(Backends, ", "))
	fs.IntVar(&o.live, "live", 100000, "live sessions, preloaded before the measured window and kept by the traffic")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "measured time per backend")
	fs.IntVar(&o.workers, "workers", 32, "concurrent clients")
	fs.Float64Var(&o.rate, "rate", 1000, "requests per second over all workers (0: as fast as they go); a steady rate keeps the first and last fifth comparable and leaves CPU to others")
	mix := fs.String("mix", DefaultMix, "request mix, op=weight; ops: "+strings.Join(Ops, ", "))
	fs.DurationVar(&o.sample, "sample", 5*time.Second, "interval between samples of the server's RSS and goroutines")
	fs.Float64Var(&o.maxGrowth, "max-growth", 0.10, "largest allowed growth of mean RSS and goroutines from the first to the last fifth of the samples")
	fs.StringVar(&o.out, "out", "results", "folder for the results")
	fs.StringVar(&o.fileDir, "file-dir", "", "parent folder for the file and sqlite stores (default: the system's temporary folder)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, b := range strings.Split(*backends, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if !contains(Backends, b) {
			return o, fmt.Errorf("unknown backend %q; known: %s", b, strings.Join(Backends, ", "))
		}
		o.backends = append(o.backends, b)
	}
	if len(o.backends) == 0 {
		return o, errors.New("no backend")
	}
	if o.live < 1 || o.workers < 1 || o.duration <= 0 || o.sample <= 0 || o.rate < 0 || o.maxGrowth < 0 {
		return o, errors.New("-live, -workers, -duration and -sample must be positive, -rate and -max-growth not negative")
	}
	m, err := ParseMix(*mix)
	if err != nil {
		return o, err
	}
	o.mix = m
	return o, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// run soaks every backend of args in turn, writes the results and prints
// the summary; failed reports whether any backend failed its checks, err
// a soak that could not run.
func run(ctx context.Context, args []string, stdout io.Writer) (failed bool, err error) {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return false, err
	}
	self, err := os.Executable()
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return false, err
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	var summary []*Result
	for _, b := range o.backends {
		log.Printf("%s: soak of %d live sessions for %s", b, o.live, o.duration)
		r, err := soakBackend(ctx, o, self, b)
		if err != nil {
			return true, fmt.Errorf("%s: %w", b, err)
		}
		if err := r.write(o.out, stamp); err != nil {
			return true, err
		}
		summary = append(summary, r)
		for _, reason := range r.Reasons {
			log.Printf("FAIL %s", reason)
		}
		if !r.Pass {
			failed = true
		}
	}
	fmt.Fprint(stdout, Markdown(summary))
	return failed, nil
}

// env is one backend's running processes and what to clean up.
type env struct {
	redis *backend.Server
	mc    *backend.Server
	sql   *backend.SQLServer
	dir   string
	db    string
	child *exec.Cmd
	log   *lockedBuffer
}

func (e *env) close() {
	proc.Stop(e.child, 10*time.Second)
	if e.sql != nil {
		e.sql.Stop()
	}
	e.redis.Stop()
	e.mc.Stop()
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// lockedBuffer keeps the child's output for error messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start starts the backend server and the session server.
func (e *env) start(o options, self, store string) (base, admin string, err error) {
	args := []string{"serve", "-store", store}
	switch store {
	case "memory":
		// Twice the live sessions: the bound is split over shards, and
		// none may evict a live session.
		args = append(args, "-max-entries", strconv.Itoa(max(2*o.live, 1000)))
	case "file", "sqlite":
		if e.dir, err = os.MkdirTemp(o.fileDir, "ginkit-soak-"+store+"-"); err != nil {
			return "", "", err
		}
		args = append(args, "-dir", e.dir)
	case "redis":
		if e.redis, err = backend.StartRedis(); err != nil {
			return "", "", err
		}
		args = append(args, "-redis", e.redis.Addr)
	case "memcached":
		// 1 GiB: 100,000 sessions of about 300 bytes take some 50 MB.
		if e.mc, err = backend.StartMemcached(); err != nil {
			return "", "", err
		}
		args = append(args, "-memcached", e.mc.Addr)
	case "postgres", "mysql":
		if store == "postgres" {
			e.sql, err = backend.StartPostgres()
		} else {
			e.sql, err = backend.StartMariaDB()
		}
		if err != nil {
			return "", "", err
		}
		e.db = "soak_" + store
		if err := e.sql.CreateDatabase(e.db); err != nil {
			return "", "", fmt.Errorf("%s: create database: %w", e.sql.Name, err)
		}
		args = append(args, "-db", e.db)
		if store == "postgres" {
			args = append(args, "-postgres", e.sql.Addr)
		} else {
			args = append(args, "-mysql", e.sql.Addr)
		}
	}
	port, err := backend.FreePort()
	if err != nil {
		return "", "", err
	}
	aport, err := backend.FreePort()
	if err != nil {
		return "", "", err
	}
	base = "http://" + backend.Addr(port)
	admin = "http://" + backend.Addr(aport) + "/"
	args = append(args, "-listen", backend.Addr(port), "-admin", backend.Addr(aport))
	e.log = &lockedBuffer{}
	e.child = exec.Command(self, args...)
	e.child.Stdout, e.child.Stderr = e.log, e.log
	// The server never outlives the soak.
	e.child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := e.child.Start(); err != nil {
		return "", "", err
	}
	if err := proc.WaitHTTP(base+"/none", 30*time.Second); err != nil {
		return "", "", fmt.Errorf("server did not start: %w\n%s", err, e.log.String())
	}
	if err := proc.WaitHTTP(admin, 10*time.Second); err != nil {
		return "", "", fmt.Errorf("admin listener did not start: %w\n%s", err, e.log.String())
	}
	return base, admin, nil
}

// soakBackend runs the whole soak of one backend.
func soakBackend(ctx context.Context, o options, self, store string) (*Result, error) {
	e := &env{}
	defer e.close()
	base, admin, err := e.start(o, self, store)
	if err != nil {
		return nil, err
	}
	pid := e.child.Process.Pid
	c := newClient(base, o)
	defer c.http.CloseIdleConnections()

	t0 := time.Now()
	if err := c.preload(ctx); err != nil {
		return nil, fmt.Errorf("preload: %w\n%s", err, e.log.String())
	}
	r := &Result{Backend: store, Started: time.Now().UTC(), Live: o.live, Workers: o.workers, Rate: o.rate,
		Mix: o.mix.Weights(), SampleSeconds: o.sample.Seconds(), MaxGrowth: o.maxGrowth, GoVersion: runtime.Version(),
		PreloadSeconds: time.Since(t0).Seconds(), ByOp: map[string]int64{}, FailuresByOp: map[string]int64{}}
	if e.sql != nil {
		r.BackendVersion = e.sql.Version
	}
	log.Printf("%s: preloaded %d sessions in %.1fs", store, o.live, r.PreloadSeconds)
	before, err := readAdmin(admin)
	if err != nil {
		return nil, err
	}

	// The measured window: traffic, and a sample every o.sample.
	wctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.traffic(wctx) }()
	var sampleErr error
	takeSample := func() {
		s, err := sample(pid, admin)
		if err != nil {
			if sampleErr == nil {
				sampleErr = err
			}
			return
		}
		s.Seconds = time.Since(start).Seconds()
		s.Requests, s.Failures = c.requests.Load(), c.failures.Load()
		r.Samples = append(r.Samples, s)
	}
	takeSample()
	tick := time.NewTicker(o.sample)
	for done := false; !done; {
		select {
		case <-wctx.Done():
			done = true
		case <-tick.C:
			takeSample()
		}
	}
	tick.Stop()
	wg.Wait()
	takeSample()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted")
	}
	if sampleErr != nil {
		return nil, fmt.Errorf("sampling the server: %w\n%s", sampleErr, e.log.String())
	}
	after, err := readAdmin(admin)
	if err != nil {
		return nil, err
	}
	c.fill(r, elapsed)
	r.Stats = statsDelta(before.Stats, after.Stats)
	r.LostSessions = after.Stats.Misses - before.Stats.Misses
	r.check()
	return r, nil
}

// Sample is one reading of the server.
type Sample struct {
	Seconds    float64 `json:"seconds"`     // since the measured window began
	RSSKB      int64   `json:"rss_kb"`      // VmRSS
	Goroutines int     `json:"goroutines"`  // runtime.NumGoroutine
	Requests   int64   `json:"requests"`    // sent so far in the window
	Failures   int64   `json:"failures"`    // failed so far in the window
	Loads      uint64  `json:"loads"`       // Manager.Stats
	Misses     uint64  `json:"misses"`      // Manager.Stats
	SaveErrors uint64  `json:"save_errors"` // Manager.Stats
}

func sample(pid int, admin string) (Sample, error) {
	var s Sample
	rss, err := proc.VmRSS(pid)
	if err != nil {
		return s, err
	}
	a, err := readAdmin(admin)
	if err != nil {
		return s, err
	}
	s.RSSKB, s.Goroutines = rss/1024, a.Goroutines
	s.Loads, s.Misses, s.SaveErrors = a.Stats.Loads, a.Stats.Misses, a.Stats.SaveErrors
	return s, nil
}

func readAdmin(url string) (Admin, error) {
	var a Admin
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return a, fmt.Errorf("admin listener: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("admin listener: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, fmt.Errorf("admin listener: %w", err)
	}
	return a, nil
}

// statsDelta returns the counters of after minus before, by name.
func statsDelta(before, after sessions.Stats) map[string]uint64 {
	var b, a map[string]uint64
	bj, _ := json.Marshal(before)
	aj, _ := json.Marshal(after)
	_ = json.Unmarshal(bj, &b)
	_ = json.Unmarshal(aj, &a)
	out := map[string]uint64{}
	for k, v := range a {
		if d := v - b[k]; d > 0 && v >= b[k] {
			out[k] = d
		}
	}
	return out
}

// Mix is a request mix: each op's share in a cumulative table.
type Mix struct {
	ops []string
	cum []int // cumulative weights, same order as ops
}

// ParseMix reads "read=60,write=25,login=10,logout=5": ops from Ops,
// non-negative integer weights, at least one positive, none repeated.
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := map[string]bool{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		op, w, ok := strings.Cut(part, "=")
		if !ok {
			return Mix{}, fmt.Errorf("mix: %q: want op=weight", part)
		}
		if !contains(Ops, op) {
			return Mix{}, fmt.Errorf("mix: unknown op %q; known: %s", op, strings.Join(Ops, ", "))
		}
		if seen[op] {
			return Mix{}, fmt.Errorf("mix: %q given twice", op)
		}
		seen[op] = true
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return Mix{}, fmt.Errorf("mix: %s=%q: want a non-negative integer", op, w)
		}
		if n == 0 {
			continue
		}
		total += n
		m.ops = append(m.ops, op)
		m.cum = append(m.cum, total)
	}
	if total == 0 {
		return Mix{}, errors.New("mix: no op with a positive weight")
	}
	return m, nil
}

// Pick returns the op that x, uniform in [0, Total()), falls on.
func (m Mix) Pick(x int) string {
	i := sort.SearchInts(m.cum, x+1)
	return m.ops[i]
}

// Total is the sum of the weights.
func (m Mix) Total() int { return m.cum[len(m.cum)-1] }

// Weights returns each op's weight.
func (m Mix) Weights() map[string]int {
	out := map[string]int{}
	prev := 0
	for i, op := range m.ops {
		out[op] = m.cum[i] - prev
		prev = m.cum[i]
	}
	return out
}

// LoggedInShare is the share of the pool's sessions that are logged in
// once the mix has run long enough: each session is logged in by a login
// and out by a logout, so the share settles at login/(login+logout) (0
// without logins, 1 with logins and no logouts).
func (m Mix) LoggedInShare() float64 {
	w := m.Weights()
	if w["login"] == 0 {
		return 0
	}
	return float64(w["login"]) / float64(w["login"]+w["logout"])
}

// Growth compares the mean of the first fifth of xs with the mean of the
// last fifth (at least one sample each; with a single sample both are
// that sample) and returns both means and the relative growth
// last/first-1 (0 if first is 0 or xs is empty).
func Growth(xs []float64) (first, last, growth float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	k := max(len(xs)/5, 1)
	first, last = mean(xs[:k]), mean(xs[len(xs)-k:])
	if first > 0 {
		growth = last/first - 1
	}
	return first, last, growth
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// client sends the soak's requests and keeps the pool of live cookies.
type client struct {
	base  string
	o     options
	http  *http.Client
	users int

	pool []string      // "session=VALUE" per slot
	busy []atomic.Bool // a slot in use by a request: one request per session at a time

	requests, failures atomic.Int64
	byOp, failsByOp    sync.Map // op -> *atomic.Int64
	mu                 sync.Mutex
	firstFailures      []string // the first distinct causes
}

// maxFailureCauses is how many distinct failures the results quote.
const maxFailureCauses = 5

func newClient(base string, o options) *client {
	return &client{
		base: base,
		o:    o,
		http: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{MaxIdleConns: o.workers + 4, MaxIdleConnsPerHost: o.workers + 4,
				DisableCompression: true},
			// A redirect would hide the status the route answered.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		users: max(o.live/2, 1),
		pool:  make([]string, o.live),
		busy:  make([]atomic.Bool, o.live),
	}
}

// user is the user a slot's session logs in as: two slots per user (a
// user with two devices), far below the per-user cap.
func (c *client) user(slot int) string { return "u" + strconv.Itoa(slot%c.users) }

// preload makes o.live sessions with GET /write and logs in the share of
// them that the mix keeps logged in, so the measured window starts in the
// steady state of the mix rather than drifting towards it.
func (c *client) preload(ctx context.Context) error {
	loggedIn := int(math.Round(c.o.mix.LoggedInShare() * float64(len(c.pool))))
	next := atomic.Int64{}
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range c.o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				slot := int(next.Add(1)) - 1
				if slot >= len(c.pool) {
					return
				}
				err := c.do(slot, "write")
				if err == nil && slot < loggedIn {
					err = c.do(slot, "login")
				}
				if err == nil && c.pool[slot] == "" {
					err = errors.New("GET /write set no session cookie")
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(len(c.pool)))
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// traffic sends the mix from o.workers goroutines until ctx ends, at
// o.rate requests per second in all (as fast as they go if 0).
func (c *client) traffic(ctx context.Context) {
	var issued atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range c.o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for {
				if c.o.rate > 0 {
					n := issued.Add(1)
					due := start.Add(time.Duration(float64(n) / c.o.rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						t := time.NewTimer(d)
						select {
						case <-ctx.Done():
							t.Stop()
							return
						case <-t.C:
						}
					}
				}
				if ctx.Err() != nil {
					return
				}
				slot := c.claim(rng)
				op := c.o.mix.Pick(rng.IntN(c.o.mix.Total()))
				err := c.do(slot, op)
				c.busy[slot].Store(false)
				c.count(op, err)
			}
		}()
	}
	wg.Wait()
}

// claim picks a slot uniformly at random among those no other request
// is using, and marks it used.
func (c *client) claim(rng *rand.Rand) int {
	for {
		slot := rng.IntN(len(c.pool))
		if c.busy[slot].CompareAndSwap(false, true) {
			return slot
		}
	}
}

func (c *client) count(op string, err error) {
	c.requests.Add(1)
	counter(&c.byOp, op).Add(1)
	if err == nil {
		return
	}
	c.failures.Add(1)
	counter(&c.failsByOp, op).Add(1)
	cause := op + ": " + err.Error()
	c.mu.Lock()
	if len(c.firstFailures) < maxFailureCauses && !contains(c.firstFailures, cause) {
		c.firstFailures = append(c.firstFailures, cause)
	}
	c.mu.Unlock()
}

func counter(m *sync.Map, key string) *atomic.Int64 {
	v, _ := m.LoadOrStore(key, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// do sends one request of op with the slot's cookie and keeps the cookie
// the response sets. A transport error, a status other than 2xx and a
// login or logout that sets no new session cookie are errors.
func (c *client) do(slot int, op string) error {
	url := c.base + "/" + op
	if op == "login" {
		url += "?user=" + c.user(slot)
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if c.pool[slot] != "" {
		req.Header.Set("Cookie", c.pool[slot])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET /%s: %s: %s", op, resp.Status, strings.TrimSpace(string(body)))
	}
	set := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == app.CookieName && ck.Value != "" && ck.MaxAge >= 0 {
			set = ck.Name + "=" + ck.Value
		}
	}
	if set != "" {
		c.pool[slot] = set
	} else if op == "login" || op == "logout" {
		return fmt.Errorf("GET /%s: %s but no new session cookie", op, resp.Status)
	}
	return nil
}

// fill copies the client's counts into r.
func (c *client) fill(r *Result, elapsed time.Duration) {
	r.DurationSeconds = elapsed.Seconds()
	r.Requests, r.Failures = c.requests.Load(), c.failures.Load()
	r.RPS = float64(r.Requests) / elapsed.Seconds()
	c.byOp.Range(func(k, v any) bool { r.ByOp[k.(string)] = v.(*atomic.Int64).Load(); return true })
	c.failsByOp.Range(func(k, v any) bool { r.FailuresByOp[k.(string)] = v.(*atomic.Int64).Load(); return true })
	c.mu.Lock()
	r.FirstFailures = append([]string(nil), c.firstFailures...)
	c.mu.Unlock()
}
