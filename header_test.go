package sessions_test

import (
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// The header transport (Config.Header). Its full life on every driver is
// in internal/suite (HeaderClient, run on every built-in driver by
// TestDrivers and by each driver's tests); here: its configuration, and the corners that do not
// depend on the backend.

func TestHeaderFromEnv(t *testing.T) {
	clearSessionEnv(t)
	t.Setenv(sessions.EnvHeader, "x-auth-token")
	cfg, err := sessions.ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "x-auth-token", cfg.Header)

	for _, bad := range []string{"Set-Cookie", "cookie", "X Auth", "X-Auth:", "Tökén", "Host", "content-length", "Transfer-Encoding"} {
		t.Setenv(sessions.EnvHeader, bad)
		_, err := sessions.ConfigFromEnv()
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "sessions: SESSION_HEADER="+strconv.Quote(bad)+": ", "the error names the variable and quotes the value")

		c := sessions.DefaultConfig()
		c.Header = bad
		_, err = sessions.NewManager(c)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "SESSION_HEADER", "a Config built in code names the variable too")
		assert.Contains(t, err.Error(), strconv.Quote(bad))
	}
}

func newHeaderRouter(t *testing.T, header string) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	cfg := sessions.DefaultConfig()
	cfg.Header = header
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	r := gin.New()
	r.Use(m.Handler())
	return r
}

func TestHeaderDestroyThenWrite(t *testing.T) {
	r := newHeaderRouter(t, "X-Auth-Token")
	r.GET("/new", func(c *gin.Context) { sessions.Set(c, "user", "ada"); c.Status(204) })
	r.GET("/bye", func(c *gin.Context) {
		require.NoError(t, sessions.Destroy(c))
		sessions.Set(c, "flash", "logged out")
		c.Status(204)
	})
	r.GET("/user", func(c *gin.Context) { c.String(200, sessions.GetOr(c, "user", "-")+sessions.GetOr(c, "flash", "")) })
	serve := func(path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if token != "" {
			req.Header.Set("X-Auth-Token", token)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	tok := serve("/new", "").Header().Get("X-Auth-Token")
	require.NotEmpty(t, tok)
	rec := serve("/bye", tok)
	next := rec.Header().Values("X-Auth-Token")
	require.Len(t, next, 1, "one token header, the new session's")
	assert.NotEqual(t, tok, next[0])
	assert.NotEmpty(t, next[0], "a write after Destroy starts a new session, whose token the client gets")
	assert.Equal(t, "-logged out", serve("/user", next[0]).Body.String(), "the new session does not inherit the destroyed data")
	assert.Equal(t, "-", serve("/user", tok).Body.String())
}

// RememberMe has nothing to change on the wire for a header client: the
// client keeps its token as long as it likes, the server enforces the
// lifetime. The choice is still stored, and the token not re-sent.
func TestHeaderRememberMe(t *testing.T) {
	r := newHeaderRouter(t, "Authorization")
	r.GET("/new", func(c *gin.Context) { sessions.Set(c, "a", 1); c.Status(204) })
	r.GET("/remember", func(c *gin.Context) { sessions.RememberMe(c, true); c.Status(204) })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/new", nil))
	auth := rec.Header().Get("Authorization")
	require.Regexp(t, `^Bearer [A-Za-z0-9_-]{43}$`, auth)
	req := httptest.NewRequest("GET", "/remember", nil)
	req.Header.Set("Authorization", auth)
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	assert.Equal(t, 204, rec.Code)
	assert.Empty(t, rec.Header().Values("Authorization"), "the token did not change, so it is not sent")
	assert.Empty(t, rec.Header().Values("Set-Cookie"))
}
