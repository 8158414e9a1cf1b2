// Package integration runs the session library against real Redis and
// memcached servers, started by internal/testserver on loopback ports and
// always reached the way an application reaches them: through a DSN given
// to sessions.Open or sessions.Config.DSN (what SESSION_DSN selects).
// The root package runs each built-in driver on one server through the
// conformance and middleware suites (drivers_test.go); this package has
// the rest: the topologies (Redis Cluster and Sentinel, a memcached pool),
// the gin-contrib adapter, outages and faults, hostile records,
// concurrency and the move between backends.
//
// A test whose server binary is missing is skipped by testserver.Need with
// a message naming the binary (or fails, when CI is set).
package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ginsessions "github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/contrib"
	_ "github.com/ginkit/sessions/drivers/mysql"
	_ "github.com/ginkit/sessions/drivers/postgres"
	_ "github.com/ginkit/sessions/drivers/sqlite"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	code := m.Run()
	testserver.StopShared() // the shared PostgreSQL and MariaDB servers
	os.Exit(code)
}

// sqlBackends are the SQL drivers, each in a fresh database (or file) of
// a server the test binary shares: PostgreSQL, MariaDB and SQLite.
func sqlBackends() []backend {
	return []backend{
		{name: "postgres", start: func(t *testing.T) (string, func() error) {
			pg := testserver.SharedPostgres(t)
			return pg.DSN(pg.NewDatabase(t), ""), nil
		}},
		{name: "mysql", start: func(t *testing.T) (string, func() error) {
			my := testserver.SharedMariaDB(t)
			return my.DSN(my.NewDatabase(t), ""), nil
		}},
		{name: "sqlite", start: func(t *testing.T) (string, func() error) {
			return "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "sessions.db")), nil
		}},
	}
}

// backend starts a fresh server of one kind and returns the DSN that
// reaches it, plus a probe that reports whether the server still answers.
type backend struct {
	name  string
	start func(t *testing.T) (dsn string, alive func() error)
}

var backends = []backend{
	{
		name: "redis",
		start: func(t *testing.T) (string, func() error) {
			addr, _ := testserver.StartRedis(t)
			return "redis://" + addr, func() error { return testserver.WaitRedis(addr, 2*time.Second) }
		},
	},
	{
		name: "memcached",
		start: func(t *testing.T) (string, func() error) {
			addr, _ := testserver.StartMemcached(t)
			return memcachedDSN(addr), func() error { return testserver.WaitMemcached(addr, 2*time.Second) }
		},
	},
}

// memcachedDSN returns a DSN for a pool of memcached servers. Its socket
// timeout is 5s, not the default 500ms: under -race on a small, busy
// machine a round trip can take longer, and only the outage tests are
// about timeouts (they set their own).
func memcachedDSN(addrs ...string) string {
	return "memcached://" + strings.Join(addrs, ",") + "?timeout=5s"
}

// openDriver opens a driver through the registry, as SESSION_DSN would,
// and closes it when the test ends.
func openDriver(t *testing.T, dsn string) sessions.Driver {
	t.Helper()
	return testserver.OpenDSN(t, sessions.Open, dsn)
}

// conformance runs the driver conformance suite on drivers opened from dsn.
func conformance(t *testing.T, dsn string, opts sessionstest.Options) {
	t.Helper()
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		d, err := sessions.Open(dsn)
		if err != nil {
			t.Fatalf("sessions.Open(%s): %v", sessions.RedactDSN(dsn), err)
		}
		return d
	}, opts)
}

// app is one application instance: a suite.Env whose Manager is opened
// from a DSN, with a few routes, served by a real HTTP server on loopback.
type app struct {
	*suite.Env
	Srv  *httptest.Server
	Logs *syncBuffer
}

