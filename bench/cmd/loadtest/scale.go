package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/ginkit/sessions/bench/internal/app"
	"github.com/ginkit/sessions/bench/internal/backend"
	"github.com/ginkit/sessions/bench/internal/charts"
	"github.com/ginkit/sessions/bench/internal/proc"
)

// The scale mode (-mode scale): each of this project's seven backends
// holding -live sessions (10 k, 100 k and 1 M by default), preloaded in
// the server process through the library's own write path (app.Scale),
// then /read and /write measured with a cookie drawn uniformly from all
// of them, paired with bare Gin as every mode is. Besides the routes, per
// backend and live count: the store's bytes per session, one expiry sweep
// with a tenth as many sessions expired (its wall and CPU time, and the
// /read p99 while it runs against the p99 just before), and UserSessions,
// a devices page and RevokeUser of a user holding -user-sessions sessions.

// ScaleServers are the scale mode's servers: this project's seven
// backends.
func ScaleServers() []string {
	return []string{"ginkit/memory", "ginkit/file", "ginkit/redis", "ginkit/memcached", "ginkit/postgres", "ginkit/mysql", "ginkit/sqlite"}
}

// resolveLive fills in o.live (only the scale mode uses it) and checks
// that the scale mode measures only ginkit servers.
func (o *options) resolveLive(live string) error {
	if o.mode != "scale" {
		if live != "" {
			return errors.New("-live is for -mode scale")
		}
		return nil
	}
	var err error
	if o.live, err = intList(live, "10000,100000,1000000"); err != nil {
		return fmt.Errorf("-live: %w", err)
	}
	slices.Sort(o.live)
	if o.userSessions < 1 || o.userSessions > 1000 {
		return errors.New("-user-sessions: want 1 to 1000 (sessions.MaxSessionsPerUserLimit)")
	}
	for _, s := range o.servers {
		if spec, _ := app.ParseName(s); s != "bare" && spec.Lib != "ginkit" {
			return fmt.Errorf("-mode scale measures this project's servers only, not %s", s)
		}
	}
	return nil
}

// memcachedMB is memcached's -m: 1 GiB, or in the scale mode room for the
// largest live count, the expired tenth and the user's sessions at 2 KB
// each (a 250-byte session takes under 1 KB of memcached's slabs).
func memcachedMB(o options) int {
	mb := 1024
	if o.mode == "scale" && len(o.live) > 0 {
		mb = max(mb, (o.live[len(o.live)-1]*11/10+o.userSessions)*2048>>20)
	}
	return mb
}

// ScaleResult is what the scale mode measured of one server at one live
// count, besides the routes (in Result, with Live set).
type ScaleResult struct {
	Run    int    `json:"run"`
	Server string `json:"server"`
	Live   int    `json:"live"`
	// PreloadSeconds is how long the server took to make the Live
	// sessions.
	PreloadSeconds float64 `json:"preload_seconds"`
	// BytesPerSession is the store's size per live session: see
	// StoreMeasure for what each backend counts.
	BytesPerSession float64 `json:"bytes_per_session"`
	StoreMeasure    string  `json:"store_measure"`
	// Sweep is one expiry sweep of Live/10 expired sessions with no load;
	// SweepBackendCPUms the CPU the database server spent over it.
	Sweep             app.SweepResult `json:"sweep"`
	SweepBackendCPUms float64         `json:"sweep_backend_cpu_ms,omitempty"`
	// SweepLoaded is a second sweep, of as many, while wrk runs /read;
	// P99QuietUs is /read's p99 just before it, P99SweepUs while it ran
	// (wrk slices of a second from the first expiry until it ended),
	// MaxSweepUs the slowest request then.
	SweepLoaded app.SweepResult `json:"sweep_loaded"`
	P99QuietUs  int64           `json:"p99_quiet_us,omitempty"`
	P99SweepUs  int64           `json:"p99_sweep_us,omitempty"`
	MaxSweepUs  int64           `json:"max_sweep_us,omitempty"`
	// User is UserSessions, the devices page and RevokeUser of one user
	// holding -user-sessions sessions.
	User app.UserOps `json:"user"`
}

