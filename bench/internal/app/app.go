// Package app builds the benchmark servers: one Gin engine per session
// library and backend, all with the same three routes and the same session.
//
//	GET /write  read int "count", add one, store it; a new session also gets
//	            user_id 42, name "Ada Lovelace", roles [admin editor viewer]
//	            and a 32-character csrf string (about 250 bytes in all),
//	            plus a "pad" string when a larger session size is asked for
//	GET /read   read count and name, change nothing
//	GET /none   the middleware is installed, the session is not touched
//
// Every library is set up the way its README shows, with the cookie named
// "session", a two-hour lifetime, and Gin in release mode without logger.
package app

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/bradfitz/gomemcache/memcache"
	gcsessions "github.com/gin-contrib/sessions"
	gccookie "github.com/gin-contrib/sessions/cookie"
	gcmemcached "github.com/gin-contrib/sessions/memcached"
	gcmemstore "github.com/gin-contrib/sessions/memstore"
	gcpostgres "github.com/gin-contrib/sessions/postgres"
	gcredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ginkit/sessions"
	_ "github.com/ginkit/sessions/drivers/mysql"
	_ "github.com/ginkit/sessions/drivers/postgres"
	_ "github.com/ginkit/sessions/drivers/sqlite"
)

// CookieName is the session cookie of every server.
const CookieName = "session"

// Lifetime is the session lifetime of every server.
const Lifetime = 2 * time.Hour

// BaseSize is roughly what the fixed fields of a new session encode to.
const BaseSize = 250

// Spec names one server: a library, its backend and the session size.
type Spec struct {
	Lib   string // bare, floor, ginkit, gincontrib, scs
	Store string // ginkit: memory, file, redis, redis-cache, memcached, postgres, mysql, sqlite; gincontrib: cookie, memstore, redis, memcached, postgres; scs: memstore, redis, pgxstore
	Size  int    // session size in bytes; 0 or BaseSize: the fixed fields only

	RedisAddr     string // host:port of the Redis server
	MemcachedAddr string // host:port of the memcached server
	Dir           string // folder for the file driver and the SQLite database

	PostgresAddr string // host:port of the PostgreSQL server (user postgres, no password)
	MySQLAddr    string // host:port of the MariaDB server (user root, no password)
	// DB is the server's own database on PostgreSQL or MariaDB, which the
	// harness creates empty before the server starts.
	DB string
	// SQLConns is the connection pool of every PostgreSQL and MariaDB
	// server, this project's and the peers' alike (DefaultSQLConns if 0).
	SQLConns int
	// SQLiteConns is ginkit/sqlite's max_conns (DefaultSQLiteConns if 0).
	SQLiteConns int

	// OnManager, if set, is given this project's Manager once it is made
	// (the harness reads its Stats).
	OnManager func(*sessions.Manager)
	// Soak, if set, makes a ginkit server the soak's (soak.go).
	Soak *Soak
	// Configure, if set, may change this project's Config before the
	// Manager is made (the scale mode sizes the store and keeps its
	// driver; see Scale).
	Configure func(*sessions.Config) error
}

// DefaultSQLConns is the pool size of the servers on PostgreSQL and
// MariaDB: wrk's 64 connections make at most 64 requests wait on the
// pool at once, and a database on 2 cores runs at most 2 statements at
// a time, so a pool of 16 keeps the database busy (one statement running
// on each core, more queued behind each in the server's socket buffers)
// while the rest of the requests queue in the Go pool rather than as
// database backends that would only contend for the same cores.
const DefaultSQLConns = 16

// DefaultSQLiteConns is ginkit/sqlite's pool: the driver's default, one
// connection (SQLite has one writer at a time; queueing in the pool is
// cheaper than SQLite's busy-wait, and with WAL a single connection keeps
// reads and writes in one process' page cache).
const DefaultSQLiteConns = 1

// IsSQL reports whether the server keeps its sessions in PostgreSQL,
// MariaDB or SQLite.
func (s Spec) IsSQL() bool { return s.SQLBackend() != "" }

// SQLBackend is "postgres", "mariadb", "sqlite" or "" for the others.
func (s Spec) SQLBackend() string {
	switch s.Store {
	case "postgres", "pgxstore":
		return "postgres"
	case "mysql":
		return "mariadb"
	case "sqlite":
		return "sqlite"
	}
	return ""
}

func (s Spec) sqlConns() int {
	if s.SQLConns > 0 {
		return s.SQLConns
	}
	return DefaultSQLConns
}

// Name is the spec's label in results: lib/store.
func (s Spec) Name() string {
	if s.Store == "" {
		return s.Lib
	}
	return s.Lib + "/" + s.Store
}

