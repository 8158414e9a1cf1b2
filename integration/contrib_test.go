package integration

import (
	"context"
	"encoding/gob"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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
	"github.com/ginkit/sessions/internal/testserver"
)

// The gin-contrib/sessions adapter against real Redis and memcached:
// gin-contrib's own store suite, plus the guarantees the adapter keeps
// (merge of overlapping requests, hashed keys, interop with the native
// middleware, MaxAge).

const contribSession = "mysession"

// contribBackend starts one server of a kind and returns its DSN.
type contribBackend struct {
	name  string
	start func(t *testing.T) (dsn, addr string)
}

var contribBackends = []contribBackend{
	{"redis", func(t *testing.T) (string, string) {
		addr, _ := testserver.StartRedis(t)
		return "redis://" + addr, addr
	}},
	{"memcached", func(t *testing.T) (string, string) {
		addr, _ := testserver.StartMemcached(t)
		return "memcached://" + addr, addr
	}},
}

// TestContribTesterSQL runs gin-contrib/sessions' own tester suite through
// the adapter on the SQL drivers.
func TestContribTesterSQL(t *testing.T) {
	for _, b := range sqlBackends() {
		t.Run(b.name, func(t *testing.T) {
			dsn, _ := b.start(t)
			newStore := func(t *testing.T) ginsessions.Store { return contribStore(t, dsn) }
			t.Run("GetSet", func(t *testing.T) { tester.GetSet(t, newStore) })
			t.Run("DeleteKey", func(t *testing.T) { tester.DeleteKey(t, newStore) })
			t.Run("Flashes", func(t *testing.T) { tester.Flashes(t, newStore) })
			t.Run("Clear", func(t *testing.T) { tester.Clear(t, newStore) })
			t.Run("Options", func(t *testing.T) { tester.Options(t, newStore) })
			t.Run("Many", func(t *testing.T) { tester.Many(t, newStore) })
		})
	}
}

// contribStore opens an adapter store for dsn, closed when t ends.
func contribStore(t *testing.T, dsn string) *contrib.Store {
	t.Helper()
	store, err := contrib.NewStore(dsn)
	require.NoError(t, err)
	cs := store.(*contrib.Store)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func contribReq(path, id string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if id != "" {
		req.AddCookie(&http.Cookie{Name: contribSession, Value: id})
	}
	return req
}

func contribCookieOf(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == contribSession {
			require.Nil(t, found, "the session cookie is set twice")
			found = c
		}
	}
	return found
}

func contribLoadValues(t *testing.T, store *contrib.Store, id string) map[interface{}]interface{} {
	t.Helper()
	s, err := store.New(contribReq("/", id), contribSession)
	require.NoError(t, err)
	require.Equal(t, id, s.ID, "the session exists")
	return s.Values
}

type contribItem struct {
	SKU string
	Qty int
}

func init() { gob.Register(contribItem{}) }