// newApp builds an app over dsn. mutate may change the Config (whose DSN
// is already set) before NewManager.
//
// Routes:
//
//	PUT /kv/:k?v=V  sets k=V and answers 200 {"saved":true}: a handler
//	                that claims success, as a login handler would
//	GET /kv/:k      answers 200 {"found":…, "value":…}
//	GET /keys       answers 200 {"keys":[…]}
//	POST /incr/:k   adds one to the int under k with Update, answers 200
//	                {"value":n}
func newApp(t *testing.T, dsn string, mutate func(*sessions.Config)) *app {
	t.Helper()
	logs := &syncBuffer{}
	a := &app{Logs: logs, Env: suite.NewApp(t, nil, func(cfg *sessions.Config) {
		cfg.DSN = dsn
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}, mutate)}
	a.Engine.PUT("/kv/:k", func(c *gin.Context) {
		sessions.Set(c, c.Param("k"), c.Query("v"))
		c.JSON(http.StatusOK, gin.H{"saved": true})
	})
	a.Engine.GET("/kv/:k", func(c *gin.Context) {
		v, ok := sessions.Get[string](c, c.Param("k"))
		c.JSON(http.StatusOK, gin.H{"found": ok, "value": v})
	})
	a.Engine.POST("/incr/:k", func(c *gin.Context) {
		n, err := sessions.Update(c, c.Param("k"), func(cur int, _ bool) int { return cur + 1 })
		if err != nil {
			a.Errs.Add(err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"value": n})
	})
	a.Engine.GET("/keys", func(c *gin.Context) {
		keys := sessions.Keys(c)
		if keys == nil {
			keys = []string{}
		}
		c.JSON(http.StatusOK, gin.H{"keys": keys})
	})
	a.Srv = httptest.NewServer(a.Engine)
	t.Cleanup(a.Srv.Close)
	return a
}

// newContribApp is newApp's twin over the gin-contrib/sessions adapter
// (package contrib): the same routes, written against gin-contrib's API,
// with the session cookie under the same name. Save errors answer 500.
func newContribApp(t *testing.T, dsn string) *app {
	t.Helper()
	a := &app{Env: &suite.Env{T: t, Errs: &suite.ErrorLog{}}, Logs: &syncBuffer{}}
	cfg := sessions.DefaultConfig()
	cfg.DSN = dsn
	cfg.Logger = slog.New(slog.NewTextHandler(a.Logs, nil))
	store, err := contrib.NewStoreWith(cfg)
	if err != nil {
		t.Fatalf("contrib.NewStoreWith(DSN %s): %v", sessions.RedactDSN(dsn), err)
	}
	t.Cleanup(func() { _ = store.Close() })
	a.M = store.Manager()
	a.Engine = gin.New()
	a.Engine.Use(ginsessions.Sessions(sessions.DefaultCookieName, store))
	a.Engine.PUT("/kv/:k", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Set(c.Param("k"), c.Query("v"))
		if err := s.Save(); err != nil {
			a.Errs.Add(err)
			c.JSON(http.StatusInternalServerError, gin.H{"saved": false})
			return
		}
		c.JSON(http.StatusOK, gin.H{"saved": true})
	})
	a.Engine.GET("/kv/:k", func(c *gin.Context) {
		v, ok := ginsessions.Default(c).Get(c.Param("k")).(string)
		c.JSON(http.StatusOK, gin.H{"found": ok, "value": v})
	})
	a.Engine.GET("/keys", func(c *gin.Context) {
		keys := []string{}
		gs, err := store.Get(c.Request, sessions.DefaultCookieName) // the request's *gorilla Session
		if err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		for k := range gs.Values {
			keys = append(keys, k.(string))
		}
		sort.Strings(keys)
		c.JSON(http.StatusOK, gin.H{"keys": keys})
	})
	a.Srv = httptest.NewServer(a.Engine)
	t.Cleanup(a.Srv.Close)
	return a
}

// syncBuffer is a bytes.Buffer safe for concurrent writers, for the logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// client is a real HTTP client with a cookie jar: it holds a session
// cookie the way a browser does, and sends it to every app on 127.0.0.1
// (cookies ignore ports), like a browser behind a load balancer.
type client struct {
	hc  *http.Client
	jar http.CookieJar
}

func newClient(t *testing.T) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 128, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{hc: &http.Client{Jar: jar, Transport: tr, Timeout: 20 * time.Second}, jar: jar}
}

