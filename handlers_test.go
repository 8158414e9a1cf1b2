package sessions_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/memory"
)

// handlerApp is a Manager over its own memory driver (returned, so a test
// can stop it) and an engine behind its middleware.
func handlerApp(t *testing.T, mutate func(*sessions.Config)) (*sessions.Manager, *gin.Engine, *memory.Driver) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	mem := memory.New(memory.Options{})
	t.Cleanup(func() { _ = mem.Close(context.Background()) })
	cfg := sessions.DefaultConfig()
	cfg.Driver = mem
	cfg.ErrorHandler = func(*gin.Context, error) {}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	r := gin.New()
	r.Use(m.Handler())
	return m, r, mem
}

// TestUpdate: Update stores fn's result, persists it before returning and
// returns it; fn sees the request's own earlier change; a new visitor
// gets a session and its cookie.
func TestUpdate(t *testing.T) {
	m, r, _ := handlerApp(t, nil)
	r.POST("/incr", func(c *gin.Context) {
		n, err := sessions.Update(c, "n", func(cur int, ok bool) int { return cur + 1 })
		if err != nil {
			c.String(500, err.Error())
			return
		}
		// Persisted before Update returned: a Snapshot taken now sees it.
		snap, err := m.Snapshot(c.Request.Context(), sessions.ID(c))
		if err != nil || snap == nil {
			c.String(500, "not persisted")
			return
		}
		stored, _ := sessions.SnapshotValue[int](snap, "n")
		c.String(200, "%d %d", n, stored)
	})
	r.POST("/set-then-incr", func(c *gin.Context) {
		sessions.Set(c, "n", 10)
		n, err := sessions.Update(c, "n", func(cur int, ok bool) int { return cur + 1 })
		require.NoError(t, err)
		c.String(200, "%d", n)
	})
	first := do(r, "POST", "/incr", nil)
	assert.Equal(t, "1 1", body(first), "a new visitor's counter starts at the zero value, and is stored")
	require.Len(t, first.Cookies(), 1, "a new visitor gets the cookie")
	assert.Equal(t, "2 2", body(do(r, "POST", "/incr", first)))
	assert.Equal(t, "11", body(do(r, "POST", "/set-then-incr", first)), "fn sees the request's own earlier Set")
}

// TestUpdateErrors: a stored value that is not a T, and a store that
// fails, are errors, and nothing is stored or claimed.
func TestUpdateErrors(t *testing.T) {
	_, r, mem := handlerApp(t, nil)
	r.POST("/set", func(c *gin.Context) { sessions.Set(c, "n", "not a number"); c.Status(204) })
	r.POST("/incr", func(c *gin.Context) {
		_, err := sessions.Update(c, "n", func(cur int, ok bool) int { return cur + 1 })
		c.String(200, "%v", err)
	})
	r.GET("/get", func(c *gin.Context) { v, _ := sessions.Get[string](c, "n"); c.String(200, v) })
	set := do(r, "POST", "/set", nil)
	resp := do(r, "POST", "/incr", set)
	assert.Contains(t, body(resp), "sessions: save: update \"n\": the stored value is not a int")
	assert.Equal(t, "not a number", body(do(r, "GET", "/get", set)), "nothing was stored, not even at the end of the request")

	require.NoError(t, mem.Close(context.Background()))
	resp = do(r, "POST", "/incr", set)
	assert.Contains(t, body(resp), "memory: driver closed", "a store failure is an error")
}

// TestUpdateWithoutMiddleware: Update on a route without the middleware
// is ErrNoMiddleware, not a panic.
func TestUpdateWithoutMiddleware(t *testing.T) {
	gin.SetMode(gin.TestMode)
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	_, err := sessions.Update(c, "n", func(cur int, ok bool) int { return cur + 1 })
	assert.True(t, errors.Is(err, sessions.ErrNoMiddleware))
}

