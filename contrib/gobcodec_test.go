package contrib

import (
	"encoding/gob"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginkit/sessions"
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

// TestGobCodecNativeAPI: sessions.Get[T] with GobCodec on the native middleware.
func TestGobCodecNativeAPI(t *testing.T) {
	gin.SetMode(gin.TestMode)
	cfg := sessions.DefaultConfig()
	cfg.Codec = GobCodec{}
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	r := gin.New()
	r.Use(m.Handler())
	r.GET("/w", func(c *gin.Context) {
		sessions.Set(c, "n", 42)
		sessions.Set(c, "u", gobUser{Name: "Ada"})
		c.Status(204)
	})
	var n int
	var nOK, n64OK, anyOK, uOK bool
	var anyV any
	var u gobUser
	r.GET("/r", func(c *gin.Context) {
		n, nOK = sessions.Get[int](c, "n")
		_, n64OK = sessions.Get[int64](c, "n")
		anyV, anyOK = sessions.Get[any](c, "n")
		u, uOK = sessions.Get[gobUser](c, "u")
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
