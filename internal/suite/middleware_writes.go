package suite

// The middleware suite's tests of when the middleware reads and writes
// the store: lazily, only on change, before the headers, never after a
// failure.

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// middlewareLazyNoIO (Middleware/LazyNoIO): an untouched session sets no
// cookie and a handler that never touches the session does no store I/O.
func middlewareLazyNoIO(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	e.Engine.GET("/none", func(c *gin.Context) { c.String(200, "ok") })
	e.Engine.GET("/read", func(c *gin.Context) {
		_, ok := sessions.Get[int](c, "n")
		c.String(200, fmt.Sprint(ok))
	})
	rec := e.Do("GET", "/none", "")
	assert.Equal(t, 200, rec.Code)
	assert.Nil(t, e.Cookie(rec), "an untouched session sets no cookie")
	rec = e.Do("GET", "/read", "")
	assert.Equal(t, "false", rec.Body.String())
	assert.Nil(t, e.Cookie(rec), "reading a new visitor's empty session sets no cookie")
	// A known session on a route that never touches it: no store I/O.
	id := e.NewSession("n", 1)
	before := e.Count.Total()
	rec = e.Do("GET", "/none", id)
	assert.Equal(t, 200, rec.Code)
	assert.Nil(t, e.Cookie(rec))
	assert.Equal(t, before, e.Count.Total(), "a handler that never touches the session does no store I/O")
	assert.Equal(t, int64(0), e.Count.Loads.Load(), "nothing has needed a load yet")
	e.NoErrors()
}

// middlewareWritesOnlyWhenChanged (Middleware/WritesOnlyWhenChanged):
// requests that change nothing write nothing and send no cookie.
func middlewareWritesOnlyWhenChanged(t *testing.T, open Opener) {
	e := NewEnv(t, open, func(c *sessions.Config) { c.Lifetime = time.Hour; c.TouchInterval = time.Hour })
	e.Engine.GET("/read", func(c *gin.Context) { sessions.Get[int](c, "n"); c.Status(204) })
	e.Engine.GET("/same", func(c *gin.Context) { sessions.Set(c, "n", 1); c.Status(204) })
	e.Engine.GET("/delmissing", func(c *gin.Context) { sessions.Delete(c, "nope"); c.Status(204) })
	id := e.NewSession("n", 1)
	saves := e.Count.Saves.Load()
	for _, p := range []string{"/read", "/same", "/delmissing"} {
		rec := e.Do("GET", p, id)
		assert.Equal(t, 204, rec.Code)
		assert.Nil(t, e.Cookie(rec), "%s changed nothing, so it sets no cookie", p)
	}
	assert.Equal(t, saves, e.Count.Saves.Load(), "requests that change nothing write nothing")
	assert.Equal(t, int64(0), e.Count.Touches.Load(), "no touch while the idle deadline is fresh")
	e.NoErrors()
}

// middlewareSavedWithoutAsking (Middleware/SavedWithoutAsking): every way
// a handler can answer saves the session before the headers go out.
func middlewareSavedWithoutAsking(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	e.Engine.GET("/json", func(c *gin.Context) { sessions.Set(c, "via", "json"); c.JSON(200, gin.H{"ok": true}) })
	e.Engine.GET("/string", func(c *gin.Context) { sessions.Set(c, "via", "string"); c.String(201, "made") })
	e.Engine.GET("/redirect", func(c *gin.Context) { sessions.Set(c, "via", "redirect"); c.Redirect(302, "/next") })
	e.Engine.POST("/redirect", func(c *gin.Context) { sessions.Set(c, "via", "redirect-post"); c.Redirect(303, "/next") })
	e.Engine.GET("/stream", func(c *gin.Context) {
		sessions.Set(c, "via", "stream")
		i := 0
		c.Stream(func(w io.Writer) bool { i++; _, _ = w.Write([]byte("chunk")); return i < 3 })
	})
	e.Engine.GET("/data", func(c *gin.Context) {
		sessions.Set(c, "via", "data")
		c.Data(200, "application/octet-stream", []byte{1, 2})
	})
	e.Engine.GET("/status", func(c *gin.Context) { sessions.Set(c, "via", "status"); c.Status(204) })
	e.Engine.GET("/nothing", func(c *gin.Context) { sessions.Set(c, "via", "nothing") })
	e.Engine.HEAD("/head", func(c *gin.Context) { sessions.Set(c, "via", "head"); c.Status(200) })
	e.Engine.GET("/flush", func(c *gin.Context) {
		sessions.Set(c, "via", "flush")
		c.Writer.Flush()
		_, _ = c.Writer.Write([]byte("x"))
	})
	cases := []struct{ method, path, via string }{
		{"GET", "/json", "json"}, {"GET", "/string", "string"}, {"GET", "/redirect", "redirect"},
		{"POST", "/redirect", "redirect-post"}, {"GET", "/stream", "stream"}, {"GET", "/data", "data"},
		{"GET", "/status", "status"}, {"GET", "/nothing", "nothing"}, {"HEAD", "/head", "head"}, {"GET", "/flush", "flush"},
	}
	for _, tc := range cases {
		rec := e.Do(tc.method, tc.path, "")
		assert.Less(t, rec.Code, 400, tc.path)
		ck := e.Cookie(rec)
		if !assert.NotNil(t, ck, "%s %s: cookie set without an explicit Save", tc.method, tc.path) {
			continue
		}
		v, ok := loadValue[string](t, e, ck.Value, "via")
		assert.True(t, ok, tc.path)
		assert.Equal(t, tc.via, v, "%s %s: saved before the headers went out", tc.method, tc.path)
	}
	e.NoErrors()
}

