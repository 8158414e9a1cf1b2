package suite

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// HeaderClient runs the life of an API client of a header Manager
// (Config.Header) against drivers from open: its token travels in a request
// header, never in a cookie, with the same strict IDs, hashing at rest,
// re-keying and deletion as a cookie session.
func HeaderClient(t *testing.T, open Opener) {
	for _, tc := range []struct {
		header string
		send   func(token string) string // the request header's value for token
	}{
		{"X-Auth-Token", func(tok string) string { return tok }},
		{"Authorization", func(tok string) string { return "Bearer " + tok }},
	} {
		t.Run(tc.header, func(t *testing.T) { headerLife(t, open, tc.header, tc.send) })
	}
}

func headerLife(t *testing.T, open Opener, header string, send func(string) string) {
	e := NewEnv(t, open, func(c *sessions.Config) { c.Header = header })
	e.Engine.POST("/add", func(c *gin.Context) {
		n, err := sessions.Update(c, "n", func(n int, _ bool) int { return n + 1 })
		if err != nil {
			c.String(500, err.Error())
			return
		}
		c.JSON(200, gin.H{"n": n, "id": sessions.ID(c)})
	})
	e.Engine.GET("/n", func(c *gin.Context) {
		n, ok := sessions.Get[int](c, "n")
		c.JSON(200, gin.H{"n": n, "ok": ok})
	})
	e.Engine.POST("/login", func(c *gin.Context) {
		if err := sessions.Refresh(c); err != nil {
			c.String(500, err.Error())
			return
		}
		c.String(200, sessions.ID(c))
	})
	e.Engine.POST("/logout", func(c *gin.Context) {
		if err := sessions.Destroy(c); err != nil {
			c.String(500, err.Error())
			return
		}
		c.Status(204)
	})
	do := func(method, path string, hdr map[string][]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		e.Engine.ServeHTTP(rec, req)
		return rec
	}
	with := func(tok string) map[string][]string { return map[string][]string{header: {send(tok)}} }
	token := func(rec *httptest.ResponseRecorder) string {
		t.Helper()
		v := rec.Header().Values(header)
		require.Len(t, v, 1, "the response carries the token in %s", header)
		return v[0]
	}
	noCookie := func(rec *httptest.ResponseRecorder, what string) {
		t.Helper()
		assert.Empty(t, rec.Header().Values("Set-Cookie"), "%s: a header Manager never sets a cookie", what)
	}

	// A first request without a token gets one, and no cookie.
	rec := do("POST", "/add", nil)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	noCookie(rec, "new session")
	first := token(rec)
	tok := strings.TrimPrefix(first, send(""))
	require.Equal(t, send(tok), first, "the response gives the token in the form requests send it")
	assert.True(t, core.ValidID(tok), "the token is a session ID")
	assert.JSONEq(t, `{"n":1,"id":"`+tok+`"}`, rec.Body.String(), "the token is ID(c)")

	// Reads and writes with it; an unchanged token is not re-sent.
	rec = do("POST", "/add", with(tok))
	assert.JSONEq(t, `{"n":2,"id":"`+tok+`"}`, rec.Body.String())
	assert.Empty(t, rec.Header().Values(header), "a response that keeps the token does not send it")
	noCookie(rec, "write")
	rec = do("GET", "/n", with(tok))
	assert.JSONEq(t, `{"n":2,"ok":true}`, rec.Body.String())
	noCookie(rec, "read")

	// Hashed at rest, as a cookie session.
	raw, _, _, err := e.Raw.Load(context.Background(), tok)
	require.NoError(t, err)
	assert.Nil(t, raw, "nothing is stored under the raw token")

	// A cookie is not a credential for a header Manager.
	req := httptest.NewRequest("GET", "/n", nil)
	req.AddCookie(&http.Cookie{Name: e.M.Config().CookieName, Value: tok})
	rec = httptest.NewRecorder()
	e.Engine.ServeHTTP(rec, req)
	assert.JSONEq(t, `{"n":0,"ok":false}`, rec.Body.String(), "the session cookie means nothing to a header Manager")

	// Bearer only, for Authorization; one header line only.
	if header == "Authorization" {
		for _, v := range []string{"Basic " + tok, tok, "Bearer", "Bearer" + tok, "Token " + tok} {
			rec = do("GET", "/n", map[string][]string{header: {v}})
			assert.JSONEq(t, `{"n":0,"ok":false}`, rec.Body.String(), "Authorization: %q is no session", v)
		}
		rec = do("GET", "/n", map[string][]string{header: {"bearer  " + tok}})
		assert.JSONEq(t, `{"n":2,"ok":true}`, rec.Body.String(), "the scheme is case-insensitive (RFC 9110)")
	}
	rec = do("GET", "/n", map[string][]string{header: {send(tok), send(tok)}})
	assert.JSONEq(t, `{"n":0,"ok":false}`, rec.Body.String(), "a token given twice is no session")

	// A forged token is never adopted: the client gets a new one.
	forged := core.NewID()
	rec = do("POST", "/add", with(forged))
	assert.Equal(t, 200, rec.Code)
	got := token(rec)
	assert.NotEqual(t, send(forged), got, "a forged token is not adopted")
	assert.NotEqual(t, send(tok), got)
	assert.Contains(t, rec.Body.String(), `"n":1`, "the forged token's request starts an empty session")
	before := e.Count.Loads.Load()
	for _, h := range []string{"../../etc/passwd", tok + "A", tok[:42], "%00" + tok[3:], tok + ", " + tok} {
		rec = do("GET", "/n", map[string][]string{header: {send(h)}})
		assert.JSONEq(t, `{"n":0,"ok":false}`, rec.Body.String(), "malformed token %q", h)
	}
	assert.Equal(t, before, e.Count.Loads.Load(), "malformed tokens are refused before any store I/O")

	// Refresh returns a new token and retires the old.
	rec = do("POST", "/login", with(tok))
	require.Equal(t, 200, rec.Code, rec.Body.String())
	noCookie(rec, "refresh")
	renewed := token(rec)
	newTok := strings.TrimPrefix(renewed, send(""))
	assert.Equal(t, send(newTok), renewed)
	assert.NotEqual(t, tok, newTok, "Refresh issues a new token")
	assert.Equal(t, newTok, rec.Body.String(), "the new token is ID(c)")
	assert.JSONEq(t, `{"n":2,"ok":true}`, do("GET", "/n", with(newTok)).Body.String(), "the data moves to the new token")
	assert.JSONEq(t, `{"n":0,"ok":false}`, do("GET", "/n", with(tok)).Body.String(), "the old token is dead")

	// Destroy ends it, and tells the client the token is gone.
	rec = do("POST", "/logout", with(newTok))
	assert.Equal(t, 204, rec.Code)
	noCookie(rec, "destroy")
	assert.Equal(t, []string{""}, rec.Header().Values(header), "a response to Destroy carries the header empty")
	assert.JSONEq(t, `{"n":0,"ok":false}`, do("GET", "/n", with(newTok)).Body.String(), "the destroyed token is dead")
	e.NoErrors()
}
