package contrib

import (
	"context"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	ginsessions "github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContribRecordsMatchNative: the same values written through the
// adapter and through the native middleware give the same record values,
// byte for byte, in the core's envelope.
func TestContribRecordsMatchNative(t *testing.T) {
	gin.SetMode(gin.TestMode)
	cfg := sessions.DefaultConfig()
	cfg.Codec = GobCodec{}
	cfg.CookieName = "s"
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	store := NewStoreFromManager(m)
	vals := map[string]any{"n": 42, "s": "x", "u": gobUser{Name: "Ada", Roles: []string{"a"}}, sessions.FlashKey: []any{"hi"}}

	r := gin.New()
	r.GET("/native", m.Handler(), func(c *gin.Context) {
		for k, v := range vals {
			if k != sessions.FlashKey {
				sessions.Set(c, k, v)
			}
		}
		sessions.AddFlash(c, "hi")
		c.Status(204)
	})
	r.GET("/contrib", ginsessions.Sessions("s", store), func(c *gin.Context) {
		s := ginsessions.Default(c)
		for k, v := range vals {
			if k != sessions.FlashKey {
				s.Set(k, v)
			}
		}
		s.AddFlash("hi")
		require.NoError(t, s.Save())
		c.Status(204)
	})
	record := func(path string) core.Record {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		ck := rec.Result().Cookies()
		require.Len(t, ck, 1, path)
		raw, _, _, err := store.eng.Driver().Load(context.Background(), core.StoreKey(ck[0].Value))
		require.NoError(t, err)
		r, err := core.DecodeRecord(raw)
		require.NoError(t, err)
		return r
	}
	native, contrib := record("/native"), record("/contrib")
	assert.Equal(t, native.Values, contrib.Values)
	assert.Len(t, contrib.Values, len(vals))
}

// TestContribStatesAreCollected: the adapter's per-session state goes away
// with its *Session; nothing accumulates across requests.
func TestContribStatesAreCollected(t *testing.T) {
	store, err := NewStoreWith(sessions.DefaultConfig())
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
