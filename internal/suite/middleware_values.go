package suite

// The middleware suite's tests of the handler's API: typed values, Put,
// Pop, Delete, Clear, Refresh and Destroy.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// middlewareTypedRoundTrip (Middleware/TypedRoundTrip): values of many
// types come back as stored, and Get of the wrong type reports false.
func middlewareTypedRoundTrip(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	since := time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.UTC)
	p := profile{Name: "Ada Lovelace", Roles: []string{"admin", "editor"}, Since: since, Score: 9.5}
	e.Engine.GET("/w", func(c *gin.Context) {
		sessions.Set(c, "n", 42)
		sessions.Set(c, "s", "héllo\x00")
		sessions.Set(c, "p", p)
		sessions.Set(c, "sl", []int{1, 2, 3})
		sessions.Set(c, "m", map[string]int{"x": 1})
		sessions.Set(c, "t", since)
		sessions.Set(c, "b", true)
		sessions.Set(c, "ptr", &p)
		c.Status(204)
	})
	e.Engine.GET("/r", func(c *gin.Context) {
		n, ok := sessions.Get[int](c, "n")
		assert.True(t, ok)
		assert.Equal(t, 42, n)
		_, ok = sessions.Get[string](c, "n")
		assert.False(t, ok, "Get[string] of a stored int reports false")
		_, ok = sessions.Get[[]int](c, "p")
		assert.False(t, ok, "Get[[]int] of a stored struct reports false")
		s, ok := sessions.Get[string](c, "s")
		assert.True(t, ok)
		assert.Equal(t, "héllo\x00", s)
		gp, ok := sessions.Get[profile](c, "p")
		assert.True(t, ok)
		assert.Equal(t, p.Name, gp.Name)
		assert.Equal(t, p.Roles, gp.Roles)
		assert.True(t, p.Since.Equal(gp.Since))
		sl, _ := sessions.Get[[]int](c, "sl")
		assert.Equal(t, []int{1, 2, 3}, sl)
		m, _ := sessions.Get[map[string]int](c, "m")
		assert.Equal(t, map[string]int{"x": 1}, m)
		tm, ok := sessions.Get[time.Time](c, "t")
		assert.True(t, ok)
		assert.True(t, since.Equal(tm))
		b, _ := sessions.Get[bool](c, "b")
		assert.True(t, b)
		pp, ok := sessions.Get[*profile](c, "ptr")
		assert.True(t, ok)
		assert.Equal(t, "Ada Lovelace", pp.Name)
		_, ok = sessions.Get[int](c, "missing")
		assert.False(t, ok)
		assert.Equal(t, 7, sessions.GetOr(c, "missing", 7))
		assert.Equal(t, 42, sessions.GetOr(c, "n", 7))
		assert.True(t, sessions.Has(c, "n"))
		assert.False(t, sessions.Has(c, "missing"))
		assert.Equal(t, []string{"b", "m", "n", "p", "ptr", "s", "sl", "t"}, sessions.Keys(c))
		c.Status(204)
	})
	id := e.Cookie(e.Do("GET", "/w", "")).Value
	rec := e.Do("GET", "/r", id)
	assert.Equal(t, 204, rec.Code)
	e.NoErrors()
}