// HasSessions reports whether the server keeps sessions: false for bare
// Gin and the floor, which set no cookie.
func (s Spec) HasSessions() bool { return s.Lib != "bare" && s.Lib != "floor" }

// Specs lists every library and backend of the headline comparison, bare
// Gin first.
func Specs() []Spec {
	return []Spec{
		{Lib: "bare"},
		{Lib: "floor"},
		{Lib: "ginkit", Store: "memory"},
		{Lib: "ginkit", Store: "file"},
		{Lib: "ginkit", Store: "redis"},
		{Lib: "ginkit", Store: "redis-cache"},
		{Lib: "ginkit", Store: "memcached"},
		{Lib: "gincontrib", Store: "cookie"},
		{Lib: "gincontrib", Store: "memstore"},
		{Lib: "gincontrib", Store: "redis"},
		{Lib: "gincontrib", Store: "memcached"},
		{Lib: "scs", Store: "memstore"},
		{Lib: "scs", Store: "redis"},
	}
}

// SQLSpecs lists the servers of the SQL comparison: this project's three
// SQL drivers beside scs' and gin-contrib's PostgreSQL stores.
func SQLSpecs() []Spec {
	return []Spec{
		{Lib: "ginkit", Store: "postgres"},
		{Lib: "ginkit", Store: "mysql"},
		{Lib: "ginkit", Store: "sqlite"},
		{Lib: "scs", Store: "pgxstore"},
		{Lib: "gincontrib", Store: "postgres"},
	}
}

// SQLNames lists the names of SQLSpecs.
func SQLNames() []string {
	var out []string
	for _, s := range SQLSpecs() {
		out = append(out, s.Name())
	}
	return out
}

// ParseName turns "lib/store" (or "bare") back into a Spec.
func ParseName(name string) (Spec, error) {
	if name == "bare" {
		return Spec{Lib: "bare"}, nil
	}
	for _, s := range append(Specs(), SQLSpecs()...) {
		if s.Name() == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("unknown server %q; known: %s", name, strings.Join(AllNames(), ", "))
}

// Names lists the names of Specs: the headline comparison.
func Names() []string {
	var out []string
	for _, s := range Specs() {
		out = append(out, s.Name())
	}
	return out
}

// AllNames lists every server the harness knows: Specs, then SQLSpecs.
func AllNames() []string { return append(Names(), SQLNames()...) }

// Values is the content of a new session.
type Values struct {
	UserID int
	Name   string
	Roles  []string
	CSRF   string
	Pad    string // "" unless a size over BaseSize is asked for
}

// NewValues returns the values of a new session of about size bytes.
func NewValues(size int) Values {
	v := Values{
		UserID: 42,
		Name:   "Ada Lovelace",
		Roles:  []string{"admin", "editor", "viewer"},
		CSRF:   "9f8e7d6c5b4a39281706f5e4d3c2b1a0", // 32 characters
	}
	if size > BaseSize {
		v.Pad = strings.Repeat("x", size-BaseSize)
	}
	return v
}

// Build returns the server's handler and a function that releases its
// resources.
func Build(spec Spec) (http.Handler, func(), error) {
	gin.SetMode(gin.ReleaseMode)
	vals := NewValues(spec.Size)
	switch spec.Lib {
	case "bare":
		return bare(), func() {}, nil
	case "floor":
		return floor(), func() {}, nil
	case "ginkit":
		return ginkit(spec, vals)
	case "gincontrib":
		return gincontrib(spec, vals)
	case "scs":
		return scsServer(spec, vals)
	}
	return nil, nil, fmt.Errorf("unknown library %q", spec.Lib)
}

// bare is Gin without sessions: the ceiling.
func bare() http.Handler { return sessionless(gin.New()) }

// sessionless adds to r the three routes answering as the session routes
// would, without a session.
func sessionless(r *gin.Engine) *gin.Engine {
	r.GET("/write", func(c *gin.Context) { c.String(http.StatusOK, "1") })
	r.GET("/read", func(c *gin.Context) { c.String(http.StatusOK, "0 Ada Lovelace") })
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	return r
}

// floorKey is the gin.Context key of the floor's per-request state.
type floorKey struct{}

// floor is bare Gin behind the least any Gin session middleware does on
// every request: one small per-request object stored with c.Set, which is
// gin's only per-request place for it and costs a map of its own. The
// difference between bare and floor is what no such middleware can save
// on /none; the difference between floor and a library is its own cost.
func floor() http.Handler {
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Set(floorKey{}, &struct{ c *gin.Context }{c})
		c.Next()
	})
	return sessionless(r)
}

