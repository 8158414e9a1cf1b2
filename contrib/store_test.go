package contrib_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ginsessions "github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/tester"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/contrib"
	"github.com/ginkit/sessions/internal/core"
	"github.com/ginkit/sessions/internal/suite"
)

// contribTester runs every test of gin-contrib/sessions' own store suite
// against stores from newStore.
func contribTester(t *testing.T, newStore func(t *testing.T) ginsessions.Store) {
	gin.SetMode(gin.TestMode)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, func(*testing.T) ginsessions.Store)
	}{
		{"GetSet", func(t *testing.T, f func(*testing.T) ginsessions.Store) { tester.GetSet(t, f) }},
		{"DeleteKey", func(t *testing.T, f func(*testing.T) ginsessions.Store) { tester.DeleteKey(t, f) }},
		{"Flashes", func(t *testing.T, f func(*testing.T) ginsessions.Store) { tester.Flashes(t, f) }},
		{"Clear", func(t *testing.T, f func(*testing.T) ginsessions.Store) { tester.Clear(t, f) }},
		{"Options", func(t *testing.T, f func(*testing.T) ginsessions.Store) { tester.Options(t, f) }},
		{"Many", func(t *testing.T, f func(*testing.T) ginsessions.Store) { tester.Many(t, f) }},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore) })
	}
}

// contribDSNStore opens a store for dsn and closes it when t ends.
func contribDSNStore(dsn string) func(t *testing.T) ginsessions.Store {
	return func(t *testing.T) ginsessions.Store {
		t.Helper()
		store, err := contrib.NewStore(dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = store.(*contrib.Store).Close() })
		return store
	}
}

func contribFileDSN(t *testing.T) string {
	return (&url.URL{Scheme: "file", Path: t.TempDir()}).String()
}

func TestContribTesterMemory(t *testing.T) {
	contribTester(t, contribDSNStore("memory://"))
}

func TestContribTesterFile(t *testing.T) {
	contribTester(t, func(t *testing.T) ginsessions.Store { return contribDSNStore(contribFileDSN(t))(t) })
}

// contribEnv is a Gin engine using a ContribStore through gin-contrib's
// middleware, as an application would.
type contribEnv struct {
	t      *testing.T
	store  *contrib.Store
	count  *suite.Counting
	raw    sessions.Driver
	engine *gin.Engine
}

const contribName = "mysession"

// newContribEnv builds a store over a counted driver from dsn; mutate may
// change the Config.
func newContribEnv(t *testing.T, dsn string, mutate func(*sessions.Config)) *contribEnv {
	t.Helper()
	gin.SetMode(gin.TestMode)
	raw, err := sessions.Open(dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close(context.Background()) })
	wrapped, cnt := suite.Wrap(raw)
	cfg := sessions.DefaultConfig()
	cfg.Driver = wrapped
	if mutate != nil {
		mutate(&cfg)
	}
	store, err := contrib.NewStoreWith(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := &contribEnv{t: t, store: store, count: cnt, raw: raw, engine: gin.New()}
	e.engine.Use(ginsessions.Sessions(contribName, store))
	return e
}

func (e *contribEnv) do(path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: contribName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	return rec
}

// contribCookie returns the response's cookie named name, failing if it
// is set more than once.
func contribCookie(t *testing.T, rec *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == name {
			require.Nil(t, found, "the session cookie is set twice: %v", rec.Header()["Set-Cookie"])
			found = c
		}
	}
	return found
}

// contribUnknownID returns an ID of the right shape that no store knows.
func contribUnknownID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// routes adds /set?k=&v= (Set and Save), /get?k= (ID and value) and
// /del?k= to e.
func (e *contribEnv) routes() {
	e.engine.GET("/set", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Set(c.Query("k"), c.Query("v"))
		if err := s.Save(); err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, s.ID())
	})
	e.engine.GET("/get", func(c *gin.Context) {
		s := ginsessions.Default(c)
		c.String(200, "%s|%v", s.ID(), s.Get(c.Query("k")))
	})
	e.engine.GET("/del", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Delete(c.Query("k"))
		if err := s.Save(); err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, "ok")
	})
}

