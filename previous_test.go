package sessions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// newMovingApp builds an app whose sessions live in dsn, moving from prev.
func newMovingApp(t *testing.T, dsn, prev string) (*gin.Engine, *sessions.Manager) {
	cfg := sessions.DefaultConfig()
	cfg.DSN, cfg.PreviousDSN = dsn, prev
	cfg.AbsoluteLifetime = 24 * time.Hour
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(m.Handler())
	e.GET("/set/:v", func(c *gin.Context) { sessions.Set(c, "v", c.Param("v")); c.Status(204) })
	e.GET("/get", func(c *gin.Context) { c.String(200, sessions.GetOr(c, "v", "")) })
	e.GET("/logout", func(c *gin.Context) { require.NoError(t, sessions.Destroy(c)); c.Status(204) })
	return e, m
}

func serve(e *gin.Engine, path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestPreviousBackendMove(t *testing.T) {
	oldDSN, newDSN := fileDSN(t), fileDSN(t)
	oldApp, oldM := newMovingApp(t, oldDSN, "")
	rec := serve(oldApp, "/set/kept", "")
	var id string
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		id = c.Value
	}
	require.NotEmpty(t, id)
	before, err := oldM.Snapshot(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, before)
	time.Sleep(20 * time.Millisecond)

	newApp, newM := newMovingApp(t, newDSN, oldDSN)
	assert.Equal(t, "kept", serve(newApp, "/get", id).Body.String(), "a session of the previous backend is read after the switch")

	ctx := context.Background()
	cur, err := sessions.Open(newDSN)
	require.NoError(t, err)
	defer cur.Close(ctx)
	rec2, _, exp, err := cur.Load(ctx, core.StoreKey(id))
	require.NoError(t, err)
	require.NotNil(t, rec2, "it was copied to the current backend at once")
	assert.WithinDuration(t, before.Expires, exp, 50*time.Millisecond, "the remaining lifetime carries over exactly")
	old, err := oldM.Snapshot(ctx, id)
	require.NoError(t, err)
	assert.Nil(t, old, "and deleted from the previous backend")
	after, err := newM.Snapshot(ctx, id)
	require.NoError(t, err)
	assert.True(t, before.Created.Equal(after.Created), "the absolute deadline carries over (same creation time)")

	// New sessions go only to the current backend.
	rec = serve(newApp, "/set/fresh", "")
	var fresh string
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		fresh = c.Value
	}
	s, err := oldM.Snapshot(ctx, fresh)
	require.NoError(t, err)
	assert.Nil(t, s)

	// Strict mode holds across both: an ID neither knows is not adopted.
	unknown := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	rec = serve(newApp, "/set/x", unknown)
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		assert.NotEqual(t, unknown, c.Value)
	}
}

func TestPreviousBackendLogoutCannotBeUndone(t *testing.T) {
	oldDSN, newDSN := fileDSN(t), fileDSN(t)
	oldApp, oldM := newMovingApp(t, oldDSN, "")
	rec := serve(oldApp, "/set/secret", "")
	var id string
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		id = c.Value
	}
	// The logout happens on the new instance before the session was ever
	// read there: the old copy must go too.
	newApp, _ := newMovingApp(t, newDSN, oldDSN)
	require.Equal(t, 204, serve(newApp, "/logout", id).Code)
	assert.Equal(t, "", serve(newApp, "/get", id).Body.String(), "the logout holds")
	s, err := oldM.Snapshot(context.Background(), id)
	require.NoError(t, err)
	assert.Nil(t, s, "the previous backend's copy is deleted too")
}
