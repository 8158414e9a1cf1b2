package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/internal/testserver"
)

// The move from one backend to another, on real servers, while requests
// keep flowing: sessions are created on the old backend through an app;
// then an app configured with SESSION_DSN=new and SESSION_DSN_PREVIOUS=old
// serves a stream of concurrent requests (real cookies, reads and writes,
// new visitors) while a bulk move (MovePrevious, what `sessionctl migrate`
// runs, in its own Manager as in its own process) empties the old backend.
// No user may lose a session or a write, no request may see an error, and
// the old backend must be empty when the bulk move ends. The source must
// enumerate its sessions, so the second case moves redis -> memcached
// (memcached cannot be a bulk source).

func TestMoveFileToRedisUnderLoad(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	moveUnderLoad(t, moveFileDSN(t), "redis://"+addr+"/0")
}

// TestMoveFileToPostgresUnderLoad: the same move into a SQL database, and
// TestMovePostgresToRedisUnderLoad out of one (a SQL driver enumerates its
// sessions by keyset pages, so it can be a bulk source).
func TestMoveFileToPostgresUnderLoad(t *testing.T) {
	pg := testserver.SharedPostgres(t)
	moveUnderLoad(t, moveFileDSN(t), pg.DSN(pg.NewDatabase(t), ""))
}

func TestMovePostgresToRedisUnderLoad(t *testing.T) {
	pg := testserver.SharedPostgres(t)
	addr, _ := testserver.StartRedis(t)
	moveUnderLoad(t, pg.DSN(pg.NewDatabase(t), ""), "redis://"+addr+"/0")
}

func TestMoveRedisToMemcachedUnderLoad(t *testing.T) {
	raddr, _ := testserver.StartRedis(t)
	maddr, _ := testserver.StartMemcached(t)
	moveUnderLoad(t, "redis://"+raddr+"/0", memcachedDSN(maddr))
}

const (
	moveSessions = 200
	moveWorkers  = 8
	// The old and the new configuration have different idle lifetimes, so
	// a move that reset a session's lifetime instead of carrying it over
	// would be off by ten minutes. The new TouchInterval keeps read-only
	// requests from extending the moved sessions (an extension happens only
	// once less than 5 minutes are left), so their deadlines can be compared.
	moveOldLifetime = 10 * time.Minute
	moveNewLifetime = 20 * time.Minute
	moveNewTouch    = 15 * time.Minute
)

func moveFileDSN(t *testing.T) string {
	return (&url.URL{Scheme: "file", Path: t.TempDir()}).String()
}

// moveApp is one application instance over real HTTP.
type moveApp struct {
	M    *sessions.Manager
	Srv  *httptest.Server
	Errs *suite.ErrorLog
	Logs *syncBuffer
}

// moveNewApp builds an app over dsn, moving from prev when it is not "".
//
//	PUT /kv/:k?v=V      sets k=V
//	PUT /login/:user    binds the session to user (SetUser)
//	GET /kv/:k          {"found":…, "value":…}
//	GET /all            every value of the session, as a JSON object
func moveNewApp(t *testing.T, dsn, prev string, lifetime, touch time.Duration) *moveApp {
	t.Helper()
	a := &moveApp{Errs: &suite.ErrorLog{}, Logs: &syncBuffer{}}
	cfg := sessions.DefaultConfig()
	cfg.DSN, cfg.PreviousDSN = dsn, prev
	cfg.Lifetime, cfg.TouchInterval = lifetime, touch
	cfg.Logger = slog.New(slog.NewTextHandler(a.Logs, nil))
	cfg.ErrorHandler = func(_ *gin.Context, err error) { a.Errs.Add(err) }
	m, err := sessions.NewManager(cfg)
	if err != nil {
		t.Fatalf("NewManager(%s, previous %s): %v", sessions.RedactDSN(dsn), sessions.RedactDSN(prev), err)
	}
	t.Cleanup(func() { _ = m.Close() })
	a.M = m
	e := gin.New()
	e.Use(m.Handler())
	e.PUT("/kv/:k", func(c *gin.Context) {
		sessions.Set(c, c.Param("k"), c.Query("v"))
		c.JSON(http.StatusOK, gin.H{"saved": true})
	})
	e.PUT("/login/:user", func(c *gin.Context) {
		if err := sessions.SetUser(c, c.Param("user")); err != nil {
			c.String(http.StatusInternalServerError, "%v", err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"saved": true})
	})
	e.GET("/kv/:k", func(c *gin.Context) {
		v, ok := sessions.Get[string](c, c.Param("k"))
		c.JSON(http.StatusOK, gin.H{"found": ok, "value": v})
	})
	e.GET("/all", func(c *gin.Context) {
		all := map[string]string{}
		for _, k := range sessions.Keys(c) {
			all[k], _ = sessions.Get[string](c, k)
		}
		c.JSON(http.StatusOK, all)
	})
	a.Srv = httptest.NewServer(e)
	t.Cleanup(a.Srv.Close)
	return a
}