func TestContribStrictIDs(t *testing.T) {
	e := newContribEnv(t, "memory://", nil)
	e.routes()

	// A well-formed session works.
	rec := e.do("/set?k=k&v=v", "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	ck := contribCookie(t, rec, contribName)
	require.NotNil(t, ck)
	assert.Len(t, ck.Value, 43)
	assert.Equal(t, ck.Value, rec.Body.String(), "Session.ID() is the cookie's ID")
	assert.Equal(t, ck.Value+"|v", e.do("/get?k=k", ck.Value).Body.String())

	// Malformed IDs are rejected before any store I/O.
	for _, bad := range []string{"abc", ck.Value + "A", ck.Value[:42], ck.Value[:42] + "!", "../../../../etc/passwd", strings.Repeat("A", 42) + "B"} {
		loads := e.count.Loads.Load()
		assert.Equal(t, "|<nil>", e.do("/get?k=k", bad).Body.String(), "cookie %q", bad)
		assert.Equal(t, loads, e.count.Loads.Load(), "a malformed ID %q costs no store I/O", bad)
	}

	// An unknown, well-formed ID is not adopted: a write gets a fresh ID
	// and nothing is stored under the unknown one.
	unknown := contribUnknownID()
	assert.Equal(t, "|<nil>", e.do("/get?k=k", unknown).Body.String())
	rec = e.do("/set?k=k&v=w", unknown)
	require.Equal(t, 200, rec.Code)
	got := contribCookie(t, rec, contribName)
	require.NotNil(t, got)
	assert.NotEqual(t, unknown, got.Value, "an unknown ID is never adopted")
	rawRec, _, _, err := e.raw.Load(context.Background(), core.StoreKey(unknown))
	require.NoError(t, err)
	assert.Nil(t, rawRec, "nothing is stored under the unknown ID")

	// A session deleted in the store is not resurrected by its cookie.
	require.NoError(t, e.raw.Delete(context.Background(), core.StoreKey(ck.Value)))
	rec = e.do("/set?k=k2&v=x", ck.Value)
	require.Equal(t, 200, rec.Code)
	again := contribCookie(t, rec, contribName)
	require.NotNil(t, again)
	assert.NotEqual(t, ck.Value, again.Value)
	assert.Equal(t, again.Value+"|<nil>", e.do("/get?k=k", again.Value).Body.String(), "the old values are gone with the old record")
}

func TestContribHashedKeysAtRest(t *testing.T) {
	dir := t.TempDir()
	e := newContribEnv(t, (&url.URL{Scheme: "file", Path: dir}).String(), nil)
	e.routes()
	rec := e.do("/set?k=k&v=v", "")
	ck := contribCookie(t, rec, contribName)
	require.NotNil(t, ck)
	id := ck.Value

	rawRec, _, _, err := e.raw.Load(context.Background(), core.StoreKey(id))
	require.NoError(t, err)
	assert.NotNil(t, rawRec, "the record is stored under KeyOf(ID)")
	rawRec, _, _, err = e.raw.Load(context.Background(), id)
	require.NoError(t, err)
	assert.Nil(t, rawRec, "nothing is stored under the raw ID")

	files := 0
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		assert.NotContains(t, path, id, "a file name holds the raw ID")
		if !d.IsDir() {
			files++
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.NotContains(t, string(b), id, "a file holds the raw ID")
		}
		return nil
	}))
	assert.Positive(t, files)

	snap, err := e.store.Manager().Snapshot(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, snap)
	assert.Equal(t, core.StoreKey(id), snap.Key)
	v, ok := sessions.SnapshotValue[string](snap, "k")
	assert.True(t, ok)
	assert.Equal(t, "v", v)
}

// contribRequest returns a request carrying the session cookie id.
func contribRequest(id string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if id != "" {
		req.AddCookie(&http.Cookie{Name: contribName, Value: id})
	}
	return req
}

// contribValues loads the session id afresh and returns its values.
func contribValues(t *testing.T, store *contrib.Store, id string) map[interface{}]interface{} {
	t.Helper()
	s, err := store.New(contribRequest(id), contribName)
	require.NoError(t, err)
	require.Equal(t, id, s.ID, "the session exists")
	return s.Values
}