// measureScaleAll runs the scale mode: for each run, live count and
// server, measureScale.
func (e *env) measureScaleAll(bare *server) error {
	for run := 1; run <= e.o.runs; run++ {
		for _, live := range e.o.live {
			for _, name := range e.o.servers {
				if name == "bare" {
					continue
				}
				if err := e.measureScale(run, bare, name, live); err != nil {
					return fmt.Errorf("%s at %d live sessions: %w", name, live, err)
				}
			}
		}
	}
	return nil
}

// measureScale starts a server whose store holds live sessions and
// measures it (see ScaleResult).
func (e *env) measureScale(run int, bare *server, name string, live int) error {
	expire := max(1, live/10)
	// The memory driver splits max_entries over its shards: twice what
	// the store holds at most keeps every shard below its share (the
	// server refuses to go on after an eviction, see storeBytes).
	e.capacity = 2*(live+2*expire+e.o.userSessions) + 1000
	s, err := e.start(name, 0, run)
	if err != nil {
		return err
	}
	defer e.stop(s)
	sr := ScaleResult{Run: run, Server: name, Live: live}
	before, how, err := e.storeBytes(s)
	if err != nil {
		return fmt.Errorf("store size: %w", err)
	}
	sr.StoreMeasure = how
	s.poolFile = filepath.Join(e.tmp, fmt.Sprintf("pool-scale-%d.txt", os.Getpid()))
	defer os.Remove(s.poolFile)
	log.Printf("%s: preloading %d sessions", name, live)
	pr, err := e.preload(s, live, 0, s.poolFile)
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	sr.PreloadSeconds = pr.Seconds
	after, _, err := e.storeBytes(s)
	if err != nil {
		return fmt.Errorf("store size: %w", err)
	}
	if s.spec.Store == "memcached" {
		sr.BytesPerSession = after // already per item
	} else {
		sr.BytesPerSession = (after - before) / float64(live)
	}
	log.Printf("%s: %d sessions in %.1fs, %.0f bytes/session (%s)", name, live, pr.Seconds, sr.BytesPerSession, how)

	rs, err := e.measureRoutes(run, bare, s, 0, e.o.conns[0])
	if err != nil {
		return err
	}
	for i := range rs {
		rs[i].Live = live
	}
	e.results = append(e.results, rs...)

	if s.spec.Store != "redis" && s.spec.Store != "memcached" {
		// Sessions that expire a while after the preload ends: long enough
		// for the quiet p99 to be measured before the first one expires.
		ttl := time.Duration(float64(time.Second)*pr.Seconds*float64(expire)/float64(live)*1.5) + 5*time.Second
		if sr.Sweep, sr.SweepBackendCPUms, err = e.scaleSweep(s, expire, ttl, nil); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		var load sweepLoad
		if sr.SweepLoaded, _, err = e.scaleSweep(s, expire, ttl, &load); err != nil {
			return fmt.Errorf("sweep under load: %w", err)
		}
		sr.P99QuietUs, sr.P99SweepUs, sr.MaxSweepUs = load.quiet, load.during, load.max
		log.Printf("%s: sweep of %d: %.0f ms, %.0f ms CPU (loaded: %.0f ms); /read p99 %.2f ms quiet, %.2f ms during",
			name, expire, sr.Sweep.WallMs, sr.Sweep.CPUms, sr.SweepLoaded.WallMs, float64(load.quiet)/1000, float64(load.during)/1000)
	} else {
		sr.Sweep.How, sr.SweepLoaded.How = app.NativeExpiry, app.NativeExpiry
	}

	q := url.Values{"n": {strconv.Itoa(e.o.userSessions)}, "reps": {"3"}}
	if err := adminCall(s, http.MethodGet, "/userops", q, &sr.User); err != nil {
		return fmt.Errorf("user operations: %w", err)
	}
	log.Printf("%s: user of %d sessions: UserSessions %.1f ms, devices page %.1f ms, RevokeUser %.1f ms",
		name, e.o.userSessions, sr.User.UserSessionsMs, sr.User.DevicesMs, sr.User.RevokeUserMs)
	e.scale = append(e.scale, sr)
	return nil
}

