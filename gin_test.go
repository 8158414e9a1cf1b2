package sessions_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// BenchmarkMiddleware measures one request through the middleware on the
// memory driver, per route, in the clear and with encryption at rest, so
// the cost of SESSION_ENCRYPTION_KEYS shows beside the plain figure:
//
//	go test -run '^$' -bench Middleware -benchmem -count 6 . | benchstat -
//
// The peers (gin-contrib/sessions, scs) are measured in bench/, the load
// harness, which has them as dependencies.
func BenchmarkMiddleware(b *testing.B) {
	key := make([]byte, 32)
	for _, mode := range []struct {
		name string
		keys [][]byte
	}{{"plain", nil}, {"encrypted", [][]byte{key}}} {
		for _, route := range []string{"none", "read", "write"} {
			b.Run(mode.name+"/"+route, func(b *testing.B) {
				gin.SetMode(gin.ReleaseMode)
				cfg := sessions.DefaultConfig()
				cfg.EncryptionKeys = mode.keys
				m, err := sessions.NewManager(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				e := gin.New()
				e.Use(m.Handler())
				e.GET("/none", func(c *gin.Context) { c.String(200, "ok") })
				e.GET("/read", func(c *gin.Context) {
					n, _ := sessions.Get[int](c, "count")
					name, _ := sessions.Get[string](c, "name")
					c.String(200, "%d %s", n, name)
				})
				e.GET("/write", func(c *gin.Context) {
					n, _ := sessions.Get[int](c, "count")
					if n == 0 {
						sessions.Set(c, "user_id", 42)
						sessions.Set(c, "name", "Ada Lovelace")
						sessions.Set(c, "roles", []string{"admin", "editor", "viewer"})
						sessions.Set(c, "csrf", "0123456789abcdef0123456789abcdef")
					}
					sessions.Set(c, "count", n+1)
					c.String(200, "%d", n)
				})
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, httptest.NewRequest("GET", "/write", nil))
				cookie := rec.Result().Cookies()[0]
				req := httptest.NewRequest("GET", "/"+route, nil)
				req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					rec := httptest.NewRecorder()
					e.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("status %d", rec.Code)
					}
				}
			})
		}
	}
}

// TestFromEnvPanicsOnBadConfig: a configuration that does not validate,
// or a DSN that does not open, stops FromEnv at start-up with the
// error's text, which never holds the DSN's password.
func TestFromEnvPanicsOnBadConfig(t *testing.T) {
	t.Setenv("SESSION_LIFETIME", "soon")
	assert.PanicsWithValue(t, `sessions: SESSION_LIFETIME="soon": want a duration such as 90m or 2h, or whole minutes`, func() { sessions.FromEnv() })
	t.Setenv("SESSION_LIFETIME", "")
	t.Setenv("SESSION_DSN", "redis://u:hunter2@%zz")
	defer func() {
		r := recover()
		require.NotNil(t, r, "a DSN that does not open panics at start-up")
		assert.NotContains(t, r.(string), "hunter2")
	}()
	sessions.FromEnv()
}
