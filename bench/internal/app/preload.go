package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ginkit/sessions/bench/internal/proc"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/memory"
)

// The scale mode's admin side of a ginkit server. The harness cannot make
// a million sessions through HTTP in reasonable time, so the server
// itself makes them, in process, by running its own measured engine's
// GET /write through httptest recorders in parallel: every record is
// exactly what /write makes over the network, written through the
// library's own path. The admin handler (Scale.Handler) serves that and
// the other operations of the scale mode on a listener of its own, so the
// measured engine carries no extra route:
//
//	POST /preload?n=N&out=FILE[&ttl=D][&user=U][&workers=W]
//	     make N sessions with GET /write (with a Manager whose Lifetime is
//	     D when ttl is given; bound to user U with SetUser when user is
//	     given) and write their cookies, one "session=VALUE" a line, to
//	     FILE ("" or /dev/null: nowhere)
//	GET  /rss        the process' resident memory after a garbage collection
//	                 (and, for the memory driver, its evictions)
//	POST /sweep?expect=K&at=T
//	     one expiry sweep after the Unix time T (nanoseconds), timed
//	GET  /userops?n=1000&reps=R
//	     UserSessions, a devices page and RevokeUser of a user holding n
//	     sessions, each R times; the medians
//
// Every answer is JSON; an error is a 500 with the error's text.

// ScaleUser is the user the scale mode binds its user sessions to.
const ScaleUser = "scale-user"

// Scale is the scale mode's side of one ginkit server: it sizes the
// store to hold the sessions asked for, keeps the driver (to sweep it and
// read its counters) and the Manager, and serves the admin handler. Make
// it with NewScale before Build, then call Handler with the engine Build
// returned.
type Scale struct {
	spec     Spec
	capacity int
	drv      sessions.Driver
	m        *sessions.Manager
	h        http.Handler // the measured engine
	users    http.Handler // m's middleware with /bind and /devices

	mu    sync.Mutex
	short map[time.Duration]http.Handler // engines whose sessions live a ttl
	stops []func()
}

// NewScale prepares spec (through its Configure and OnManager hooks) for
// the scale mode: the store holds at least capacity sessions (the memory
// driver's max_entries), the driver's own background sweep is off (the
// harness sweeps when it measures a sweep), and a user may hold sessions.MaxSessionsPerUserLimit sessions. It
// refuses a server that is not this project's.
func NewScale(spec *Spec, capacity int) (*Scale, error) {
	if spec.Lib != "ginkit" {
		return nil, fmt.Errorf("scale mode: %s is not a ginkit server", spec.Name())
	}
	sc := &Scale{spec: *spec, capacity: capacity, short: map[time.Duration]http.Handler{}}
	next := spec.OnManager
	spec.Configure = sc.configure
	spec.OnManager = func(m *sessions.Manager) {
		sc.m = m
		if next != nil {
			next(m)
		}
	}
	return sc, nil
}

// ScaleDSN is the DSN of spec's store in the scale mode: GinkitDSN with
// the memory driver's max_entries raised to capacity, and the background
// sweep of the memory, file and SQL drivers turned off (the harness
// sweeps, once, when it measures a sweep).
func ScaleDSN(spec Spec, capacity int) (string, error) {
	dsn, err := GinkitDSN(spec)
	if err != nil {
		return "", err
	}
	switch spec.Store {
	case "memory":
		return withOptions(dsn, "max_entries", strconv.Itoa(max(1, capacity)), "sweep_interval", "-1s")
	case "file", "postgres", "mysql", "sqlite":
		return withOptions(dsn, "sweep_interval", "-1s")
	}
	return dsn, nil
}

func (sc *Scale) configure(cfg *sessions.Config) error {
	dsn, err := ScaleDSN(sc.spec, sc.capacity)
	if err != nil {
		return err
	}
	if sc.drv == nil {
		if sc.drv, err = sessions.Open(dsn); err != nil {
			return err
		}
	}
	cfg.DSN, cfg.Driver = dsn, sc.drv
	cfg.MaxSessionsPerUser = sessions.MaxSessionsPerUserLimit
	return nil
}