func TestContribOverlappingRequestsKeepDistinctKeys(t *testing.T) {
	for _, dsn := range []string{"memory://", "file"} {
		t.Run(strings.TrimSuffix(dsn, "://"), func(t *testing.T) {
			if dsn == "file" {
				dsn = contribFileDSN(t)
			}
			store := contribDSNStore(dsn)(t).(*contrib.Store)

			// Two requests load the same session, then save in turn.
			req0 := contribRequest("")
			s0, err := store.New(req0, contribName)
			require.NoError(t, err)
			s0.Values["x"] = "gone soon"
			s0.Values["keep"] = 1
			rec0 := httptest.NewRecorder()
			require.NoError(t, store.Save(req0, rec0, s0))
			id := contribCookie(t, rec0, contribName).Value

			reqA, reqB := contribRequest(id), contribRequest(id)
			sA, err := store.New(reqA, contribName)
			require.NoError(t, err)
			sB, err := store.New(reqB, contribName)
			require.NoError(t, err)
			sA.Values["a"] = "from A"
			delete(sB.Values, "x")
			sB.Values["b"] = "from B"
			require.NoError(t, store.Save(reqB, httptest.NewRecorder(), sB))
			require.NoError(t, store.Save(reqA, httptest.NewRecorder(), sA))

			assert.Equal(t, map[interface{}]interface{}{"keep": 1, "a": "from A", "b": "from B"}, contribValues(t, store, id),
				"A's set and B's set and delete all survive; A's stale copy of x does not bring it back")
		})
	}
}

// contribBag is a map value whose gob encoding varies from run to run
// (gob writes maps in random order).
type contribBag map[string]int

func init() { gob.Register(contribBag{}) }

func TestContribReadOnlyMapIsNotRewritten(t *testing.T) {
	store := contribDSNStore("memory://")(t).(*contrib.Store)
	bag := contribBag{}
	for i := 0; i < 32; i++ {
		bag[fmt.Sprint("k", i)] = i
	}
	req0 := contribRequest("")
	s0, err := store.New(req0, contribName)
	require.NoError(t, err)
	s0.Values["bag"] = bag
	rec0 := httptest.NewRecorder()
	require.NoError(t, store.Save(req0, rec0, s0))
	id := contribCookie(t, rec0, contribName).Value

	for round := 0; round < 5; round++ {
		reqA, reqB := contribRequest(id), contribRequest(id)
		sA, err := store.New(reqA, contribName)
		require.NoError(t, err)
		sB, err := store.New(reqB, contribName)
		require.NoError(t, err)
		sB.Values["bag"] = contribBag{"only": round}
		require.NoError(t, store.Save(reqB, httptest.NewRecorder(), sB))
		// A read the bag (it is in sA.Values, re-encoded at Save in
		// another order) and changed something else.
		sA.Values["other"] = round
		require.NoError(t, store.Save(reqA, httptest.NewRecorder(), sA))
		assert.Equal(t, contribBag{"only": round}, contribValues(t, store, id)["bag"], "A only read the bag: B's change stands")

		req := contribRequest(id)
		s, err := store.New(req, contribName)
		require.NoError(t, err)
		s.Values["bag"] = bag
		require.NoError(t, store.Save(req, httptest.NewRecorder(), s))
	}
}

type contribProfile struct {
	Name  string
	Roles []string
	Since time.Time
}

func init() {
	gob.Register(contribProfile{})
	gob.Register(time.Time{})
}

func TestContribTypedValues(t *testing.T) {
	store := contribDSNStore("memory://")(t).(*contrib.Store)
	since := time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.UTC)
	req := contribRequest("")
	s, err := store.New(req, contribName)
	require.NoError(t, err)
	s.Values["n"] = 42
	s.Values["n64"] = int64(-7)
	s.Values["f"] = 1.5
	s.Values["b"] = true
	s.Values["s"] = "héllo\x00"
	s.Values["bytes"] = []byte{0, 1, 2}
	s.Values["list"] = []string{"a", "b"}
	s.Values["t"] = since
	s.Values["p"] = contribProfile{Name: "Ada", Roles: []string{"admin"}, Since: since}
	s.Values["nil"] = nil
	rec := httptest.NewRecorder()
	require.NoError(t, store.Save(req, rec, s))
	id := contribCookie(t, rec, contribName).Value

	got := contribValues(t, store, id)
	assert.Equal(t, map[interface{}]interface{}{
		"n": 42, "n64": int64(-7), "f": 1.5, "b": true, "s": "héllo\x00",
		"bytes": []byte{0, 1, 2}, "list": []string{"a", "b"}, "t": since,
		"p":   contribProfile{Name: "Ada", Roles: []string{"admin"}, Since: since},
		"nil": nil,
	}, got, "values come back with their Go types")
}

