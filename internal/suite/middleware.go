package suite

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// Opener returns a working driver for one subtest. The suite does not close
// it: the opener registers its own cleanup.
type Opener func(t *testing.T) sessions.Driver

// Env is one Gin engine with one Manager over a counted real driver.
type Env struct {
	T      *testing.T
	Engine *gin.Engine
	M      *sessions.Manager
	Count  *Counting
	Raw    sessions.Driver
	Errors chan error
}

// NewEnv builds an Env. mutate may change the Config before NewManager.
func NewEnv(t *testing.T, open Opener, mutate func(*sessions.Config)) *Env {
	t.Helper()
	gin.SetMode(gin.TestMode)
	raw := open(t)
	wrapped, cnt := Wrap(raw)
	e := &Env{T: t, Engine: gin.New(), Count: cnt, Raw: raw, Errors: make(chan error, 1024)}
	cfg := sessions.DefaultConfig()
	cfg.Driver = wrapped
	cfg.ErrorHandler = func(c *gin.Context, err error) {
		select {
		case e.Errors <- err:
		default:
		}
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	e.M = m
	e.Engine.Use(m.Handler())
	return e
}

// Do serves one request; cookie is the session cookie's value ("" for none).
func (e *Env) Do(method, path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: e.M.Config().CookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	e.Engine.ServeHTTP(notifyingRecorder{rec}, req)
	return rec
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