// TestRememberMe: the choice per session overrides ExpireOnClose, is sent
// with the response that makes it, and holds for later responses that
// send the cookie, across Refresh.
func TestRememberMe(t *testing.T) {
	for _, expireOnClose := range []bool{false, true} {
		_, r, _ := handlerApp(t, func(c *sessions.Config) { c.ExpireOnClose = expireOnClose; c.TouchInterval = -1 })
		r.POST("/login", func(c *gin.Context) {
			require.NoError(t, sessions.Refresh(c))
			sessions.Set(c, "user", "ada")
			sessions.RememberMe(c, c.Query("remember") == "on")
			c.Status(204)
		})
		r.POST("/refresh", func(c *gin.Context) { require.NoError(t, sessions.Refresh(c)); c.Status(204) })
		r.GET("/read", func(c *gin.Context) { sessions.GetOr(c, "user", ""); c.Status(204) })
		for _, remember := range []bool{true, false} {
			path := "/login"
			if remember {
				path += "?remember=on"
			}
			login := do(r, "POST", path, nil)
			persistent := func(resp *http.Response, what string) {
				t.Helper()
				cs := resp.Cookies()
				require.Len(t, cs, 1, what)
				assert.Equal(t, remember, cs[0].MaxAge > 0 && !cs[0].Expires.IsZero(),
					"ExpireOnClose=%v remember=%v: %s: %q", expireOnClose, remember, what, resp.Header.Get("Set-Cookie"))
				if !remember {
					assert.NotContains(t, resp.Header.Get("Set-Cookie"), "Max-Age", what)
					assert.NotContains(t, resp.Header.Get("Set-Cookie"), "Expires", what)
				}
			}
			persistent(login, "the login response")
			refreshed := do(r, "POST", "/refresh", login)
			persistent(refreshed, "after Refresh")
			persistent(do(r, "GET", "/read", refreshed), "an extension (TouchInterval<0 extends on every read)")
		}
	}
}

// TestRememberMeSwitches: switching the choice on an existing session
// re-sends the cookie at once in the new form.
func TestRememberMeSwitches(t *testing.T) {
	_, r, _ := handlerApp(t, nil)
	r.POST("/start", func(c *gin.Context) { sessions.Set(c, "a", 1); c.Status(204) })
	r.POST("/remember/:on", func(c *gin.Context) { sessions.RememberMe(c, c.Param("on") == "yes"); c.Status(204) })
	start := do(r, "POST", "/start", nil)
	require.Greater(t, start.Cookies()[0].MaxAge, 0)
	off := do(r, "POST", "/remember/no", start)
	require.Len(t, off.Cookies(), 1, "the switch re-sends the cookie")
	assert.NotContains(t, off.Header.Get("Set-Cookie"), "Max-Age")
	on := do(r, "POST", "/remember/yes", start)
	require.Len(t, on.Cookies(), 1)
	assert.Greater(t, on.Cookies()[0].MaxAge, 0)
	assert.Empty(t, do(r, "POST", "/remember/yes", start).Cookies(), "no change, no cookie")
}

// TestPartitionedCookie: with Partitioned (and Secure) every session
// cookie carries the attribute, the logout's included.
func TestPartitionedCookie(t *testing.T) {
	_, r, _ := handlerApp(t, func(c *sessions.Config) { c.Partitioned = true; c.Secure = true; c.SameSite = http.SameSiteNoneMode })
	r.POST("/in", func(c *gin.Context) { sessions.Set(c, "a", 1); c.Status(204) })
	r.POST("/out", func(c *gin.Context) { require.NoError(t, sessions.Destroy(c)); c.Status(204) })
	in := do(r, "POST", "/in", nil)
	for _, resp := range []*http.Response{in, do(r, "POST", "/out", in)} {
		h := resp.Header.Get("Set-Cookie")
		assert.True(t, strings.HasSuffix(h, "; Secure; SameSite=None; Partitioned"), h)
	}
}
