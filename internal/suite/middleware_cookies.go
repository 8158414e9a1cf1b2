package suite

// The middleware suite's tests of the cookie and the session ID.

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// middlewareCookieAttributes (Middleware/CookieAttributes): the cookie
// carries a fresh 256-bit ID and the configured name, flags, path, domain
// and Max-Age.
func middlewareCookieAttributes(t *testing.T, open Opener) {
	e := NewEnv(t, open, func(c *sessions.Config) {
		c.Lifetime = 30 * time.Minute
		c.Secure = true
		c.Domain = "example.test"
		c.CookieName = "sid"
	})
	e.Engine.GET("/w", func(c *gin.Context) { sessions.Set(c, "a", 1); c.Status(204) })
	rec := e.Do("GET", "/w", "")
	ck := e.Cookie(rec)
	require.NotNil(t, ck)
	assert.Equal(t, "sid", ck.Name)
	assert.Len(t, ck.Value, 43, "256-bit ID in unpadded base64url")
	assert.NotContains(t, ck.Value, "=")
	assert.True(t, ck.HttpOnly)
	assert.True(t, ck.Secure)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	assert.Equal(t, "/", ck.Path)
	assert.Equal(t, "example.test", ck.Domain)
	assert.InDelta(t, 1800, ck.MaxAge, 2, "the cookie's expiry follows the server's idle lifetime")
	ids := map[string]bool{}
	for i := 0; i < 50; i++ {
		v := e.Cookie(e.Do("GET", "/w", "")).Value
		assert.False(t, ids[v], "IDs repeat")
		ids[v] = true
	}
}

// middlewareStrictIDs (Middleware/StrictIDs): an ID the store does not
// know is never adopted, and malformed cookies are rejected before any
// store I/O.
func middlewareStrictIDs(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	e.Engine.GET("/w", func(c *gin.Context) { sessions.Set(c, "k", "v"); c.String(200, sessions.ID(c)) })
	e.Engine.GET("/r", func(c *gin.Context) { _, ok := sessions.Get[string](c, "k"); c.String(200, "%v", ok) })
	unknown := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	rec := e.Do("GET", "/w", unknown)
	ck := e.Cookie(rec)
	require.NotNil(t, ck)
	assert.NotEqual(t, unknown, ck.Value, "an ID the store does not know is never adopted")
	assert.Equal(t, ck.Value, rec.Body.String(), "ID reports the new ID")
	before := e.Count.Loads.Load()
	hostile := []string{"../../etc/passwd", "a/b", strings.Repeat("A", 42) + "=", strings.Repeat("A", 44),
		strings.Repeat("x", 10000), "ÄÖÜ", "%00", strings.Repeat("A", 42) + "B", ""}
	for _, h := range hostile {
		rec := e.Do("GET", "/r", h)
		assert.Equal(t, 200, rec.Code)
		assert.Equal(t, "false", rec.Body.String())
	}
	assert.Equal(t, before, e.Count.Loads.Load(), "malformed cookies are rejected before any store I/O")
	e.NoErrors()
}

// middlewareHashedKeysAtRest (Middleware/HashedKeysAtRest): the record is
// stored under the ID's hash, never the raw ID, and does not contain it.
func middlewareHashedKeysAtRest(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	id := e.NewSession("secret", "s3cr3t")
	ctx := context.Background()
	rec, _, _, err := e.Raw.Load(ctx, id)
	require.NoError(t, err)
	assert.Nil(t, rec, "nothing is stored under the raw ID")
	rec, _, _, err = e.Raw.Load(ctx, core.StoreKey(id))
	require.NoError(t, err)
	assert.NotNil(t, rec, "the record is stored under the ID's hash")
	assert.NotContains(t, string(rec), id, "the record does not contain the raw ID")
}