// sweepLoad is the /read latency around a sweep under load, in µs.
type sweepLoad struct{ quiet, during, max int64 }

// scaleSweep preloads expire sessions that live ttl, then has the server
// sweep them once they expired, and returns the sweep and the database
// server's CPU time over it. With load, it first measures /read's p99
// for two seconds, then runs /read in one-second wrk slices from the
// first expiry until the sweep ends, and fills in load.
func (e *env) scaleSweep(s *server, expire int, ttl time.Duration, load *sweepLoad) (app.SweepResult, float64, error) {
	var res app.SweepResult
	t0 := time.Now()
	if _, err := e.preload(s, expire, ttl, ""); err != nil {
		return res, 0, err
	}
	firstExpiry := t0.Add(ttl)
	at := time.Now().Add(ttl + 500*time.Millisecond) // all expired
	if load != nil {
		sum, err := e.wrk(s.base+"/read", s.poolFile, e.o.conns[0], 2*time.Second)
		if err != nil {
			return res, 0, err
		}
		load.quiet = sum.Latency.P99
		if time.Now().After(firstExpiry) {
			log.Printf("%s: the quiet /read p99 ran into the first expiry", s.name)
		}
	}
	db := e.sqlServer(s.spec)
	var cpu0 time.Duration
	if db != nil {
		cpu0 = backend.TreeCPU(db.Pid())
	}
	done := make(chan error, 1)
	go func() {
		q := url.Values{"expect": {strconv.Itoa(expire)}, "at": {strconv.FormatInt(at.UnixNano(), 10)}}
		done <- adminCall(s, http.MethodPost, "/sweep", q, &res)
	}()
	var err error
	if load == nil {
		err = <-done
	} else {
		time.Sleep(time.Until(at))
		var t tally
		for running := true; running; {
			sum, werr := e.wrk(s.base+"/read", s.poolFile, e.o.conns[0], time.Second)
			if werr != nil {
				<-done
				return res, 0, werr
			}
			t.add(sum)
			select {
			case err = <-done:
				running = false
			default:
			}
		}
		if t.requests > 0 {
			load.during, load.max = int64(t.p99/float64(t.requests)), t.max
		}
	}
	var backendMs float64
	if db != nil {
		backendMs = (backend.TreeCPU(db.Pid()) - cpu0).Seconds() * 1000
	}
	return res, backendMs, err
}

// preload has the server make n sessions (living ttl if > 0) and write
// their cookies to out ("" for nowhere).
func (e *env) preload(s *server, n int, ttl time.Duration, out string) (app.PreloadResult, error) {
	var pr app.PreloadResult
	q := url.Values{"n": {strconv.Itoa(n)}, "out": {out}, "workers": {strconv.Itoa(preloadWorkers(s.spec))}}
	if ttl > 0 {
		q.Set("ttl", ttl.String())
	}
	err := adminCall(s, http.MethodPost, "/preload", q, &pr)
	return pr, err
}

// preloadWorkers is how many sessions the server makes at once: the
// cores for in-process stores, the connection pool's worth for the
// others.
func preloadWorkers(spec app.Spec) int {
	switch spec.Store {
	case "memory":
		return 4
	case "sqlite":
		return 8
	}
	return 32
}

// adminCall sends a request to the server's admin listener and decodes
// its JSON answer into v.
func adminCall(s *server, method, path string, q url.Values, v any) error {
	req, err := http.NewRequest(method, s.admin+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, v)
}