// moveUser is one browser: a cookie jar, what its session must hold, and
// what it does during the move.
type moveUser struct {
	i    int
	hc   *http.Client
	jar  http.CookieJar
	role moveRole
	user string            // bound to this user, or ""
	want map[string]string // every value its session must hold
	id   string            // its session ID (read from the jar)
	// before is the session as the old backend held it.
	before *sessions.Snapshot
}

type moveRole int

const (
	moveQuiet  moveRole = iota // no request during the move: moved in bulk
	moveReader                 // reads only
	moveWriter                 // reads and writes
)

// moveCookie returns the session cookie the jar holds.
func moveCookie(jar http.CookieJar, base string) string {
	u, _ := url.Parse(base)
	for _, c := range jar.Cookies(u) {
		if c.Name == sessions.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

func moveUnderLoad(t *testing.T, oldDSN, newDSN string) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)

	// 1. Life before the switch: sessions on the old backend.
	oldApp := moveNewApp(t, oldDSN, "", moveOldLifetime, 0)
	users := make([]*moveUser, moveSessions)
	for i := range users {
		jar, _ := cookiejar.New(nil)
		u := &moveUser{i: i, jar: jar, hc: &http.Client{Jar: jar, Transport: tr, Timeout: 20 * time.Second},
			role: moveRole(i % 3), want: map[string]string{}}
		if i%10 == 0 {
			u.user = fmt.Sprintf("user-%d", i)
		}
		users[i] = u
	}
	moveParallel(t, users, func(u *moveUser) error {
		v := fmt.Sprintf("a%d", u.i)
		if r := send(u.hc, "PUT", oldApp.Srv.URL+"/kv/a?v="+v, nil); r.Err != nil || r.Status != http.StatusOK {
			return fmt.Errorf("user %d: PUT /kv/a on the old app: %v", u.i, r)
		}
		u.want["a"] = v
		if u.user != "" {
			if r := send(u.hc, "PUT", oldApp.Srv.URL+"/login/"+u.user, nil); r.Err != nil || r.Status != http.StatusOK {
				return fmt.Errorf("user %d: login on the old app: %v", u.i, r)
			}
		}
		u.id = moveCookie(u.jar, oldApp.Srv.URL)
		if u.id == "" {
			return fmt.Errorf("user %d: no session cookie", u.i)
		}
		snap, err := oldApp.M.Snapshot(ctx, u.id)
		if err != nil || snap == nil {
			return fmt.Errorf("user %d: snapshot on the old backend: %v, %v", u.i, snap, err)
		}
		u.before = snap
		return nil
	})
	if n := moveCountOf(t, oldDSN); n != moveSessions {
		t.Fatalf("the old backend holds %d sessions, want %d", n, moveSessions)
	}

	// 2. The switch: SESSION_DSN=new, SESSION_DSN_PREVIOUS=old, under load.
	switched := time.Now()
	newApp := moveNewApp(t, newDSN, oldDSN, moveNewLifetime, moveNewTouch)
	var (
		reqs     atomic.Int64
		stop     atomic.Bool
		mu       sync.Mutex
		problems []string
		fresh    = map[string]string{} // new visitors: session ID -> value
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 50 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check := func(what string, r response) bool {
		reqs.Add(1)
		if r.Err != nil || r.Status < 200 || r.Status > 299 {
			problem("%s: %v", what, r)
			return false
		}
		return true
	}
	var wg sync.WaitGroup
	rounds := make([]int, moveWorkers)
	for w := range moveWorkers {
		wg.Go(func() {
			for round := 0; round < 500 && ctx.Err() == nil && (round < 3 || !stop.Load()); round++ {
				rounds[w] = round + 1
				for _, u := range users {
					if u.i%moveWorkers != w || u.role == moveQuiet {
						continue
					}
					r := send(u.hc, "GET", newApp.Srv.URL+"/kv/a", nil)
					if check(fmt.Sprintf("user %d: GET /kv/a", u.i), r) {
						if v, err := r.kv(); err != nil || !v.Found || v.Value != u.want["a"] {
							problem("user %d lost its session: GET /kv/a = %s", u.i, r.Body)
						}
					}
					if u.role == moveWriter {
						k, v := fmt.Sprintf("w%d", round), fmt.Sprintf("%d-%d", u.i, round)
						r := send(u.hc, "PUT", newApp.Srv.URL+"/kv/"+k+"?v="+v, nil)
						if check(fmt.Sprintf("user %d: PUT /kv/%s", u.i, k), r) {
							mu.Lock()
							u.want[k] = v
							mu.Unlock()
						}
					}
				}
				// A new visitor: its session goes to the new backend only.
				v := fmt.Sprintf("fresh-%d-%d", w, round)
				r := sendCookie("PUT", newApp.Srv.URL+"/kv/f?v="+v, "")
				if check("a new visitor's PUT", r) && r.Cookie != nil {
					mu.Lock()
					fresh[r.Cookie.Value] = v
					mu.Unlock()
				}
			}
		})
	}

	// 3. The bulk move, from its own Manager (as sessionctl migrate runs in
	// its own process), once the traffic is flowing; half-way through, it
	// waits until more requests have gone through, so that requests and
	// the move certainly overlap.
	if !suite.WaitUntil(20*time.Second, func() bool { return reqs.Load() >= 50 }) {
		t.Fatalf("the traffic did not start: %d requests", reqs.Load())
	}
	toolCfg := sessions.DefaultConfig()
	toolCfg.DSN, toolCfg.PreviousDSN, toolCfg.Lifetime = newDSN, oldDSN, moveNewLifetime
	toolLogs := &syncBuffer{}
	toolCfg.Logger = slog.New(slog.NewTextHandler(toolLogs, nil))
	tool, err := sessions.NewManager(toolCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tool.Close()
	var (
		paused   bool
		lastDone int
		calls    int
		total    = -2
		during   int64
	)
	reqsAtStart := reqs.Load()
	stats, err := tool.MovePrevious(ctx, func(p sessions.MoveProgress) {
		calls++
		total = p.Total
		if p.Done < lastDone {
			problem("progress went back from %d to %d", lastDone, p.Done)
		}
		lastDone = p.Done
		if !paused && p.Done >= p.Total/2 {
			paused = true
			at := reqs.Load()
			suite.WaitUntil(10*time.Second, func() bool { return reqs.Load() >= at+40 })
		}
	})
	during = reqs.Load() - reqsAtStart
	stop.Store(true)
	wg.Wait()
	t.Logf("bulk move %s -> %s: %+v; %d progress calls (total %d); %d requests during the move, %d in all; rounds per worker %v",
		sessions.RedactDSN(oldDSN), sessions.RedactDSN(newDSN), stats, calls, total, during, reqs.Load(), rounds)
	if err != nil {
		t.Fatalf("MovePrevious: %v\nlogs:\n%s", err, toolLogs.String())
	}

	// 4. Nobody saw an error, nobody lost a session.
	mu.Lock()
	for _, p := range problems {
		t.Error(p)
	}
	mu.Unlock()
	for _, a := range []*moveApp{oldApp, newApp} {
		for _, err := range a.Errs.All() {
			t.Errorf("the app reported: %v", err)
		}
	}
	if during < 40 {
		t.Errorf("only %d requests ran during the bulk move", during)
	}
	if stats.Failed != 0 || stats.Remaining != 0 {
		t.Errorf("stats: %+v", stats)
	}
	if stats.Moved == 0 || stats.Moved+stats.Kept+stats.Skipped < moveSessions/3 {
		t.Errorf("the bulk move did too little: %+v", stats)
	}
	if total < 0 || total > moveSessions {
		t.Errorf("progress total %d", total)
	}

	// 5. The old backend is empty: its Scanner finds nothing.
	if n := moveCountOf(t, oldDSN); n != 0 {
		t.Fatalf("the old backend still holds %d sessions", n)
	}

	// 6. After the previous DSN is removed, every session is there, with
	// every write made during the move, its remaining lifetime and its
	// creation time, and user-bound ones in the new backend's user index.
	final := moveNewApp(t, newDSN, "", moveNewLifetime, moveNewTouch)
	var drift time.Duration
	defer func() { t.Logf("largest deadline drift of a moved session: %v", drift) }()
	for _, u := range users {
		snap, err := final.M.Snapshot(ctx, u.id)
		if err != nil || snap == nil {
			t.Errorf("user %d: no session in the new backend (%v)", u.i, err)
			continue
		}
		if !snap.Created.Equal(u.before.Created) {
			t.Errorf("user %d: created %v, was %v", u.i, snap.Created, u.before.Created)
		}
		if u.role != moveWriter {
			// Not written to since the switch: the deadline is the old one,
			// later by at most the time the move took (the time between
			// reading the old deadline and writing the copy; seconds on a
			// starved machine), where a reset lifetime would add minutes.
			if d := snap.Expires.Sub(u.before.Expires); d < -time.Second || d > time.Since(switched)+time.Second {
				t.Errorf("user %d: expires %v, was %v: the remaining lifetime did not carry over (off by %v)", u.i, snap.Expires, u.before.Expires, d)
			} else {
				drift = max(drift, d)
			}
		}
		r := send(u.hc, "GET", final.Srv.URL+"/all", nil)
		var got map[string]string
		if r.Err != nil || r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &got) != nil {
			t.Errorf("user %d: GET /all: %v", u.i, r)
			continue
		}
		if !maps.Equal(got, u.want) {
			t.Errorf("user %d: the session holds %v, want %v", u.i, got, u.want)
		}
		if r.Cookie != nil && r.Cookie.Value != u.id {
			t.Errorf("user %d was given a new session", u.i)
		}
		if u.user != "" {
			list, err := final.M.UserSessions(ctx, u.user)
			if err != nil || len(list) != 1 || list[0].IDHash != core.StoreKey(u.id) {
				t.Errorf("user %d: UserSessions(%s) on the new backend = %+v, %v", u.i, u.user, list, err)
			}
		}
	}
	if len(fresh) == 0 {
		t.Error("no new visitor came during the move")
	}
	for id, v := range fresh {
		if got, found := readVia(t, &app{Srv: final.Srv}, id, "f"); !found || got != v {
			t.Errorf("a new visitor's session holds %q (found %v), want %q", got, found, v)
		}
	}
	for _, err := range final.Errs.All() {
		t.Errorf("the app without the previous DSN reported: %v", err)
	}
}

// moveParallel runs f for every user, a few at a time, and fails the test
// on the first error.
func moveParallel(t *testing.T, users []*moveUser, f func(*moveUser) error) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan *moveUser)
	for range moveWorkers {
		wg.Go(func() {
			for u := range next {
				if err := f(u); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, u := range users {
		next <- u
	}
	close(next)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

// moveCountOf counts the sessions of the backend at dsn with its Scanner.
func moveCountOf(t *testing.T, dsn string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := sessions.CountSessions(ctx, openDriver(t, dsn))
	if err != nil {
		t.Fatalf("CountSessions(%s): %v", sessions.RedactDSN(dsn), err)
	}
	return n
}

// TestMoveRollingDeploy is the rolling deploy of the README's guide: the
// fleet first runs SESSION_DSN=old with SESSION_DSN_PREVIOUS=new (new is
// still empty: nothing changes), then instances switch one by one to
// SESSION_DSN=new with SESSION_DSN_PREVIOUS=old. While both kinds serve,
// a user's requests alternate between them and the session moves back and
// forth; every move keeps it whole, so nobody is logged out and no write
// is lost. Once the switch is complete, a bulk move empties the old store.
func TestMoveRollingDeploy(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	oldDSN, newDSN := moveFileDSN(t), "redis://"+addr+"/0"
	ctx := context.Background()
	first := moveNewApp(t, oldDSN, "", moveOldLifetime, 0)
	prepared := moveNewApp(t, oldDSN, newDSN, moveOldLifetime, 0) // step 1
	switched := moveNewApp(t, newDSN, oldDSN, moveOldLifetime, 0) // step 2
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)

	users := make([]*moveUser, 20)
	for i := range users {
		jar, _ := cookiejar.New(nil)
		u := &moveUser{i: i, jar: jar, hc: &http.Client{Jar: jar, Transport: tr, Timeout: 20 * time.Second}, want: map[string]string{}}
		if r := send(u.hc, "PUT", first.Srv.URL+"/kv/a?v=x", nil); r.Err != nil || r.Status != http.StatusOK {
			t.Fatalf("user %d: %v", i, r)
		}
		u.want["a"] = "x"
		u.id = moveCookie(jar, first.Srv.URL)
		users[i] = u
	}
	for round := range 6 {
		for _, u := range users {
			a := prepared
			if (round+u.i)%2 == 1 {
				a = switched
			}
			k := fmt.Sprintf("r%d", round)
			if r := send(u.hc, "PUT", a.Srv.URL+"/kv/"+k+"?v="+k, nil); r.Err != nil || r.Status != http.StatusOK {
				t.Fatalf("user %d, round %d: %v", u.i, round, r)
			}
			u.want[k] = k
			r := send(u.hc, "GET", a.Srv.URL+"/all", nil)
			var got map[string]string
			if r.Err != nil || r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &got) != nil || !maps.Equal(got, u.want) {
				t.Fatalf("user %d, round %d: %v, want %v", u.i, round, r, u.want)
			}
			if moveCookie(u.jar, a.Srv.URL) != u.id {
				t.Fatalf("user %d, round %d: given a new session", u.i, round)
			}
		}
	}
	stats, err := switched.M.MovePrevious(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bulk move after the roll-out: %+v", stats)
	if n := moveCountOf(t, oldDSN); n != 0 {
		t.Fatalf("the old store still holds %d sessions", n)
	}
	final := moveNewApp(t, newDSN, "", moveOldLifetime, 0)
	for _, u := range users {
		r := send(u.hc, "GET", final.Srv.URL+"/all", nil)
		var got map[string]string
		if r.Err != nil || json.Unmarshal([]byte(r.Body), &got) != nil || !maps.Equal(got, u.want) {
			t.Errorf("user %d: %v, want %v", u.i, r, u.want)
		}
	}
	for _, a := range []*moveApp{first, prepared, switched, final} {
		for _, err := range a.Errs.All() {
			t.Errorf("an app reported: %v", err)
		}
	}
}
