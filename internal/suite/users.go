package suite

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// Backend makes a fresh backend for one subtest and returns a function that
// opens another driver on it each time it is called, as two application
// instances sharing a store would (for memory://, the same instance).
type Backend func(t *testing.T) (open func() sessions.Driver)

// app is one application instance: an Env on its own driver with the
// login, logout and "devices" routes a real app would have.
type app struct {
	*Env
	t *testing.T
	m *sessions.Manager
	e *gin.Engine
}

func newApp(t *testing.T, d sessions.Driver, configure ...func(*sessions.Config)) *app {
	env := NewApp(t, d, configure...)
	a := &app{Env: env, t: t, m: env.M, e: env.Engine}
	a.e.POST("/login/:user", func(c *gin.Context) {
		if err := sessions.Refresh(c); err != nil {
			c.String(500, err.Error())
			return
		}
		if err := sessions.SetUser(c, c.Param("user")); err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, sessions.ID(c))
	})
	a.e.GET("/whoami", func(c *gin.Context) { c.String(200, sessions.User(c)) })
	a.e.POST("/logout", func(c *gin.Context) {
		if err := sessions.Destroy(c); err != nil {
			c.String(500, err.Error())
			return
		}
		c.Status(204)
	})
	a.e.POST("/logout-others", func(c *gin.Context) {
		n, err := sessions.RevokeOtherSessions(c)
		if err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, "%d", n)
	})
	a.e.POST("/rebind/:user", func(c *gin.Context) {
		require.NoError(t, sessions.SetUser(c, c.Param("user")))
		c.Status(204)
	})
	a.e.POST("/cart", func(c *gin.Context) { sessions.Set(c, "cart", "book"); c.Status(204) })
	a.e.POST("/refresh", func(c *gin.Context) {
		if err := sessions.Refresh(c); err != nil {
			c.String(500, err.Error())
			return
		}
		c.Status(204)
	})
	return a
}

func (a *app) do(method, path, cookie, ua string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("User-Agent", ua)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	}
	return a.Serve(req)
}

// login logs in as user from a new browser and returns its cookie.
func (a *app) login(user, ua string) string {
	a.t.Helper()
	rec := a.do("POST", "/login/"+user, "", ua)
	require.Equal(a.t, 200, rec.Code, rec.Body.String())
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == "session" {
			require.Equal(a.t, rec.Body.String(), c.Value)
			return c.Value
		}
	}
	a.t.Fatal("login set no cookie")
	return ""
}

func (a *app) whoami(cookie string) string { return a.do("GET", "/whoami", cookie, "").Body.String() }