// Handler returns the admin handler over h, the engine Build returned.
func (sc *Scale) Handler(h http.Handler) (http.Handler, error) {
	if sc.m == nil || sc.drv == nil {
		return nil, errors.New("scale mode: Build did not make this project's Manager")
	}
	sc.h = h
	r := gin.New()
	r.Use(sc.m.Handler())
	r.GET("/bind", func(c *gin.Context) {
		if err := sessions.SetUser(c, c.Query("user")); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, "ok")
	})
	r.GET("/devices", Devices)
	sc.users = r

	mux := http.NewServeMux()
	mux.HandleFunc("POST /preload", sc.servePreload)
	mux.HandleFunc("GET /rss", func(w http.ResponseWriter, _ *http.Request) {
		rss, err := RSS()
		out := map[string]int64{"rss": rss}
		if d, ok := sc.drv.(*memory.Driver); ok {
			// A store that evicted lost sessions: the harness refuses it.
			out["evictions"] = int64(d.Stats().Evictions)
		}
		reply(w, out, err)
	})
	mux.HandleFunc("POST /sweep", sc.serveSweep)
	mux.HandleFunc("GET /userops", sc.serveUserOps)
	return mux, nil
}

// Close closes the Managers of the short-lived sessions and the driver.
func (sc *Scale) Close() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, stop := range sc.stops {
		stop()
	}
	if sc.drv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sc.drv.Close(ctx)
	}
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Devices is a "your devices" page: the sessions of the request's user,
// most recently used first, the current one marked, as HTML.
func Devices(c *gin.Context) {
	user := sessions.User(c)
	m := sessions.ManagerOf(c)
	if user == "" || m == nil {
		c.String(http.StatusForbidden, "not logged in")
		return
	}
	list, err := m.UserSessions(c.Request.Context(), user)
	if err != nil {
		c.String(http.StatusInternalServerError, err.Error())
		return
	}
	cur := sessions.IDHash(c)
	var b strings.Builder
	b.WriteString("<table><tr><th>device</th><th>IP</th><th>signed in</th><th>last seen</th><th></th></tr>\n")
	for _, s := range list {
		mark := ""
		if s.IDHash == cur {
			mark = "this device"
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			html.EscapeString(s.UserAgent), html.EscapeString(s.IP),
			s.Created.UTC().Format(time.RFC3339), s.LastSeen.UTC().Format(time.RFC3339), mark)
	}
	b.WriteString("</table>\n")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(b.String()))
}

// shortEngine returns an engine like the measured one whose Manager, on
// the same driver, gives sessions a lifetime of ttl.
func (sc *Scale) shortEngine(ttl time.Duration) (http.Handler, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if h, ok := sc.short[ttl]; ok {
		return h, nil
	}
	spec := sc.spec
	spec.OnManager = nil
	spec.Configure = func(cfg *sessions.Config) error {
		if err := sc.configure(cfg); err != nil {
			return err
		}
		cfg.Lifetime = ttl
		return nil
	}
	h, stop, err := ginkit(spec, NewValues(spec.Size))
	if err != nil {
		return nil, err
	}
	sc.short[ttl] = h
	sc.stops = append(sc.stops, stop)
	return h, nil
}