// storeBytes is the size of the server's store and what it counts: the
// server's resident memory (memory), the session folder's allocated
// blocks (file, SQLite), Redis' used_memory, memcached's bytes per item
// (already per session), or the session tables with their indexes and
// TOAST (PostgreSQL) or their data and index length (MariaDB).
func (e *env) storeBytes(s *server) (float64, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch s.spec.Store {
	case "memory":
		var v map[string]int64
		err := adminCall(s, http.MethodGet, "/rss", nil, &v)
		if err == nil && v["evictions"] > 0 {
			err = fmt.Errorf("the memory driver evicted %d sessions: max_entries too small", v["evictions"])
		}
		return float64(v["rss"]), "server RSS after preload minus before", err
	case "file", "sqlite":
		n, err := dirBytes(s.dir)
		what := "session folder's allocated blocks"
		if s.spec.Store == "sqlite" {
			what = "database, WAL and shared-memory files' allocated blocks"
		}
		return float64(n), what, err
	case "redis":
		info, err := backend.RedisCommand(e.redis.Addr, "INFO", "memory")
		if err != nil {
			return 0, "", err
		}
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				n, err := strconv.ParseFloat(v, 64)
				return n, "INFO memory used_memory delta", err
			}
		}
		return 0, "", errors.New("no used_memory in INFO memory")
	case "memcached":
		st, err := backend.MemcachedStats(e.mc.Addr)
		if err != nil {
			return 0, "", err
		}
		items := st.Counters["curr_items"]
		if items == 0 {
			return 0, "stats bytes / curr_items", nil
		}
		return float64(st.Counters["bytes"]) / float64(items), "stats bytes / curr_items", nil
	case "postgres":
		conn, err := pgx.Connect(ctx, backend.PostgresDSN(e.pg.Addr, s.db))
		if err != nil {
			return 0, "", err
		}
		defer conn.Close(ctx)
		var n int64
		err = conn.QueryRow(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
			JOIN pg_namespace ns ON ns.oid = c.relnamespace
			WHERE c.relkind = 'r' AND ns.nspname = current_schema() AND c.relname IN ('ginkit_sessions', 'ginkit_sessions_users')`).Scan(&n)
		return float64(n), "pg_total_relation_size of the session and user tables", err
	case "mysql":
		cfg := mysql.NewConfig()
		cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "tcp", e.maria.Addr, s.db
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return 0, "", err
		}
		db := sql.OpenDB(c)
		defer db.Close()
		// InnoDB's figures are estimates refreshed by ANALYZE.
		for _, t := range []string{"ginkit_sessions", "ginkit_sessions_users"} {
			rows, err := db.QueryContext(ctx, "ANALYZE TABLE `"+t+"`")
			if err != nil {
				return 0, "", err
			}
			rows.Close()
		}
		var n sql.NullInt64
		err = db.QueryRowContext(ctx, `SELECT SUM(data_length + index_length) FROM information_schema.tables
			WHERE table_schema = DATABASE() AND table_name IN ('ginkit_sessions', 'ginkit_sessions_users')`).Scan(&n)
		return float64(n.Int64), "information_schema data_length + index_length of the session and user tables", err
	}
	return 0, "", fmt.Errorf("no store size for %s", s.name)
}

// dirBytes is the space the files under dir take on disk: their
// allocated blocks, as du counts them.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	return n, err
}

// Targets of the scale mode (issue #23).
const (
	// TargetRatioKept is the share of its smallest-N ratio to bare Gin a
	// backend must keep at the largest N, on both routes.
	TargetRatioKept = 0.9
	// TargetSweepP99 bounds /read's p99 during a sweep, as a multiple of
	// the p99 just before.
	TargetSweepP99 = 2.0
	// TargetBytesPerSession bounds the store's bytes per 250-byte session.
	TargetBytesPerSession = 2048
)

// scaleKey names one server at one live count.
type scaleKey struct {
	server string
	live   int
}

// scaleMedians is the median over the runs of each ScaleResult figure.
type scaleMedians struct {
	n                                       int
	preload, bytes                          float64
	how, swHow                              string
	swRemoved, swWall, swCPU, swBackend     float64
	loadedWall, p99Quiet, p99During, maxDur float64
	users, devices, revoke                  float64
	listed, revoked                         int
}

func medianScale(rs []ScaleResult) map[scaleKey]*scaleMedians {
	groups := map[scaleKey][]ScaleResult{}
	for _, r := range rs {
		k := scaleKey{r.Server, r.Live}
		groups[k] = append(groups[k], r)
	}
	out := map[scaleKey]*scaleMedians{}
	for k, g := range groups {
		pick := func(f func(ScaleResult) float64) float64 {
			var xs []float64
			for _, r := range g {
				xs = append(xs, f(r))
			}
			return proc.Median(xs)
		}
		last := g[len(g)-1]
		out[k] = &scaleMedians{
			n:          len(g),
			preload:    pick(func(r ScaleResult) float64 { return r.PreloadSeconds }),
			bytes:      pick(func(r ScaleResult) float64 { return r.BytesPerSession }),
			how:        last.StoreMeasure,
			swHow:      last.Sweep.How,
			swRemoved:  pick(func(r ScaleResult) float64 { return float64(r.Sweep.Removed) }),
			swWall:     pick(func(r ScaleResult) float64 { return r.Sweep.WallMs }),
			swCPU:      pick(func(r ScaleResult) float64 { return r.Sweep.CPUms }),
			swBackend:  pick(func(r ScaleResult) float64 { return r.SweepBackendCPUms }),
			loadedWall: pick(func(r ScaleResult) float64 { return r.SweepLoaded.WallMs }),
			p99Quiet:   pick(func(r ScaleResult) float64 { return float64(r.P99QuietUs) }),
			p99During:  pick(func(r ScaleResult) float64 { return float64(r.P99SweepUs) }),
			maxDur:     pick(func(r ScaleResult) float64 { return float64(r.MaxSweepUs) }),
			users:      pick(func(r ScaleResult) float64 { return r.User.UserSessionsMs }),
			devices:    pick(func(r ScaleResult) float64 { return r.User.DevicesMs }),
			revoke:     pick(func(r ScaleResult) float64 { return r.User.RevokeUserMs }),
			listed:     last.User.Listed,
			revoked:    last.User.Revoked,
		}
	}
	return out
}

// mark is ✔ or ✘ for a target met or missed.
func mark(ok bool) string {
	if ok {
		return "✔"
	}
	return "✘"
}

func (e *env) scaleMarkdown() string {
	aggs, _ := aggregateResults(e.results)
	sm := medianScale(e.scale)
	var servers []string
	for _, n := range e.o.servers {
		if n != "bare" {
			servers = append(servers, n)
		}
	}
	live := e.o.live
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s UTC on %s; wrk %d threads, %d connections, per server, live count and route %s of warm-up then %s in %d slices alternating with as many of bare Gin; %d run(s): medians.\n\n",
		e.started.UTC().Format("2006-01-02 15:04"), e.hostInfo, e.o.threads, e.o.conns[0], e.o.warmup, e.o.duration, e.o.slices, e.o.runs)
	if e.sqlNotes != "" {
		b.WriteString(e.sqlNotes + "\n\n")
	}
	fmt.Fprintf(&b, "Each server's store is preloaded with the live sessions by the server itself, through its own `GET /write` run in process (so every record is what `/write` makes), and wrk draws every request's cookie uniformly from all of them. The memory driver's `max_entries` is raised to hold them, memcached runs with `-m %d`, Redis without maxmemory, the file driver's folder is under %s. Ratio: requests per second over bare Gin's, measured in alternating slices; kept: the ratio over the same backend's at %s (target ≥ %.1f at the largest count). CPU: the server process' CPU time per request.\n\n",
		memcachedMB(e.o), fileDirLabel(e.o), charts.CountLabel(live[0]), TargetRatioKept)

	b.WriteString("| backend | live | /read ratio | kept | /read p99 ms | /read CPU µs | /write ratio | kept | /write p99 ms | /write CPU µs | bytes/session | preload s |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, srv := range servers {
		for _, n := range live {
			m := sm[scaleKey{srv, n}]
			if m == nil {
				continue
			}
			row := fmt.Sprintf("| %s | %s |", srv, charts.CountLabel(n))
			for _, route := range []string{"read", "write"} {
				a := aggs[keyOf{srv, route, 0, e.o.conns[0], n}]
				base := aggs[keyOf{srv, route, 0, e.o.conns[0], live[0]}]
				if a == nil || base == nil || base.ratio == 0 {
					row += " – | – | – | – |"
					continue
				}
				kept := a.ratio / base.ratio
				keptS := fmt.Sprintf("%.2f", kept)
				if n == live[len(live)-1] && n != live[0] {
					keptS += " " + mark(kept >= TargetRatioKept)
				}
				row += fmt.Sprintf(" %.2f | %s | %.2f | %.1f |", a.ratio, keptS, a.p99/1000, a.cpu)
			}
			row += fmt.Sprintf(" %.0f %s | %.1f |\n", m.bytes, mark(m.bytes <= TargetBytesPerSession), m.preload)
			b.WriteString(row)
		}
	}
	b.WriteString("\nBytes/session: ")
	seen := map[string]bool{}
	var hows []string
	for _, srv := range servers {
		for _, n := range live {
			if m := sm[scaleKey{srv, n}]; m != nil && !seen[srv] {
				seen[srv] = true
				hows = append(hows, strings.TrimPrefix(srv, "ginkit/")+": "+m.how)
			}
		}
	}
	b.WriteString(strings.Join(hows, "; ") + fmt.Sprintf(" (target ≤ %d bytes).\n\n", TargetBytesPerSession))

	fmt.Fprintf(&b, "#### Expiry sweep with a tenth as many sessions expired\n\nA tenth of the live count more sessions, with a lifetime of seconds, are preloaded and left to expire, then swept once with no load (wall and CPU time: the server process', and the database server's for PostgreSQL and MariaDB), then again as many with wrk running /read (p99 just before the sweep, and over one-second slices from the first expiry until the sweep ended; target ≤ %.0f×). The memory, file and SQL drivers' background sweep is off and their `Sweep` is called once. Redis and memcached expire records themselves.\n\n", TargetSweepP99)
	b.WriteString("| backend | live | swept | how | wall ms | server CPU ms | database CPU ms | wall under load ms | /read p99 before ms | during ms | max during ms |\n")
	b.WriteString("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, srv := range servers {
		for _, n := range live {
			m := sm[scaleKey{srv, n}]
			if m == nil {
				continue
			}
			if m.swHow == app.NativeExpiry || m.swHow == "" {
				fmt.Fprintf(&b, "| %s | %s | – | %s | – | – | – | – | – | – | – |\n", srv, charts.CountLabel(n), app.NativeExpiry)
				continue
			}
			dbCPU := "–"
			if s, _ := app.ParseName(srv); s.Store == "postgres" || s.Store == "mysql" {
				dbCPU = fmt.Sprintf("%.0f", m.swBackend)
			}
			during := fmt.Sprintf("%.2f", m.p99During/1000)
			if m.p99Quiet > 0 {
				during += " " + mark(m.p99During <= TargetSweepP99*m.p99Quiet)
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %.0f | %.0f | %s | %.0f | %.2f | %s | %.1f |\n",
				srv, charts.CountLabel(n), m.swRemoved, m.swHow, m.swWall, m.swCPU, dbCPU, m.loadedWall, m.p99Quiet/1000, during, m.maxDur/1000)
		}
	}
	fmt.Fprintf(&b, "\n#### One user with %d sessions\n\nThe sessions are made with `/write` and bound with `SetUser`; then `Manager.UserSessions`, a devices page (`GET /devices` through the middleware, listing the user's sessions as HTML) and `Manager.RevokeUser` are timed, three times each (the sessions made again each time): medians, in process.\n\n", e.o.userSessions)
	b.WriteString("| backend | live | UserSessions ms | devices page ms | RevokeUser ms | listed | revoked |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, srv := range servers {
		for _, n := range live {
			if m := sm[scaleKey{srv, n}]; m != nil {
				fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f | %.1f | %d | %d |\n", srv, charts.CountLabel(n), m.users, m.devices, m.revoke, m.listed, m.revoked)
			}
		}
	}
	return b.String()
}

func fileDirLabel(o options) string {
	if o.fileDir != "" {
		return "`" + o.fileDir + "`"
	}
	return "the OS temp folder (" + os.TempDir() + ")"
}