// GinkitDSN returns this project's DSN for a store.
func GinkitDSN(spec Spec) (string, error) {
	switch spec.Store {
	case "memory":
		return "memory://", nil
	case "file":
		dir := spec.Dir
		if dir == "" {
			return "", fmt.Errorf("ginkit/file needs a folder")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", err
		}
		return "file://" + abs, nil
	case "redis":
		return "redis://" + spec.RedisAddr + "/0", nil
	case "redis-cache":
		return "redis://" + spec.RedisAddr + "/0?client_cache=true", nil
	case "memcached":
		return "memcached://" + spec.MemcachedAddr, nil
	case "postgres":
		if spec.PostgresAddr == "" || spec.DB == "" {
			return "", fmt.Errorf("ginkit/postgres needs a server and a database")
		}
		return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&max_conns=%d", spec.PostgresAddr, spec.DB, spec.sqlConns()), nil
	case "mysql":
		if spec.MySQLAddr == "" || spec.DB == "" {
			return "", fmt.Errorf("ginkit/mysql needs a server and a database")
		}
		return fmt.Sprintf("mysql://root@%s/%s?max_conns=%d", spec.MySQLAddr, spec.DB, spec.sqlConns()), nil
	case "sqlite":
		if spec.Dir == "" {
			return "", fmt.Errorf("ginkit/sqlite needs a folder")
		}
		abs, err := filepath.Abs(spec.Dir)
		if err != nil {
			return "", err
		}
		n := spec.SQLiteConns
		if n <= 0 {
			n = DefaultSQLiteConns
		}
		u := url.URL{Scheme: "sqlite", Path: filepath.ToSlash(filepath.Join(abs, "sessions.db")), RawQuery: "max_conns=" + strconv.Itoa(n)}
		return u.String(), nil
	}
	return "", fmt.Errorf("ginkit: unknown store %q", spec.Store)
}

// withOptions returns dsn with its query options name=value set (kv is
// name, value, name, value, …), replacing any of the same name.
func withOptions(dsn string, kv ...string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	// Not u.String(): it drops the "//" of a DSN with no host (memory://).
	base, _, _ := strings.Cut(dsn, "?")
	return base + "?" + q.Encode(), nil
}

func ginkit(spec Spec, vals Values) (http.Handler, func(), error) {
	dsn, err := GinkitDSN(spec)
	if err != nil {
		return nil, nil, err
	}
	cfg := sessions.DefaultConfig()
	if cfg.DSN, err = spec.Soak.dsn(spec, dsn); err != nil {
		return nil, nil, err
	}
	cfg.Lifetime = Lifetime
	cfg.CookieName = CookieName
	if spec.Configure != nil {
		if err := spec.Configure(&cfg); err != nil {
			return nil, nil, err
		}
	}
	m, err := sessions.NewManager(cfg)
	if err != nil {
		return nil, nil, err
	}
	if spec.OnManager != nil {
		spec.OnManager(m)
	}
	r := gin.New()
	r.Use(m.Handler())
	r.GET("/write", func(c *gin.Context) {
		n := sessions.GetOr(c, "count", 0) + 1
		sessions.Set(c, "count", n)
		if n == 1 {
			sessions.Set(c, "user_id", vals.UserID)
			sessions.Set(c, "name", vals.Name)
			sessions.Set(c, "roles", vals.Roles)
			sessions.Set(c, "csrf", vals.CSRF)
			if vals.Pad != "" {
				sessions.Set(c, "pad", vals.Pad)
			}
		}
		c.String(http.StatusOK, strconv.Itoa(n))
	})
	r.GET("/read", func(c *gin.Context) {
		n := sessions.GetOr(c, "count", 0)
		name := sessions.GetOr(c, "name", "")
		c.String(http.StatusOK, strconv.Itoa(n)+" "+name)
	})
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	spec.Soak.routes(r)
	return r, func() { _ = m.Close() }, nil
}

// gcKey is gin-contrib's (gorilla securecookie's) authentication key, as in
// its README: no encryption key.
var gcKey = []byte("0123456789abcdef0123456789abcdef")

