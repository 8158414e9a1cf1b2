package suite

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// Opener returns a working driver for one subtest. The suite does not close
// it: the opener registers its own cleanup.
type Opener func(t *testing.T) sessions.Driver

// Env is one Gin engine with one Manager over a real driver: the app
// under test of every harness (NewApp), counted when NewEnv built it.
type Env struct {
	T      *testing.T
	Engine *gin.Engine
	M      *sessions.Manager
	Count  *Counting
	Raw    sessions.Driver
	Errors chan error // the first 1024 errors the ErrorHandler saw, for NoErrors
	Errs   *ErrorLog  // every error the ErrorHandler saw
}

// NewEnv builds an Env (see NewApp) over a counted driver from open.
// mutate may change the Config before NewManager.
func NewEnv(t *testing.T, open Opener, mutate func(*sessions.Config)) *Env {
	t.Helper()
	raw := open(t)
	wrapped, cnt := Wrap(raw)
	e := NewApp(t, wrapped, mutate)
	e.Count, e.Raw = cnt, raw
	return e
}

// Do serves one request; cookie is the session cookie's value ("" for none).
func (e *Env) Do(method, path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: e.M.Config().CookieName, Value: cookie})
	}
	return e.Serve(req)
}

// notifyingRecorder adds the CloseNotifier that c.Stream requires, as a
// real server connection has.
type notifyingRecorder struct{ *httptest.ResponseRecorder }

func (notifyingRecorder) CloseNotify() <-chan bool { return make(chan bool) }

// Cookie returns the session cookie the response set, or nil.
func (e *Env) Cookie(rec *httptest.ResponseRecorder) *http.Cookie {
	var found *http.Cookie
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == e.M.Config().CookieName {
			require.Nil(e.T, found, "the response sets the session cookie twice: %v", rec.Header()["Set-Cookie"])
			found = c
		}
	}
	return found
}

// NewSession makes a session holding key=value and returns its cookie value.
func (e *Env) NewSession(key string, value any) string {
	e.T.Helper()
	path := "/__suite_new_" + key
	e.Engine.GET(path, func(c *gin.Context) {
		sessions.Set(c, key, value)
		c.Status(http.StatusNoContent)
	})
	rec := e.Do("GET", path, "")
	require.Equal(e.T, http.StatusNoContent, rec.Code)
	ck := e.Cookie(rec)
	require.NotNil(e.T, ck, "a request that wrote to a new session must set the cookie")
	return ck.Value
}

// NoErrors asserts the error handler saw nothing.
func (e *Env) NoErrors() {
	e.T.Helper()
	select {
	case err := <-e.Errors:
		e.T.Fatalf("unexpected session error: %v", err)
	default:
	}
}

type profile struct {
	Name  string    `json:"name"`
	Roles []string  `json:"roles"`
	Since time.Time `json:"since"`
	Score float64   `json:"score"`
}

// Middleware runs the middleware suite against drivers from open.
// slowExpiry is the smallest lifetime the store honours reliably
// (memcached: about two seconds); expiry tests wait about that long.
func Middleware(t *testing.T, open Opener, slowExpiry time.Duration) {
	if slowExpiry <= 0 {
		slowExpiry = 300 * time.Millisecond
	}
	expiring := func(run func(*testing.T, Opener, time.Duration)) func(*testing.T, Opener) {
		return func(t *testing.T, open Opener) { run(t, open, slowExpiry) }
	}
	// The subtests' names are what SECURITY.md and go test -run name.
	for _, tc := range []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"LazyNoIO", middlewareLazyNoIO},
		{"CookieAttributes", middlewareCookieAttributes},
		{"TypedRoundTrip", middlewareTypedRoundTrip},
		{"WritesOnlyWhenChanged", middlewareWritesOnlyWhenChanged},
		{"SlidingExpiryTouch", middlewareSlidingExpiryTouch},
		{"CookieResentOnlyWhenDue", middlewareCookieResentOnlyWhenDue},
		{"BrowserSessionCookieSentOnce", middlewareBrowserSessionCookieSentOnce},
		{"SavedWithoutAsking", middlewareSavedWithoutAsking},
		{"FailedSaveIsNotSuccess", middlewareFailedSaveIsNotSuccess},
		{"StrictIDs", middlewareStrictIDs},
		{"HashedKeysAtRest", middlewareHashedKeysAtRest},
		{"RefreshAndDestroy", middlewareRefreshAndDestroy},
		{"DestroyThenWrite", middlewareDestroyThenWrite},
		{"PutPopDeleteClear", middlewarePutPopDeleteClear},
		{"IdleExpiry", expiring(middlewareIdleExpiry)},
		{"AbsoluteLifetime", expiring(middlewareAbsoluteLifetime)},
		{"EncodeErrorWritesNothing", middlewareEncodeErrorWritesNothing},
		{"HeaderClient", HeaderClient},
		{"PanicSavesNothing", middlewarePanicSavesNothing},
		{"Watch", expiring(Watch)},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open) })
	}
}

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

// loadValue reads one value of session id straight from the driver.
func loadValue[T any](t *testing.T, e *Env, id, key string) (T, bool) {
	t.Helper()
	var zero T
	snap, err := e.M.Snapshot(context.Background(), id)
	require.NoError(t, err)
	if snap == nil {
		return zero, false
	}
	return sessions.SnapshotValue[T](snap, key)
}