// Preload makes n sessions with GET /write of the measured engine (or,
// for ttl > 0, of an engine whose sessions live ttl), bound to user when
// user is not "", with workers requests at a time, and writes each
// session's cookie as a "session=VALUE" line to w (nil: nowhere). It
// returns the first cookie.
func (sc *Scale) Preload(ctx context.Context, n int, ttl time.Duration, user string, workers int, w io.Writer) (string, error) {
	eng := sc.h
	if ttl > 0 {
		var err error
		if eng, err = sc.shortEngine(ttl); err != nil {
			return "", err
		}
	}
	workers = max(1, min(workers, n))
	var (
		next  atomic.Int64
		mu    sync.Mutex
		first string
		errs  = make([]error, workers)
		wg    sync.WaitGroup
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					return
				}
				cookie, err := call(eng, "/write", "")
				if err == nil && user != "" {
					_, err = call(sc.users, "/bind?user="+url.QueryEscape(user), cookie)
				}
				if err != nil {
					errs[i] = err
					return
				}
				mu.Lock()
				if first == "" {
					first = cookie
				}
				if w != nil {
					_, err = io.WriteString(w, cookie+"\n")
				}
				mu.Unlock()
				if err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return first, errors.Join(errs...)
}

// call runs GET path on h in process, with cookie ("name=value") if not
// "", and returns the session cookie the response sets (or cookie, if it
// sets none).
func call(h http.Handler, path, cookie string) (string, error) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("User-Agent", "ginkit-bench-scale/1")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %d: %s", path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == CookieName && c.Value != "" && c.MaxAge >= 0 {
			return c.Name + "=" + c.Value, nil
		}
	}
	if cookie == "" {
		return "", fmt.Errorf("GET %s set no %q cookie", path, CookieName)
	}
	return cookie, nil
}

// PreloadResult is the answer of POST /preload.
type PreloadResult struct {
	N       int     `json:"n"`
	Seconds float64 `json:"seconds"`
}

func (sc *Scale) servePreload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n < 1 {
		http.Error(w, "n: want a positive integer", http.StatusBadRequest)
		return
	}
	workers := 32
	if v := q.Get("workers"); v != "" {
		if workers, err = strconv.Atoi(v); err != nil || workers < 1 {
			http.Error(w, "workers: want a positive integer", http.StatusBadRequest)
			return
		}
	}
	var ttl time.Duration
	if v := q.Get("ttl"); v != "" {
		if ttl, err = time.ParseDuration(v); err != nil || ttl <= 0 {
			http.Error(w, "ttl: want a positive duration", http.StatusBadRequest)
			return
		}
	}
	var out io.Writer
	var bw *bufio.Writer
	if path := q.Get("out"); path != "" && path != os.DevNull {
		f, err := os.Create(path)
		if err != nil {
			reply(w, nil, err)
			return
		}
		defer f.Close()
		bw = bufio.NewWriterSize(f, 1<<16)
		out = bw
	}
	start := time.Now()
	_, err = sc.Preload(r.Context(), n, ttl, q.Get("user"), workers, out)
	if err == nil && bw != nil {
		err = bw.Flush()
	}
	reply(w, PreloadResult{N: n, Seconds: time.Since(start).Seconds()}, err)
}

// RSS returns the process' resident memory (VmRSS) in bytes, after a
// garbage collection that returns freed memory to the system, so that it
// counts what is live.
func RSS() (int64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	return proc.VmRSS(os.Getpid())
}

// cpuTime is the process' user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// SweepResult is the answer of POST /sweep: what one expiry sweep
// removed, its wall time and the server process' CPU time over it. How
// says how it was run: "Sweep" (the driver's own method, called once) or,
// for stores that expire records themselves, "native expiry, no sweep" with
// no figures.
type SweepResult struct {
	How     string  `json:"how"`
	Removed int64   `json:"removed"`
	WallMs  float64 `json:"wall_ms"`
	CPUms   float64 `json:"cpu_ms"`
}

// NativeExpiry is SweepResult.How for Redis and memcached.
const NativeExpiry = "native expiry, no sweep"

type intSweeper interface {
	Sweep(ctx context.Context) (int, error)
}

type int64Sweeper interface {
	Sweep(ctx context.Context) (int64, error)
}