// Users runs the per-user index suite: listing, revocation across
// instances, "log out other devices", and the index following Refresh,
// Destroy and rebinding.
func Users(t *testing.T, backend Backend) {
	ctx := context.Background()
	two := func(t *testing.T) (*app, *app) {
		open := backend(t)
		return newApp(t, open()), newApp(t, open())
	}

	t.Run("ListAndRevokeAcrossInstances", func(t *testing.T) {
		a, b := two(t)
		phone := a.login("ada", "Phone/1.0")
		laptop := b.login("ada", "Laptop/2.0")
		bob := a.login("bob", "Bob/1.0")
		infos, err := b.m.UserSessions(ctx, "ada")
		require.NoError(t, err)
		require.Len(t, infos, 2, "both of ada's sessions are listed, from either instance")
		uas := map[string]string{}
		for _, in := range infos {
			uas[in.IDHash] = in.UserAgent
			assert.NotEqual(t, phone, in.IDHash, "listings never hold a raw ID")
			assert.NotEqual(t, laptop, in.IDHash)
			assert.False(t, in.Created.IsZero())
			assert.False(t, in.LastSeen.Before(in.Created))
			assert.True(t, in.Expires.After(in.LastSeen))
			assert.Equal(t, "192.0.2.1", in.IP, "httptest's client address, as SetUser recorded it")
		}
		assert.Equal(t, "Phone/1.0", uas[core.StoreKey(phone)])
		assert.Equal(t, "Laptop/2.0", uas[core.StoreKey(laptop)])

		n, err := b.m.RevokeUser(ctx, "ada")
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		for _, inst := range []*app{a, b} {
			assert.Equal(t, "", inst.whoami(phone), "a revoked session is gone on every instance")
			assert.Equal(t, "", inst.whoami(laptop))
			assert.Equal(t, "bob", inst.whoami(bob), "other users are untouched")
		}
		infos, err = a.m.UserSessions(ctx, "ada")
		require.NoError(t, err)
		assert.Empty(t, infos)
		n, err = a.m.RevokeUser(ctx, "ada")
		require.NoError(t, err)
		assert.Equal(t, 0, n, "revoking again ends nothing")
	})

	t.Run("LogOutOtherDevices", func(t *testing.T) {
		a, b := two(t)
		keep := a.login("ada", "A")
		other1 := b.login("ada", "B")
		other2 := a.login("ada", "C")
		rec := b.do("POST", "/logout-others", keep, "A")
		require.Equal(t, 200, rec.Code, rec.Body.String())
		assert.Equal(t, "2", rec.Body.String())
		assert.Equal(t, "ada", a.whoami(keep), "the current session stays")
		assert.Equal(t, "", b.whoami(other1))
		assert.Equal(t, "", a.whoami(other2))
		infos, err := a.m.UserSessions(ctx, "ada")
		require.NoError(t, err)
		require.Len(t, infos, 1)
		assert.Equal(t, core.StoreKey(keep), infos[0].IDHash)
		rec = a.do("POST", "/logout-others", "", "X")
		assert.Equal(t, 500, rec.Code, "a session bound to nobody has no other devices")
	})

	t.Run("IndexFollowsRefreshDestroyAndRebind", func(t *testing.T) {
		a, _ := two(t)
		anon := a.do("POST", "/cart", "", "")
		var anonID string
		for _, c := range (&http.Response{Header: anon.Header()}).Cookies() {
			anonID = c.Value
		}
		require.NotEmpty(t, anonID)
		rec := a.do("POST", "/login/ada", anonID, "UA")
		require.Equal(t, 200, rec.Code)
		id := rec.Body.String()
		infos, err := a.m.UserSessions(ctx, "ada")
		require.NoError(t, err)
		require.Len(t, infos, 1)
		assert.Equal(t, core.StoreKey(id), infos[0].IDHash, "the index holds the ID Refresh issued, not the pre-login one")

		a.do("POST", "/rebind/bob", id, "UA")
		infos, _ = a.m.UserSessions(ctx, "ada")
		assert.Empty(t, infos, "binding again moves the session off the old user")
		infos, _ = a.m.UserSessions(ctx, "bob")
		assert.Len(t, infos, 1)
		n, err := a.m.RevokeUser(ctx, "ada")
		require.NoError(t, err)
		assert.Equal(t, 0, n)
		assert.Equal(t, "bob", a.whoami(id), "revoking the old user does not end a session rebound to another")

		rec = a.do("POST", "/logout", id, "UA")
		require.Equal(t, 204, rec.Code)
		infos, err = a.m.UserSessions(ctx, "bob")
		require.NoError(t, err)
		assert.Empty(t, infos, "Destroy removes the session from the index")
	})

	t.Run("InFlightRequestCannotResurrect", func(t *testing.T) {
		a, b := two(t)
		id := a.login("ada", "UA")
		loaded, release := make(chan struct{}), make(chan struct{})
		a.e.POST("/slow", func(c *gin.Context) {
			_ = sessions.User(c) // load the session
			close(loaded)
			<-release
			sessions.Set(c, "late", true)
			c.Status(204)
		})
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- a.do("POST", "/slow", id, "UA") }()
		<-loaded
		n, err := b.m.RevokeUser(ctx, "ada")
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		close(release)
		rec := <-done
		assert.Equal(t, 204, rec.Code)
		var newID string
		for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
			newID = c.Value
		}
		assert.NotEqual(t, id, newID, "the in-flight write starts a new session")
		assert.Equal(t, "", a.whoami(id), "the revoked ID stays dead")
		assert.Equal(t, "", a.whoami(newID), "and the new session is not logged in")
	})

	inFlight(t, two)
	perUserCap(t, backend)
	staleInstance(t, backend)

	t.Run("NoIndexIsAClearError", func(t *testing.T) {
		open := backend(t)
		cfg := sessions.DefaultConfig()
		cfg.Driver = struct{ sessions.Driver }{open()} // hides every optional interface
		m, err := sessions.NewManager(cfg)
		require.NoError(t, err)
		_, err = m.UserSessions(ctx, "ada")
		assert.True(t, errors.Is(err, sessions.ErrNoUserIndex))
		_, err = m.RevokeUser(ctx, "ada")
		assert.True(t, errors.Is(err, sessions.ErrNoUserIndex))
	})
}
