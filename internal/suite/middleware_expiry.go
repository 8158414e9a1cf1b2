package suite

// The middleware suite's tests of expiry: sliding touches, when the
// cookie is re-sent, idle and absolute lifetimes.

import (
	"context"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// middlewareSlidingExpiryTouch (Middleware/SlidingExpiryTouch): a read
// past the touch interval extends the store's deadline and the cookie
// once, keeping the data.
func middlewareSlidingExpiryTouch(t *testing.T, open Opener) {
	e := NewEnv(t, open, func(c *sessions.Config) {
		c.Lifetime = time.Hour
		c.TouchInterval = 200 * time.Millisecond
	})
	e.Engine.GET("/read", func(c *gin.Context) { sessions.Get[int](c, "n"); c.Status(204) })
	id := e.NewSession("n", 1)
	writes := func() int64 { return e.Count.Saves.Load() + e.Count.Touches.Load() }
	w0 := writes()
	assert.Nil(t, e.Cookie(e.Do("GET", "/read", id)))
	assert.Equal(t, w0, writes(), "no extension within the touch interval")
	time.Sleep(1200 * time.Millisecond) // memcached counts whole seconds
	rec := e.Do("GET", "/read", id)
	assert.Equal(t, w0+1, writes(), "one extension once the deadline is stale")
	ck := e.Cookie(rec)
	require.NotNil(t, ck, "an extension re-sends the cookie with the new expiry")
	assert.Equal(t, id, ck.Value)
	assert.InDelta(t, 3600, ck.MaxAge, 3)
	_, _, exp, err := e.Raw.Load(context.Background(), core.StoreKey(id))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Hour), exp, 3*time.Second, "the store's deadline was extended")
	assert.Nil(t, e.Cookie(e.Do("GET", "/read", id)), "and not again right after")
	assert.Equal(t, w0+1, writes())
	n, ok := loadValue[int](t, e, id, "n")
	assert.True(t, ok)
	assert.Equal(t, 1, n, "an extension keeps the data")
	e.NoErrors()
}

// middlewareCookieResentOnlyWhenDue (Middleware/CookieResentOnlyWhenDue):
// a write re-sends the cookie only once the store's deadline has run a
// touch interval past it, and a save after the headers does not count as
// sent.
func middlewareCookieResentOnlyWhenDue(t *testing.T, open Opener) {
	e := NewEnv(t, open, func(c *sessions.Config) {
		c.Lifetime = time.Hour
		// Long enough that a loaded machine (a SQL store under -race
		// on 2 cores) still makes the first write within it.
		c.TouchInterval = time.Second
	})
	e.Engine.GET("/inc", func(c *gin.Context) {
		sessions.Set(c, "n", sessions.GetOr(c, "n", 0)+1)
		c.Status(204)
	})
	e.Engine.GET("/late", func(c *gin.Context) {
		c.String(200, "sent")
		sessions.Set(c, "n", sessions.GetOr(c, "n", 0)+1) // after the headers
	})
	id := e.NewSession("n", 0)
	rec := e.Do("GET", "/inc", id)
	assert.Nil(t, e.Cookie(rec), "a write within the touch interval of the cookie's expiry sends no Set-Cookie")
	n, _ := loadValue[int](t, e, id, "n")
	assert.Equal(t, 1, n, "and still saves")
	time.Sleep(2200 * time.Millisecond) // past the interval; memcached counts whole seconds
	ck := e.Cookie(e.Do("GET", "/inc", id))
	require.NotNil(t, ck, "once the store's deadline runs more than the touch interval past the cookie's, a write re-sends it")
	assert.Equal(t, id, ck.Value)
	assert.InDelta(t, 3600, ck.MaxAge, 3)
	assert.Nil(t, e.Cookie(e.Do("GET", "/inc", id)), "and not again right after")

	// A save after the headers went out cannot deliver a cookie: it
	// must not count as sent, so the next write sends it.
	time.Sleep(2200 * time.Millisecond)
	rec = e.Do("GET", "/late", id)
	assert.Equal(t, "sent", rec.Body.String())
	require.NotNil(t, e.Cookie(e.Do("GET", "/inc", id)), "the cookie a late save could not send is sent by the next write")
	n, _ = loadValue[int](t, e, id, "n")
	assert.Equal(t, 5, n)
	e.NoErrors()
}

// middlewareBrowserSessionCookieSentOnce
// (Middleware/BrowserSessionCookieSentOnce): a browser-session cookie (no
// Max-Age, no Expires) is sent once and never re-sent.
func middlewareBrowserSessionCookieSentOnce(t *testing.T, open Opener) {
	e := NewEnv(t, open, func(c *sessions.Config) { c.ExpireOnClose = true })
	e.Engine.GET("/inc", func(c *gin.Context) {
		sessions.Set(c, "n", sessions.GetOr(c, "n", 0)+1)
		c.Status(204)
	})
	rec := e.Do("GET", "/inc", "")
	ck := e.Cookie(rec)
	require.NotNil(t, ck, "a new session gets its cookie")
	assert.Zero(t, ck.MaxAge, "a browser-session cookie has no Max-Age")
	assert.True(t, ck.Expires.IsZero(), "nor Expires")
	assert.Nil(t, e.Cookie(e.Do("GET", "/inc", ck.Value)), "a cookie without expiry never needs re-sending")
	n, _ := loadValue[int](t, e, ck.Value, "n")
	assert.Equal(t, 2, n)
	e.NoErrors()
}

// middlewareIdleExpiry (Middleware/IdleExpiry): an idle session expires
// after its lifetime.
func middlewareIdleExpiry(t *testing.T, open Opener, slowExpiry time.Duration) {
	e := NewEnv(t, open, func(c *sessions.Config) { c.Lifetime = slowExpiry; c.TouchInterval = -1 })
	e.Engine.GET("/r", func(c *gin.Context) { _, ok := sessions.Get[int](c, "n"); c.String(200, "%v", ok) })
	id := e.NewSession("n", 1)
	assert.Equal(t, "true", e.Do("GET", "/r", id).Body.String())
	time.Sleep(slowExpiry + slowExpiry/2 + 100*time.Millisecond)
	assert.Equal(t, "false", e.Do("GET", "/r", id).Body.String(), "an idle session expires")
}

// middlewareAbsoluteLifetime (Middleware/AbsoluteLifetime): constant
// activity cannot extend a session past its absolute lifetime.
func middlewareAbsoluteLifetime(t *testing.T, open Opener, slowExpiry time.Duration) {
	e := NewEnv(t, open, func(c *sessions.Config) {
		c.Lifetime = time.Hour
		c.AbsoluteLifetime = slowExpiry
		c.TouchInterval = -1
	})
	e.Engine.GET("/r", func(c *gin.Context) { _, ok := sessions.Get[int](c, "n"); c.String(200, "%v", ok) })
	e.Engine.GET("/w", func(c *gin.Context) { sessions.Set(c, "t", time.Now().UnixNano()); c.Status(204) })
	id := e.NewSession("n", 1)
	deadline := time.Now().Add(slowExpiry)
	for time.Now().Before(deadline.Add(-slowExpiry / 3)) {
		assert.Equal(t, "true", e.Do("GET", "/r", id).Body.String())
		e.Do("GET", "/w", id) // constant activity
		time.Sleep(slowExpiry / 10)
	}
	time.Sleep(time.Until(deadline) + 200*time.Millisecond)
	assert.Equal(t, "false", e.Do("GET", "/r", id).Body.String(), "activity cannot extend a session past its absolute lifetime")
}