// middlewareFailedSaveIsNotSuccess (Middleware/FailedSaveIsNotSuccess):
// on a closed driver a failed save answers 500 without the handler's
// body, redirect or cookie, Put returns the error, and reads fail closed.
func middlewareFailedSaveIsNotSuccess(t *testing.T, open Opener) {
	// A real failure: the driver is closed, so every store call fails.
	e := NewEnv(t, open, nil)
	e.Engine.GET("/json", func(c *gin.Context) { sessions.Set(c, "a", 1); c.JSON(200, gin.H{"saved": true}) })
	e.Engine.GET("/redirect", func(c *gin.Context) { sessions.Set(c, "a", 1); c.Redirect(302, "/welcome") })
	e.Engine.POST("/redirect", func(c *gin.Context) { sessions.Set(c, "a", 1); c.Redirect(303, "/welcome") })
	e.Engine.GET("/status", func(c *gin.Context) { sessions.Set(c, "a", 1); c.Status(204) })
	e.Engine.GET("/put", func(c *gin.Context) {
		if err := sessions.Put(c, "a", 1); err != nil {
			c.String(503, "put failed: %v", err)
			return
		}
		c.String(200, "put ok")
	})
	e.Engine.GET("/read", func(c *gin.Context) {
		_, ok := sessions.Get[int](c, "a")
		c.String(200, "found=%v", ok)
	})
	id := e.NewSession("a", 0)
	require.NoError(t, e.Raw.Close(context.Background()))
	for _, p := range []struct{ method, path string }{{"GET", "/json"}, {"GET", "/redirect"}, {"POST", "/redirect"}, {"GET", "/status"}} {
		rec := e.Do(p.method, p.path, "")
		assert.Equal(t, 500, rec.Code, "%s %s: a save that failed must not answer %d", p.method, p.path, rec.Code)
		assert.NotContains(t, rec.Body.String(), `"saved":true`, "the handler's success body is dropped")
		assert.Empty(t, rec.Header().Get("Location"), "a failed save does not redirect")
		assert.Nil(t, e.Cookie(rec), "no cookie for a session that was not saved")
		select {
		case err := <-e.Errors:
			assert.Contains(t, err.Error(), "sessions: save")
		default:
			t.Errorf("%s: the error handler was not called", p.path)
		}
	}
	rec := e.Do("GET", "/put", "")
	assert.Equal(t, 503, rec.Code, "Put returns the store error to the handler")
	assert.Contains(t, rec.Body.String(), "put failed")
	for len(e.Errors) > 0 {
		<-e.Errors
	}
	// Reads fail closed: 200, nothing found, the error reported.
	rec = e.Do("GET", "/read", id)
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, "found=false", rec.Body.String())
	select {
	case err := <-e.Errors:
		assert.Contains(t, err.Error(), "sessions: load")
	case <-time.After(time.Second):
		t.Error("a failed load was not reported")
	}
}

// middlewareEncodeErrorWritesNothing
// (Middleware/EncodeErrorWritesNothing): a value that cannot be encoded
// fails the request whole: no partial write, no cookie.
func middlewareEncodeErrorWritesNothing(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	e.Engine.GET("/bad", func(c *gin.Context) {
		sessions.Set(c, "ok", 1)
		sessions.Set(c, "bad", make(chan int))
		c.JSON(200, gin.H{"fine": true})
	})
	e.Engine.GET("/put", func(c *gin.Context) {
		err := sessions.Put(c, "bad", func() {})
		c.String(400, "%v", err)
	})
	saves := e.Count.Saves.Load()
	rec := e.Do("GET", "/bad", "")
	assert.Equal(t, 500, rec.Code)
	assert.Nil(t, e.Cookie(rec))
	assert.Equal(t, saves, e.Count.Saves.Load(), "no partial write")
	rec = e.Do("GET", "/put", "")
	assert.Contains(t, rec.Body.String(), "encode")
}

// middlewarePanicSavesNothing (Middleware/PanicSavesNothing): a handler
// that panics saves nothing.
func middlewarePanicSavesNothing(t *testing.T, open Opener) {
	e := NewEnv(t, open, nil)
	e.Engine = gin.New()
	e.Engine.Use(gin.CustomRecovery(func(c *gin.Context, _ any) { c.String(500, "recovered") }), e.M.Handler())
	e.Engine.GET("/boom", func(c *gin.Context) { sessions.Set(c, "half", 1); panic("boom") })
	saves := e.Count.Saves.Load()
	rec := e.Do("GET", "/boom", "")
	assert.Equal(t, 500, rec.Code)
	assert.Equal(t, "recovered", rec.Body.String())
	assert.Equal(t, saves, e.Count.Saves.Load(), "a handler that panics saves nothing")
}