// middlewarePutPopDeleteClear (Middleware/PutPopDeleteClear): Put saves
// at once, Pop and Delete remove values, Clear empties the session.
func middlewarePutPopDeleteClear(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	e.Engine.GET("/put", func(c *gin.Context) {
		require.NoError(t, sessions.Put(c, "now", "here"))
		id := sessions.ID(c)
		v, ok := loadValue[string](t, e, id, "now")
		assert.True(t, ok, "Put saved before the handler went on")
		assert.Equal(t, "here", v)
		sessions.Set(c, "later", 2)
		c.Status(204)
	})
	e.Engine.GET("/pop", func(c *gin.Context) {
		_, ok := sessions.Pop[int](c, "now")
		assert.False(t, ok, "Pop of the wrong type reports false")
		v, ok := sessions.Pop[string](c, "now")
		assert.True(t, ok)
		assert.Equal(t, "here", v)
		_, ok = sessions.Pop[string](c, "now")
		assert.False(t, ok, "Pop removes the value")
		sessions.Delete(c, "later")
		assert.False(t, sessions.Has(c, "later"))
		c.Status(204)
	})
	e.Engine.GET("/clear", func(c *gin.Context) { sessions.Clear(c); c.Status(204) })
	e.Engine.GET("/keys", func(c *gin.Context) { c.String(200, strings.Join(sessions.Keys(c), ",")) })
	rec := e.Do("GET", "/put", "")
	ck := e.Cookie(rec)
	require.NotNil(t, ck)
	id := ck.Value
	assert.Equal(t, "later,now", e.Do("GET", "/keys", id).Body.String())
	e.Do("GET", "/pop", id)
	assert.Equal(t, "", e.Do("GET", "/keys", id).Body.String())
	e.NewSession("x", 1)
	id2 := e.NewSession("y", 2)
	e.Do("GET", "/clear", id2)
	assert.Equal(t, "", e.Do("GET", "/keys", id2).Body.String())
	e.NoErrors()
}

// middlewareRefreshAndDestroy (Middleware/RefreshAndDestroy): Refresh
// moves the data to a new ID and deletes the old record; Destroy expires
// the cookie and the data.
func middlewareRefreshAndDestroy(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	e.Engine.POST("/login", func(c *gin.Context) {
		if err := sessions.Refresh(c); err != nil {
			c.String(500, err.Error())
			return
		}
		sessions.Set(c, "user", "ada")
		c.String(200, sessions.ID(c))
	})
	e.Engine.POST("/logout", func(c *gin.Context) {
		if err := sessions.Destroy(c); err != nil {
			c.String(500, err.Error())
			return
		}
		c.Status(204)
	})
	e.Engine.GET("/me", func(c *gin.Context) {
		u, _ := sessions.Get[string](c, "user")
		cart, _ := sessions.Get[string](c, "cart")
		c.String(200, u+"|"+cart)
	})
	anon := e.NewSession("cart", "book")
	rec := e.Do("POST", "/login", anon)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	ck := e.Cookie(rec)
	require.NotNil(t, ck)
	newID := ck.Value
	assert.NotEqual(t, anon, newID, "Refresh issues a new ID")
	assert.Equal(t, newID, rec.Body.String())
	assert.Equal(t, "ada|book", e.Do("GET", "/me", newID).Body.String(), "the data moves to the new ID")
	assert.Equal(t, "|", e.Do("GET", "/me", anon).Body.String(), "the old ID is dead")
	old, _, _, err := e.Raw.Load(context.Background(), core.StoreKey(anon))
	require.NoError(t, err)
	assert.Nil(t, old, "the old record is deleted")

	rec = e.Do("POST", "/logout", newID)
	assert.Equal(t, 204, rec.Code)
	ck = e.Cookie(rec)
	require.NotNil(t, ck, "Destroy expires the cookie")
	assert.Less(t, ck.MaxAge, 0)
	assert.Equal(t, "|", e.Do("GET", "/me", newID).Body.String(), "the data is gone")
	e.NoErrors()
}

// middlewareDestroyThenWrite (Middleware/DestroyThenWrite): a write after
// Destroy starts a new session that inherits nothing.
func middlewareDestroyThenWrite(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	e.Engine.GET("/bye", func(c *gin.Context) {
		require.NoError(t, sessions.Destroy(c))
		sessions.Set(c, "flash", "logged out")
		c.Status(204)
	})
	id := e.NewSession("user", "ada")
	rec := e.Do("GET", "/bye", id)
	ck := e.Cookie(rec)
	require.NotNil(t, ck)
	assert.NotEqual(t, id, ck.Value, "a write after Destroy starts a new session")
	assert.Greater(t, ck.MaxAge, 0)
	_, ok := loadValue[string](t, e, ck.Value, "user")
	assert.False(t, ok, "the new session does not inherit the destroyed data")
	f, _ := loadValue[string](t, e, ck.Value, "flash")
	assert.Equal(t, "logged out", f)
}