func TestContribSaveErrorsWriteNothing(t *testing.T) {
	type unregistered struct{ A int }
	e := newContribEnv(t, "memory://", nil)
	e.engine.GET("/intkey", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Set("fine", "x")
		s.Set(1, "x")
		err := s.Save()
		c.String(200, fmt.Sprint(err))
	})
	e.engine.GET("/unregistered", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Set("fine", "x")
		s.Set("u", unregistered{1})
		err := s.Save()
		c.String(200, fmt.Sprint(err))
	})
	rec := e.do("/intkey", "")
	assert.Contains(t, rec.Body.String(), "key 1 is a int, not a string; nothing was saved")
	assert.Nil(t, contribCookie(t, rec, contribName))
	rec = e.do("/unregistered", "")
	assert.Contains(t, rec.Body.String(), `encode "u"`)
	assert.Contains(t, rec.Body.String(), "gob.Register")
	assert.Nil(t, contribCookie(t, rec, contribName))
	assert.Zero(t, e.count.Saves.Load(), "a failed Save writes nothing")
}

func TestContribMaxAge(t *testing.T) {
	e := newContribEnv(t, "memory://", func(c *sessions.Config) { c.Lifetime = 10 * time.Minute })
	e.routes()
	e.engine.GET("/logout", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Options(ginsessions.Options{Path: "/", MaxAge: -1})
		if err := s.Save(); err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, "%s|%v", s.ID(), s.Get("k"))
	})
	e.engine.GET("/hour", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Options(ginsessions.Options{Path: "/", MaxAge: 3600})
		s.Set("h", 1)
		_ = s.Save()
		c.Status(204)
	})
	e.engine.GET("/browser", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Options(ginsessions.Options{Path: "/"})
		s.Set("b", 1)
		_ = s.Save()
		c.Status(204)
	})
	ctx := context.Background()

	// Default: Max-Age is the Manager's lifetime, and so is the TTL.
	rec := e.do("/set?k=k&v=v", "")
	ck := contribCookie(t, rec, contribName)
	require.NotNil(t, ck)
	assert.Equal(t, 600, ck.MaxAge)
	assert.Equal(t, "/", ck.Path)
	assert.True(t, ck.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	_, _, exp, err := e.raw.Load(ctx, core.StoreKey(ck.Value))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), exp, 5*time.Second)

	// MaxAge > 0: cookie Max-Age and store TTL.
	rec = e.do("/hour", ck.Value)
	got := contribCookie(t, rec, contribName)
	require.NotNil(t, got)
	assert.Equal(t, 3600, got.MaxAge)
	_, _, exp, err = e.raw.Load(ctx, core.StoreKey(ck.Value))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Hour), exp, 5*time.Second)

	// MaxAge == 0: a browser-session cookie; the store keeps the lifetime.
	rec = e.do("/browser", ck.Value)
	got = contribCookie(t, rec, contribName)
	require.NotNil(t, got)
	assert.Zero(t, got.MaxAge)
	assert.True(t, got.Expires.IsZero())
	assert.NotContains(t, rec.Header().Get("Set-Cookie"), "Max-Age")
	_, _, exp, err = e.raw.Load(ctx, core.StoreKey(ck.Value))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), exp, 5*time.Second)

	// MaxAge < 0: the record is deleted and the cookie expired.
	rec = e.do("/logout", ck.Value)
	assert.Equal(t, "|v", rec.Body.String(), "the session is new afterwards; its Values stay as they were (gorilla)")
	got = contribCookie(t, rec, contribName)
	require.NotNil(t, got)
	assert.Equal(t, "", got.Value)
	assert.Negative(t, got.MaxAge)
	rawRec, _, _, err := e.raw.Load(ctx, core.StoreKey(ck.Value))
	require.NoError(t, err)
	assert.Nil(t, rawRec, "MaxAge<0 deletes the record")
	assert.Equal(t, "|<nil>", e.do("/get?k=k", ck.Value).Body.String(), "the old cookie no longer opens it")
}

func TestContribNoWriteWithoutValues(t *testing.T) {
	e := newContribEnv(t, "memory://", nil)
	e.engine.GET("/empty", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Set("a", 1)
		s.Clear()
		_ = s.Flashes()
		require.NoError(t, s.Save())
		c.Status(204)
	})
	rec := e.do("/empty", "")
	assert.Nil(t, contribCookie(t, rec, contribName), "a new, empty session sets no cookie")
	assert.Zero(t, e.count.Saves.Load(), "and stores nothing")
}