// sweep runs one expiry sweep after at and times it: the driver's own
// Sweep (memory, file, SQL), called once.
func (sc *Scale) sweep(ctx context.Context, at time.Time, expect int) (SweepResult, error) {
	wait := func() error {
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	switch d := sc.drv.(type) {
	case intSweeper:
		if err := wait(); err != nil {
			return SweepResult{}, err
		}
		t0, c0 := time.Now(), cpuTime()
		n, err := d.Sweep(ctx)
		return SweepResult{How: "Sweep", Removed: int64(n), WallMs: ms(time.Since(t0)), CPUms: ms(cpuTime() - c0)}, err
	case int64Sweeper:
		if err := wait(); err != nil {
			return SweepResult{}, err
		}
		t0, c0 := time.Now(), cpuTime()
		n, err := d.Sweep(ctx)
		return SweepResult{How: "Sweep", Removed: n, WallMs: ms(time.Since(t0)), CPUms: ms(cpuTime() - c0)}, err
	}
	return SweepResult{How: NativeExpiry}, nil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

func (sc *Scale) serveSweep(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	expect, err := strconv.Atoi(q.Get("expect"))
	if err != nil || expect < 0 {
		http.Error(w, "expect: want an integer ≥ 0", http.StatusBadRequest)
		return
	}
	at := time.Now()
	if v := q.Get("at"); v != "" {
		ns, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			http.Error(w, "at: want Unix nanoseconds", http.StatusBadRequest)
			return
		}
		at = time.Unix(0, ns)
	}
	res, err := sc.sweep(r.Context(), at, expect)
	reply(w, res, err)
}

// UserOps is the answer of GET /userops: for a user holding N sessions,
// the median wall time of UserSessions, of a devices page (GET /devices
// through the middleware, with one of the user's cookies) and of
// RevokeUser, over Reps repetitions (each made its N sessions again:
// RevokeUser ends them), and what they returned.
type UserOps struct {
	N              int     `json:"n"`
	Reps           int     `json:"reps"`
	UserSessionsMs float64 `json:"user_sessions_ms"`
	DevicesMs      float64 `json:"devices_ms"`
	RevokeUserMs   float64 `json:"revoke_user_ms"`
	Listed         int     `json:"listed"`
	Revoked        int     `json:"revoked"`
	PreloadSeconds float64 `json:"preload_seconds"`
}

// UserOps binds n sessions to ScaleUser and times UserSessions, the
// devices page and RevokeUser, reps times.
func (sc *Scale) UserOps(ctx context.Context, n, reps int) (UserOps, error) {
	out := UserOps{N: n, Reps: reps}
	var us, dev, rev, pre []float64
	for range reps {
		t0 := time.Now()
		cookie, err := sc.Preload(ctx, n, 0, ScaleUser, 16, nil)
		if err != nil {
			return out, err
		}
		pre = append(pre, time.Since(t0).Seconds())
		t0 = time.Now()
		list, err := sc.m.UserSessions(ctx, ScaleUser)
		if err != nil {
			return out, err
		}
		us = append(us, ms(time.Since(t0)))
		out.Listed = len(list)
		t0 = time.Now()
		if _, err := call(sc.users, "/devices", cookie); err != nil {
			return out, err
		}
		dev = append(dev, ms(time.Since(t0)))
		t0 = time.Now()
		k, err := sc.m.RevokeUser(ctx, ScaleUser)
		if err != nil {
			return out, err
		}
		rev = append(rev, ms(time.Since(t0)))
		out.Revoked = k
	}
	out.UserSessionsMs, out.DevicesMs, out.RevokeUserMs, out.PreloadSeconds = proc.Median(us), proc.Median(dev), proc.Median(rev), proc.Median(pre)
	return out, nil
}

func (sc *Scale) serveUserOps(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, reps := 1000, 3
	var err error
	if v := q.Get("n"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			http.Error(w, "n: want a positive integer", http.StatusBadRequest)
			return
		}
	}
	if v := q.Get("reps"); v != "" {
		if reps, err = strconv.Atoi(v); err != nil || reps < 1 {
			http.Error(w, "reps: want a positive integer", http.StatusBadRequest)
			return
		}
	}
	res, err := sc.UserOps(r.Context(), n, reps)
	reply(w, res, err)
}
