package sessions

import (
	"context"
	"encoding/gob"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	ginsessions "github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type gobUser struct {
	Name  string
	Roles []string
	Since time.Time
	Prefs map[string]int
}

type gobPtrOnly struct{ N int }

func init() {
	gob.Register(gobUser{})
	gob.Register(&gobPtrOnly{})
	gob.Register(time.Time{})
}

func gobRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := GobCodec{}.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, GobCodec{}.Unmarshal(b, &out))
	return out
}

func TestGobCodecKeepsTypes(t *testing.T) {
	since := time.Date(2024, 3, 1, 12, 0, 0, 5, time.UTC)
	u := gobUser{Name: "Ada", Roles: []string{"admin"}, Since: since, Prefs: map[string]int{"a": 1}}
	for _, v := range []any{
		42, int8(-3), uint64(1 << 63), 1.5, float32(2.5), complex(1, 2), true, "héllo\x00", []byte{0, 255},
		[]string{"a"}, []int{1, 2}, since, u, []any{"x", 1, u},
	} {
		assert.Equal(t, v, gobRoundTrip(t, v), "%T", v)
	}
	// Zero values keep their type too.
	assert.Equal(t, 0, gobRoundTrip(t, 0))
	assert.Equal(t, "", gobRoundTrip(t, ""))
	assert.Equal(t, gobUser{}, gobRoundTrip(t, gobUser{}))
	assert.Nil(t, gobRoundTrip(t, nil))

	// Pointers come back as the registered type.
	assert.Equal(t, &gobPtrOnly{N: 3}, gobRoundTrip(t, &gobPtrOnly{N: 3}))
	assert.Equal(t, u, gobRoundTrip(t, &u), "a *T of a type registered as T comes back as a T (gob flattens pointers)")
}

func TestGobCodecTypedUnmarshal(t *testing.T) {
	c := GobCodec{}
	b, err := c.Marshal(42)
	require.NoError(t, err)
	var n int
	require.NoError(t, c.Unmarshal(b, &n))
	assert.Equal(t, 42, n)
	var n64 int64
	err = c.Unmarshal(b, &n64)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stored value is a int, not assignable to int64")
	var s string
	assert.Error(t, c.Unmarshal(b, &s))

	b, err = c.Marshal(gobUser{Name: "Ada"})
	require.NoError(t, err)
	var u gobUser
	require.NoError(t, c.Unmarshal(b, &u))
	assert.Equal(t, "Ada", u.Name)

	b, err = c.Marshal(nil)
	require.NoError(t, err)
	var p *gobUser = &gobUser{}
	require.NoError(t, c.Unmarshal(b, &p))
	assert.Nil(t, p)
	assert.Error(t, c.Unmarshal(b, &n), "nil does not fit an int")

	assert.Error(t, c.Unmarshal(b, n), "not a pointer")
	assert.Error(t, c.Unmarshal(b, (*int)(nil)), "a nil pointer")
}