func TestContribSaveTwiceOneCookie(t *testing.T) {
	e := newContribEnv(t, "memory://", nil)
	e.engine.GET("/twice", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Set("a", 1)
		require.NoError(t, s.Save())
		s.Set("b", 2)
		require.NoError(t, s.Save())
		c.String(200, s.ID())
	})
	rec := e.do("/twice", "")
	ck := contribCookie(t, rec, contribName)
	require.NotNil(t, ck)
	assert.Equal(t, rec.Body.String(), ck.Value)
	store := e.store
	assert.Equal(t, map[interface{}]interface{}{"a": 1, "b": 2}, contribValues(t, store, ck.Value))
}

func TestContribResponseWritten(t *testing.T) {
	e := newContribEnv(t, "memory://", nil)
	errs := make(chan error, 1)
	e.engine.GET("/late", func(c *gin.Context) {
		c.String(200, "body first")
		s := ginsessions.Default(c)
		s.Set("a", 1)
		errs <- s.Save()
	})
	e.do("/late", "")
	assert.ErrorIs(t, <-errs, sessions.ErrResponseWritten)
	assert.Zero(t, e.count.Saves.Load(), "a new session whose cookie cannot be sent is not stored")
}

// contribFlakyDriver fails loads while fail is set.
type contribFlakyDriver struct {
	sessions.Driver
	mu   sync.Mutex
	fail bool
}

var errContribDown = errors.New("store down")

func (d *contribFlakyDriver) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	d.mu.Lock()
	fail := d.fail
	d.mu.Unlock()
	if fail {
		return nil, 0, time.Time{}, errContribDown
	}
	return d.Driver.Load(ctx, key)
}

func (d *contribFlakyDriver) setFail(v bool) { d.mu.Lock(); d.fail = v; d.mu.Unlock() }

func TestContribLoadErrorFailsClosed(t *testing.T) {
	raw, err := sessions.Open("memory://")
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close(context.Background()) })
	d := &contribFlakyDriver{Driver: raw}
	cfg := sessions.DefaultConfig()
	cfg.Driver = d
	store, err := contrib.NewStoreWith(cfg)
	require.NoError(t, err)

	req0 := contribRequest("")
	s0, _ := store.New(req0, contribName)
	s0.Values["a"] = 1
	rec0 := httptest.NewRecorder()
	require.NoError(t, store.Save(req0, rec0, s0))
	id := contribCookie(t, rec0, contribName).Value

	d.setFail(true)
	req := contribRequest(id)
	s, err := store.New(req, contribName)
	assert.ErrorIs(t, err, errContribDown)
	require.NotNil(t, s, "New never returns a nil session")
	assert.True(t, s.IsNew)
	assert.Empty(t, s.Values)
	s.Values["b"] = 2
	assert.ErrorIs(t, store.Save(req, httptest.NewRecorder(), s), errContribDown, "Save reloads before writing, and fails while the store is down")

	d.setFail(false)
	require.NoError(t, store.Save(req, httptest.NewRecorder(), s), "once the store answers, the change merges into the existing record")
	assert.Equal(t, map[interface{}]interface{}{"a": 1, "b": 2}, contribValues(t, store, id))
}