func TestContribStoreSuite(t *testing.T) {
	for _, b := range contribBackends {
		t.Run(b.name, func(t *testing.T) {
			dsn, addr := b.start(t)
			newStore := func(t *testing.T) ginsessions.Store { return contribStore(t, dsn) }

			t.Run("Tester", func(t *testing.T) {
				t.Run("GetSet", func(t *testing.T) { tester.GetSet(t, newStore) })
				t.Run("DeleteKey", func(t *testing.T) { tester.DeleteKey(t, newStore) })
				t.Run("Flashes", func(t *testing.T) { tester.Flashes(t, newStore) })
				t.Run("Clear", func(t *testing.T) { tester.Clear(t, newStore) })
				t.Run("Options", func(t *testing.T) { tester.Options(t, newStore) })
				t.Run("Many", func(t *testing.T) { tester.Many(t, newStore) })
			})

			t.Run("OverlappingRequestsKeepDistinctKeys", func(t *testing.T) {
				store := contribStore(t, dsn)
				r := gin.New()
				r.Use(ginsessions.Sessions(contribSession, store))
				r.GET("/set/:k", func(c *gin.Context) {
					s := ginsessions.Default(c)
					s.Set(c.Param("k"), c.Param("k"))
					if err := s.Save(); err != nil {
						c.String(500, err.Error())
						return
					}
					c.Status(204)
				})
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, contribReq("/set/base", ""))
				ck := contribCookieOf(t, rec)
				require.NotNil(t, ck)

				// Two requests that loaded the same state save in turn.
				sA, err := store.New(contribReq("/", ck.Value), contribSession)
				require.NoError(t, err)
				sB, err := store.New(contribReq("/", ck.Value), contribSession)
				require.NoError(t, err)
				sA.Values["a"] = contribItem{"A", 1}
				delete(sB.Values, "base")
				sB.Values["b"] = contribItem{"B", 2}
				require.NoError(t, store.Save(contribReq("/", ck.Value), httptest.NewRecorder(), sB))
				require.NoError(t, store.Save(contribReq("/", ck.Value), httptest.NewRecorder(), sA))
				assert.Equal(t, map[interface{}]interface{}{"a": contribItem{"A", 1}, "b": contribItem{"B", 2}},
					contribLoadValues(t, store, ck.Value))
			})

			t.Run("HashedKeysAndMaxAge", func(t *testing.T) {
				store := contribStore(t, dsn)
				d := core.EngineOf(store.Manager()).Driver()
				ctx := context.Background()
				r := gin.New()
				r.Use(ginsessions.Sessions(contribSession, store))
				r.GET("/set", func(c *gin.Context) {
					s := ginsessions.Default(c)
					s.Options(ginsessions.Options{Path: "/", MaxAge: 3600, HttpOnly: true})
					s.Set("cart", []string{"x"})
					require.NoError(t, s.Save())
					c.Status(204)
				})
				r.GET("/logout", func(c *gin.Context) {
					s := ginsessions.Default(c)
					s.Options(ginsessions.Options{Path: "/", MaxAge: -1})
					require.NoError(t, s.Save())
					c.Status(204)
				})
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, contribReq("/set", ""))
				ck := contribCookieOf(t, rec)
				require.NotNil(t, ck)
				assert.Equal(t, 3600, ck.MaxAge)
				id := ck.Value

				raw, _, exp, err := d.Load(ctx, core.StoreKey(id))
				require.NoError(t, err)
				require.NotNil(t, raw, "stored under KeyOf(ID)")
				assert.WithinDuration(t, time.Now().Add(time.Hour), exp, 10*time.Second, "MaxAge sets the store's TTL")
				raw, _, _, err = d.Load(ctx, id)
				require.NoError(t, err)
				assert.Nil(t, raw, "nothing under the raw ID")
				if b.name == "redis" {
					keys, err := testserver.RedisCommand(addr, "KEYS", "*")
					require.NoError(t, err)
					assert.NotContains(t, keys, id, "no Redis key holds the raw ID")
					assert.Contains(t, keys, core.StoreKey(id))
				}

				rec = httptest.NewRecorder()
				r.ServeHTTP(rec, contribReq("/logout", id))
				gone := contribCookieOf(t, rec)
				require.NotNil(t, gone)
				assert.Negative(t, gone.MaxAge)
				raw, _, _, err = d.Load(ctx, core.StoreKey(id))
				require.NoError(t, err)
				assert.Nil(t, raw, "MaxAge<0 deletes the record")
			})

			t.Run("InteropWithNative", func(t *testing.T) {
				// Two processes' worth of objects on one backend: an
				// adapter store and a native Manager, both with GobCodec.
				store := contribStore(t, dsn)
				cfg := sessions.DefaultConfig()
				cfg.DSN = dsn
				cfg.CookieName = contribSession
				cfg.Codec = contrib.GobCodec{}
				m, err := sessions.NewManager(cfg)
				require.NoError(t, err)
				t.Cleanup(func() { _ = m.Close() })

				r := gin.New()
				r.GET("/contrib/write", ginsessions.Sessions(contribSession, store), func(c *gin.Context) {
					s := ginsessions.Default(c)
					s.Set("item", contribItem{"sku-1", 3})
					s.AddFlash("added")
					require.NoError(t, s.Save())
					c.Status(204)
				})
				r.GET("/contrib/read", ginsessions.Sessions(contribSession, store), func(c *gin.Context) {
					s := ginsessions.Default(c)
					out := fmt.Sprintf("%#v|%#v|%#v", s.Get("item"), s.Get("by"), s.Flashes())
					require.NoError(t, s.Save())
					c.String(200, out)
				})
				r.GET("/native/rw", m.Handler(), func(c *gin.Context) {
					item, ok := sessions.Get[contribItem](c, "item")
					flashes := sessions.Flashes(c)
					sessions.Set(c, "by", "native")
					sessions.AddFlash(c, "from native")
					c.String(200, "%v|%#v|%#v", ok, item, flashes)
				})
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, contribReq("/contrib/write", ""))
				ck := contribCookieOf(t, rec)
				require.NotNil(t, ck)

				rec = httptest.NewRecorder()
				r.ServeHTTP(rec, contribReq("/native/rw", ck.Value))
				assert.Equal(t, `true|integration.contribItem{SKU:"sku-1", Qty:3}|[]interface {}{"added"}`, rec.Body.String())

				rec = httptest.NewRecorder()
				r.ServeHTTP(rec, contribReq("/contrib/read", ck.Value))
				assert.Equal(t, `integration.contribItem{SKU:"sku-1", Qty:3}|"native"|[]interface {}{"from native"}`, rec.Body.String())
			})

			t.Run("StrictIDs", func(t *testing.T) {
				store := contribStore(t, dsn)
				unknown := strings.Repeat("A", 42) + "E"
				s, err := store.New(contribReq("/", unknown), contribSession)
				require.NoError(t, err)
				assert.True(t, s.IsNew)
				assert.Empty(t, s.ID)
				s.Values["k"] = "v"
				rec := httptest.NewRecorder()
				require.NoError(t, store.Save(contribReq("/", unknown), rec, s))
				ck := contribCookieOf(t, rec)
				require.NotNil(t, ck)
				assert.NotEqual(t, unknown, ck.Value, "an unknown ID is never adopted")
				raw, _, _, err := core.EngineOf(store.Manager()).Driver().Load(context.Background(), core.StoreKey(unknown))
				require.NoError(t, err)
				assert.Nil(t, raw)
			})
		})
	}
}