// response is what one request returned. Err is a transport error (no
// HTTP response at all, or a client timeout).
type response struct {
	Status int
	Body   string
	Cookie *http.Cookie // the session cookie the response set, or nil
	Err    error
	Start  time.Time
	Took   time.Duration
}

func (r response) String() string {
	if r.Err != nil {
		return "transport error: " + r.Err.Error()
	}
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(r.Body))
}

// kv is the JSON body of the app's routes.
type kv struct {
	Saved bool     `json:"saved"`
	Found bool     `json:"found"`
	Value string   `json:"value"`
	Keys  []string `json:"keys"`
}

func (r response) kv() (kv, error) {
	var v kv
	err := json.Unmarshal([]byte(r.Body), &v)
	return v, err
}

// do sends one request with the jar's cookies. Safe for concurrent use.
func (c *client) do(method, rawURL string) response {
	return send(c.hc, method, rawURL, nil)
}

// id returns the session cookie the client holds for base, or "".
func (c *client) id(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == sessions.DefaultCookieName {
			return ck.Value
		}
	}
	return ""
}

// plainClient has no cookie jar: the caller sets the Cookie header.
var plainClient = &http.Client{Timeout: 20 * time.Second}

// sendCookie sends one request whose Cookie header is exactly header
// (none if header is "").
func sendCookie(method, rawURL, header string) response {
	h := http.Header{}
	if header != "" {
		h.Set("Cookie", header)
	}
	return send(plainClient, method, rawURL, h)
}

func send(hc *http.Client, method, rawURL string, h http.Header) response {
	r := response{Start: time.Now()}
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		r.Err = err
		return r
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		r.Err = err
		r.Took = time.Since(r.Start)
		return r
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	r.Took = time.Since(r.Start)
	r.Status, r.Body, r.Err = resp.StatusCode, string(body), err
	for _, ck := range resp.Cookies() {
		if ck.Name == sessions.DefaultCookieName {
			r.Cookie = ck
		}
	}
	return r
}

// newSessionVia creates a session holding k=v through app a and returns
// its ID, using a client without a jar.
func newSessionVia(t *testing.T, a *app, k, v string) string {
	t.Helper()
	r := sendCookie("PUT", a.Srv.URL+"/kv/"+k+"?v="+url.QueryEscape(v), "")
	if r.Err != nil || r.Status != http.StatusOK || r.Cookie == nil || r.Cookie.MaxAge <= 0 {
		t.Fatalf("creating a session: %v (cookie %v)", r, r.Cookie)
	}
	return r.Cookie.Value
}

// readVia reads k of session id through app a.
func readVia(t *testing.T, a *app, id, k string) (value string, found bool) {
	t.Helper()
	r := sendCookie("GET", a.Srv.URL+"/kv/"+k, sessions.DefaultCookieName+"="+id)
	if r.Err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /kv/%s: %v", k, r)
	}
	v, err := r.kv()
	if err != nil {
		t.Fatalf("GET /kv/%s: body %q: %v", k, r.Body, err)
	}
	return v.Value, v.Found
}

// persistentRedisArgs are the arguments of a redis-server that keeps its data
// across a kill and restart in the same folder: an append-only file
// fsynced on every write. testserver.StartRedis runs without persistence.
func persistentRedisArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "yes",
		"--appendfsync", "always",
		"--daemonize", "no",
		"--logfile", "",
	}
}

// startPersistentRedis starts a redis-server with an append-only file in
// its own folder. Process.Restart reuses the arguments, hence the folder,
// so a restart reloads every acknowledged write.
func startPersistentRedis(t *testing.T) (addr string, proc *testserver.Process) {
	t.Helper()
	bin := testserver.Need(t, "redis-server", "redis-server")
	dir := t.TempDir()
	port := testserver.FreePort(t)
	addr = testserver.Addr(port)
	proc = testserver.Start(t, "redis-server (appendonly) "+addr, bin, persistentRedisArgs(port, dir)...)
	if err := testserver.WaitRedis(addr, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	return addr, proc
}