// TestContribInterop shares one Manager between the native middleware
// and the adapter: each reads what the other wrote.
func TestContribInterop(t *testing.T) {
	for _, codec := range []sessions.Codec{contrib.GobCodec{}, sessions.JSONCodec{}} {
		t.Run(fmt.Sprintf("%T", codec), func(t *testing.T) {
			gin.SetMode(gin.TestMode)
			cfg := sessions.DefaultConfig()
			cfg.CookieName = contribName
			cfg.Codec = codec
			cfg.DSN = contribFileDSN(t)
			m, err := sessions.NewManager(cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = m.Close() })
			store := contrib.NewStoreFromManager(m)
			require.NoError(t, store.Close(), "a shared Manager stays open")

			r := gin.New()
			native := r.Group("/native", m.Handler())
			contrib := r.Group("/contrib", ginsessions.Sessions(contribName, store))
			contrib.GET("/write", func(c *gin.Context) {
				s := ginsessions.Default(c)
				s.Set("user", "ada")
				s.Set("n", 42)
				s.AddFlash("from contrib")
				require.NoError(t, s.Save())
				c.Status(204)
			})
			contrib.GET("/read", func(c *gin.Context) {
				s := ginsessions.Default(c)
				body := gin.H{
					"user": s.Get("user"), "role": s.Get("role"),
					"n": fmt.Sprintf("%T:%v", s.Get("n"), s.Get("n")), "m": fmt.Sprintf("%T:%v", s.Get("m"), s.Get("m")),
					"flashes": fmt.Sprintf("%#v", s.Flashes()),
				}
				require.NoError(t, s.Save())
				c.JSON(200, body)
			})
			native.GET("/read", func(c *gin.Context) {
				user, _ := sessions.Get[string](c, "user")
				n, ok := sessions.Get[int](c, "n")
				c.JSON(200, gin.H{"user": user, "n": n, "nOK": ok, "flashes": fmt.Sprintf("%#v", sessions.Flashes(c))})
			})
			native.GET("/write", func(c *gin.Context) {
				sessions.Set(c, "role", "admin")
				sessions.Set(c, "m", 7)
				sessions.AddFlash(c, "from native")
				c.Status(204)
			})
			do := func(path, cookie string) *httptest.ResponseRecorder {
				req := httptest.NewRequest("GET", path, nil)
				if cookie != "" {
					req.AddCookie(&http.Cookie{Name: contribName, Value: cookie})
				}
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, req)
				return rec
			}

			// The adapter writes, the native API reads.
			rec := do("/contrib/write", "")
			ck := contribCookie(t, rec, contribName)
			require.NotNil(t, ck)
			rec = do("/native/read", ck.Value)
			assert.JSONEq(t, `{"user":"ada","n":42,"nOK":true,"flashes":"[]interface {}{\"from contrib\"}"}`, rec.Body.String())
			assert.NotNil(t, contribCookie(t, rec, contribName),
				"the first native write (taking the flashes) sends the cookie: the adapter's carried the adapter's own expiry")

			// The native API writes into the same session, the adapter reads.
			rec = do("/native/write", ck.Value)
			assert.Equal(t, 204, rec.Code)
			rec = do("/contrib/read", ck.Value)
			want := `{"user":"ada","role":"admin","n":"int:42","m":"int:7","flashes":"[]interface {}{\"from native\"}"}`
			if _, isJSON := codec.(sessions.JSONCodec); isJSON {
				want = `{"user":"ada","role":"admin","n":"float64:42","m":"float64:7","flashes":"[]interface {}{\"from native\"}"}`
			}
			assert.JSONEq(t, want, rec.Body.String())
			// Both flash lists were consumed.
			rec = do("/native/read", ck.Value)
			assert.JSONEq(t, `{"user":"ada","n":42,"nOK":true,"flashes":"[]interface {}(nil)"}`, rec.Body.String())

			snap, err := m.Snapshot(context.Background(), ck.Value)
			require.NoError(t, err)
			require.NotNil(t, snap)
			keys := snap.Keys()
			sort.Strings(keys)
			assert.Equal(t, []string{"m", "n", "role", "user"}, keys)
		})
	}
}

// TestContribUndecodableValuesAreKept: a value the adapter's codec cannot
// read (here: written as JSON by a native Manager) is hidden from Values
// and survives the adapter's saves.
func TestContribUndecodableValuesAreKept(t *testing.T) {
	gin.SetMode(gin.TestMode)
	dsn := contribFileDSN(t)
	cfg := sessions.DefaultConfig()
	cfg.DSN = dsn
	cfg.CookieName = contribName
	m, err := sessions.NewManager(cfg) // JSONCodec
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	store := contribDSNStore(dsn)(t).(*contrib.Store) // GobCodec

	r := gin.New()
	r.GET("/native", m.Handler(), func(c *gin.Context) { sessions.Set(c, "j", "json"); c.Status(204) })
	req := contribRequest("")
	req.URL.Path = "/native"
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	ck := contribCookie(t, rec, contribName)
	require.NotNil(t, ck)

	req = contribRequest(ck.Value)
	s, err := store.New(req, contribName)
	require.NoError(t, err)
	assert.Equal(t, ck.Value, s.ID)
	assert.Empty(t, s.Values, "the JSON value does not decode as gob: it is left out")
	s.Values["g"] = 1
	require.NoError(t, store.Save(req, httptest.NewRecorder(), s))

	snap, err := m.Snapshot(context.Background(), ck.Value)
	require.NoError(t, err)
	require.NotNil(t, snap)
	assert.Equal(t, []string{"g", "j"}, snap.Keys())
	v, ok := sessions.SnapshotValue[string](snap, "j")
	assert.True(t, ok)
	assert.Equal(t, "json", v, "the adapter's save kept the value it could not read")
}
