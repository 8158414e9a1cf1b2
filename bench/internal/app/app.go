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
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/bradfitz/gomemcache/memcache"
	gcsessions "github.com/gin-contrib/sessions"
	gccookie "github.com/gin-contrib/sessions/cookie"
	gcmemcached "github.com/gin-contrib/sessions/memcached"
	gcmemstore "github.com/gin-contrib/sessions/memstore"
	gcredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ginkit/sessions"
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
	Store string // ginkit: memory, file, redis, redis-cache, memcached; gincontrib: cookie, memstore, redis, memcached; scs: memstore, redis
	Size  int    // session size in bytes; 0 or BaseSize: the fixed fields only

	RedisAddr     string // host:port of the Redis server
	MemcachedAddr string // host:port of the memcached server
	Dir           string // folder for the file driver
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

// ParseName turns "lib/store" (or "bare") back into a Spec.
func ParseName(name string) (Spec, error) {
	if name == "bare" {
		return Spec{Lib: "bare"}, nil
	}
	for _, s := range Specs() {
		if s.Name() == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("unknown server %q; known: %s", name, strings.Join(Names(), ", "))
}

// Names lists the names of Specs.
func Names() []string {
	var out []string
	for _, s := range Specs() {
		out = append(out, s.Name())
	}
	return out
}

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
	}
	return "", fmt.Errorf("ginkit: unknown store %q", spec.Store)
}

func ginkit(spec Spec, vals Values) (http.Handler, func(), error) {
	dsn, err := GinkitDSN(spec)
	if err != nil {
		return nil, nil, err
	}
	cfg := sessions.DefaultConfig()
	cfg.DSN = dsn
	cfg.Lifetime = Lifetime
	cfg.CookieName = CookieName
	m, err := sessions.NewManager(cfg)
	if err != nil {
		return nil, nil, err
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
	cleanup := func() {}
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