func gincontrib(spec Spec, vals Values) (http.Handler, func(), error) {
	var store gcsessions.Store
	cleanup := func() {}
	switch spec.Store {
	case "cookie":
		store = gccookie.NewStore(gcKey)
	case "memstore":
		store = gcmemstore.NewStore(gcKey)
	case "redis":
		// As in gin-contrib's README: a pool of 10 idle connections.
		s, err := gcredis.NewStore(10, "tcp", spec.RedisAddr, "", "", gcKey)
		if err != nil {
			return nil, nil, err
		}
		store = s
	case "memcached":
		// As in gin-contrib's README: memcache.New with its defaults (two
		// idle connections per server).
		store = gcmemcached.NewStore(memcache.New(spec.MemcachedAddr), "sess:", gcKey)
	case "postgres":
		// As in gin-contrib's README: database/sql with lib/pq (which
		// pgstore imports), and the same pool as every SQL server here
		// (database/sql's default keeps only two idle connections, which
		// would open a PostgreSQL backend every few requests).
		db, err := sql.Open("postgres", postgresURL(spec))
		if err != nil {
			return nil, nil, err
		}
		db.SetMaxOpenConns(spec.sqlConns())
		db.SetMaxIdleConns(spec.sqlConns())
		s, err := gcpostgres.NewStore(db, gcKey)
		if err != nil {
			_ = db.Close()
			return nil, nil, err
		}
		store = s
		cleanup = func() { _ = db.Close() }
	default:
		return nil, nil, fmt.Errorf("gincontrib: unknown store %q", spec.Store)
	}
	store.Options(gcsessions.Options{Path: "/", MaxAge: int(Lifetime / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode})
	r := gin.New()
	r.Use(gcsessions.Sessions(CookieName, store))
	r.GET("/write", func(c *gin.Context) {
		s := gcsessions.Default(c)
		n, _ := s.Get("count").(int)
		n++
		s.Set("count", n)
		if n == 1 {
			s.Set("user_id", vals.UserID)
			s.Set("name", vals.Name)
			s.Set("roles", vals.Roles)
			s.Set("csrf", vals.CSRF)
			if vals.Pad != "" {
				s.Set("pad", vals.Pad)
			}
		}
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, strconv.Itoa(n))
	})
	r.GET("/read", func(c *gin.Context) {
		s := gcsessions.Default(c)
		n, _ := s.Get("count").(int)
		name, _ := s.Get("name").(string)
		c.String(http.StatusOK, strconv.Itoa(n)+" "+name)
	})
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	return r, cleanup, nil
}

func scsServer(spec Spec, vals Values) (http.Handler, func(), error) {
	sm := scs.New()
	sm.Lifetime = Lifetime
	sm.Cookie.Name = CookieName
	var cleanup func()
	switch spec.Store {
	case "memstore":
		ms := memstore.New()
		sm.Store = ms
		cleanup = ms.StopCleanup
	case "redis":
		// go-redis with its default pool (10 connections per core).
		client := goredis.NewClient(&goredis.Options{Addr: spec.RedisAddr})
		if err := client.Ping(context.Background()).Err(); err != nil {
			return nil, nil, err
		}
		sm.Store = goredisstore.New(client)
		cleanup = func() { _ = client.Close() }
	case "pgxstore":
		// As in scs' README: a pgxpool (of the same size as every SQL
		// server's here) and the sessions table its README gives.
		ctx := context.Background()
		pool, err := pgxpool.New(ctx, postgresURL(spec)+"&pool_max_conns="+strconv.Itoa(spec.sqlConns()))
		if err != nil {
			return nil, nil, err
		}
		if _, err := pool.Exec(ctx, ScsSchema); err != nil {
			pool.Close()
			return nil, nil, err
		}
		ps := pgxstore.New(pool)
		sm.Store = ps
		cleanup = func() { ps.StopCleanup(); pool.Close() }
	default:
		return nil, nil, fmt.Errorf("scs: unknown store %q", spec.Store)
	}
	r := gin.New()
	r.GET("/write", func(c *gin.Context) {
		ctx := c.Request.Context()
		n := sm.GetInt(ctx, "count") + 1
		sm.Put(ctx, "count", n)
		if n == 1 {
			sm.Put(ctx, "user_id", vals.UserID)
			sm.Put(ctx, "name", vals.Name)
			sm.Put(ctx, "roles", vals.Roles)
			sm.Put(ctx, "csrf", vals.CSRF)
			if vals.Pad != "" {
				sm.Put(ctx, "pad", vals.Pad)
			}
		}
		c.String(http.StatusOK, strconv.Itoa(n))
	})
	r.GET("/read", func(c *gin.Context) {
		ctx := c.Request.Context()
		n := sm.GetInt(ctx, "count")
		name := sm.GetString(ctx, "name")
		c.String(http.StatusOK, strconv.Itoa(n)+" "+name)
	})
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	// scs' documented integration: LoadAndSave wraps the whole handler, so
	// it loads the session of every request that carries a cookie.
	return sm.LoadAndSave(r), cleanup, nil
}

// ScsSchema is the table scs' PostgreSQL stores need, from their README.
const ScsSchema = `CREATE TABLE IF NOT EXISTS sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);`

// postgresURL is the peers' connection URL for the server's database.
func postgresURL(spec Spec) string {
	return "postgres://postgres@" + spec.PostgresAddr + "/" + spec.DB + "?sslmode=disable"
}

// TempDir makes a fresh folder for the file driver.
func TempDir() (string, error) { return os.MkdirTemp("", "ginkit-bench-file-") }

// SortedNames returns names sorted, for stable output.
func SortedNames(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