func TestGobCodecErrors(t *testing.T) {
	type unregistered struct{ A int }
	_, err := GobCodec{}.Marshal(unregistered{1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not registered")
	_, err = GobCodec{}.Marshal(map[string]func(){"f": nil})
	assert.Error(t, err)

	good, err := GobCodec{}.Marshal(gobUser{Name: "Ada", Roles: []string{"a", "b"}})
	require.NoError(t, err)
	var v any
	for i := 0; i < len(good); i++ {
		assert.NotPanics(t, func() { _ = GobCodec{}.Unmarshal(good[:i], &v) })
		assert.Error(t, GobCodec{}.Unmarshal(good[:i], &v), "truncated at %d", i)
	}
	for _, junk := range [][]byte{nil, {0}, []byte("not gob"), []byte(`"json"`), {0xff, 0xff, 0xff, 0xff}} {
		assert.NotPanics(t, func() { _ = GobCodec{}.Unmarshal(junk, &v) })
		assert.Error(t, GobCodec{}.Unmarshal(junk, &v), "%q", junk)
	}
}

func FuzzGobCodecUnmarshal(f *testing.F) {
	for _, v := range []any{42, "s", []any{"x", 1}, gobUser{Name: "A", Prefs: map[string]int{"a": 1}}} {
		b, _ := GobCodec{}.Marshal(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		_ = GobCodec{}.Unmarshal(data, &v)
		var u gobUser
		_ = GobCodec{}.Unmarshal(data, &u)
	})
}

// TestGobCodecNativeAPI: Get[T] with GobCodec on the native middleware.
func TestGobCodecNativeAPI(t *testing.T) {
	gin.SetMode(gin.TestMode)
	cfg := DefaultConfig()
	cfg.Codec = GobCodec{}
	m, err := NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	r := gin.New()
	r.Use(m.Handler())
	r.GET("/w", func(c *gin.Context) {
		Set(c, "n", 42)
		Set(c, "u", gobUser{Name: "Ada"})
		c.Status(204)
	})
	var n int
	var nOK, n64OK, anyOK, uOK bool
	var anyV any
	var u gobUser
	r.GET("/r", func(c *gin.Context) {
		n, nOK = Get[int](c, "n")
		_, n64OK = Get[int64](c, "n")
		anyV, anyOK = Get[any](c, "n")
		u, uOK = Get[gobUser](c, "u")
		c.Status(204)
	})
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/w", nil))
	ck := rec.Result().Cookies()
	require.Len(t, ck, 1)
	req := httptest.NewRequest("GET", "/r", nil)
	req.AddCookie(ck[0])
	r.ServeHTTP(httptest.NewRecorder(), req)
	assert.True(t, nOK)
	assert.Equal(t, 42, n)
	assert.False(t, n64OK, "a stored int does not read as int64")
	assert.True(t, anyOK)
	assert.Equal(t, 42, anyV)
	assert.True(t, uOK)
	assert.Equal(t, "Ada", u.Name)
}

// TestContribRecordsMatchNative: the same values written through the
// adapter and through the native middleware give the same record values,
// byte for byte, in the core's envelope.
func TestContribRecordsMatchNative(t *testing.T) {
	gin.SetMode(gin.TestMode)
	cfg := DefaultConfig()
	cfg.Codec = GobCodec{}
	cfg.CookieName = "s"
	m, err := NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	store := NewContribStoreFromManager(m)
	vals := map[string]any{"n": 42, "s": "x", "u": gobUser{Name: "Ada", Roles: []string{"a"}}, FlashKey: []any{"hi"}}

	r := gin.New()
	r.GET("/native", m.Handler(), func(c *gin.Context) {
		for k, v := range vals {
			if k != FlashKey {
				Set(c, k, v)
			}
		}
		AddFlash(c, "hi")
		c.Status(204)
	})
	r.GET("/contrib", ginsessions.Sessions("s", store), func(c *gin.Context) {
		s := ginsessions.Default(c)
		for k, v := range vals {
			if k != FlashKey {
				s.Set(k, v)
			}
		}
		s.AddFlash("hi")
		require.NoError(t, s.Save())
		c.Status(204)
	})
	record := func(path string) record {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		ck := rec.Result().Cookies()
		require.Len(t, ck, 1, path)
		raw, _, _, err := m.driver.Load(context.Background(), storeKey(ck[0].Value))
		require.NoError(t, err)
		r, err := decodeRecord(raw)
		require.NoError(t, err)
		return r
	}
	native, contrib := record("/native"), record("/contrib")
	assert.Equal(t, native.values, contrib.values)
	assert.Len(t, contrib.values, len(vals))
}

// TestContribStatesAreCollected: the adapter's per-session state goes away
// with its *Session; nothing accumulates across requests.
func TestContribStatesAreCollected(t *testing.T) {
	store, err := NewContribStoreWith(DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	count := func() int {
		n := 0
		store.states.Range(func(_, _ any) bool { n++; return true })
		return n
	}
	func() {
		for i := 0; i < 1000; i++ {
			req := httptest.NewRequest("GET", "/", nil)
			s, err := store.Get(req, "s")
			require.NoError(t, err)
			s.Values["i"] = i
			require.NoError(t, store.Save(req, httptest.NewRecorder(), s))
		}
	}()
	require.Positive(t, count())
	deadline := time.Now().Add(10 * time.Second)
	for count() > 10 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, count(), 10, "states of collected sessions are removed")
}
