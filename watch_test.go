package sessions

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions/drivers/memory"
)

// The watcher's own life (one per Manager, shared checks, stopped when
// idle and by Close) and its handling of store errors, on the memory
// driver with a short interval. Every driver runs the end-to-end checks
// (revocation, another tab's logout, Refresh, keep-alive) in the
// middleware suite (internal/suite/watch.go). No assertion here is on
// speed: waits poll with a generous deadline.

const testWatchInterval = 50 * time.Millisecond

// flakyDriver is the memory driver whose Load fails while down is set,
// counting the failed loads.
type flakyDriver struct {
	*memory.Driver
	down   atomic.Bool
	failed atomic.Int64
}

func (d *flakyDriver) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	if d.down.Load() {
		d.failed.Add(1)
		return nil, 0, time.Time{}, errors.New("flaky: load: store down")
	}
	return d.Driver.Load(ctx, key)
}

type watchHarness struct {
	t *testing.T
	m *Manager
	d *flakyDriver
	e *gin.Engine
}

type watchHooksKey struct{}

// watchHooks carries a watching request's context out of its handler,
// and the signal for the handler to return.
type watchHooks struct {
	got     chan context.Context
	release chan struct{}
}

func newWatchHarness(t *testing.T, mutate func(*Config)) *watchHarness {
	gin.SetMode(gin.TestMode)
	d := &flakyDriver{Driver: memory.New(memory.Options{})}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	cfg := DefaultConfig()
	cfg.Driver = d
	cfg.WatchInterval = testWatchInterval
	cfg.Logger = slog.New(slog.DiscardHandler)
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	h := &watchHarness{t: t, m: m, d: d, e: gin.New()}
	h.e.Use(m.Handler())
	h.e.POST("/login/:user", func(c *gin.Context) {
		require.NoError(t, SetUser(c, c.Param("user")))
		c.Status(http.StatusNoContent)
	})
	h.e.GET("/watch", func(c *gin.Context) {
		hooks := c.Request.Context().Value(watchHooksKey{}).(*watchHooks)
		ctx, cancel := Watch(c)
		defer cancel()
		hooks.got <- ctx
		select {
		case <-ctx.Done():
		case <-hooks.release:
		}
	})
	h.e.GET("/destroy-then-watch", func(c *gin.Context) {
		require.NoError(t, Destroy(c))
		ctx, cancel := Watch(c)
		defer cancel()
		c.String(200, "%v", context.Cause(ctx))
	})
	return h
}

func (h *watchHarness) login(user string) string {
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, httptest.NewRequest("POST", "/login/"+user, nil))
	require.Equal(h.t, http.StatusNoContent, rec.Code)
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		return c.Value
	}
	h.t.Fatal("no cookie")
	return ""
}

// watch starts a watching request with cookie on reqCtx and returns its
// Watch context, and a function that makes the handler return and waits
// for it.
func (h *watchHarness) watch(reqCtx context.Context, cookie string) (context.Context, func()) {
	hooks := &watchHooks{got: make(chan context.Context, 1), release: make(chan struct{})}
	req := httptest.NewRequest("GET", "/watch", nil).WithContext(context.WithValue(reqCtx, watchHooksKey{}, hooks))
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	}
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		h.e.ServeHTTP(httptest.NewRecorder(), req)
	}()
	ctx := <-hooks.got
	var released atomic.Bool
	release := func() {
		if released.CompareAndSwap(false, true) {
			close(hooks.release)
		}
		<-returned
	}
	h.t.Cleanup(release)
	return ctx, release
}

// eventually polls cond for up to ten seconds.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ended(ctx context.Context) bool { return ctx.Err() != nil }

// waitEnd waits for ctx to end and returns its cause.
func waitEnd(t *testing.T, ctx context.Context, msg string) error {
	t.Helper()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(10 * time.Second):
		t.Fatal(msg)
		return nil
	}
}

// TestWatchNothingToWatch: no cookie, an unknown one, a session destroyed
// by the request itself, and a route without the middleware all get an
// already-ended context saying why; nothing is registered.
func TestWatchNothingToWatch(t *testing.T) {
	h := newWatchHarness(t, nil)
	for name, cookie := range map[string]string{"none": "", "unknown": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		ctx, _ := h.watch(context.Background(), cookie)
		require.True(t, ended(ctx), name)
		assert.ErrorIs(t, context.Cause(ctx), ErrSessionEnded, name)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/destroy-then-watch", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: h.login("ada")})
	h.e.ServeHTTP(rec, req)
	assert.Equal(t, ErrSessionEnded.Error(), rec.Body.String())

	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	ctx, cancel := Watch(c)
	defer cancel()
	require.True(t, ended(ctx))
	assert.ErrorIs(t, context.Cause(ctx), ErrNoMiddleware)
	n, running := h.m.watch.watchCount()
	assert.Equal(t, 0, n)
	assert.False(t, running, "nothing watched: no watcher runs")
}

// TestWatchSharedAndStopped: many watches of one session share one entry
// (one check per interval); the watcher starts with the first watch,
// stops when the last one is released or its request ends, starts again
// with the next, and Manager.Close ends every watch (ErrManagerClosed),
// stops the watcher and refuses new watches. No goroutine is left behind.
func TestWatchSharedAndStopped(t *testing.T) {
	h := newWatchHarness(t, nil)
	ada, bob := h.login("ada"), h.login("bob")
	runtime.GC()
	base := runtime.NumGoroutine()

	var releases []func()
	for range 3 {
		ctx, release := h.watch(context.Background(), ada)
		require.False(t, ended(ctx))
		releases = append(releases, release)
	}
	reqCtx, endRequest := context.WithCancel(context.Background())
	bobCtx, _ := h.watch(reqCtx, bob)
	n, running := h.m.watch.watchCount()
	assert.Equal(t, 2, n, "three watches of one session share one check")
	assert.True(t, running)

	endRequest()
	assert.ErrorIs(t, waitEnd(t, bobCtx, "the watch did not end with its request"), context.Canceled)
	eventually(t, func() bool { n, _ := h.m.watch.watchCount(); return n == 1 }, "an ended request's watch stayed registered")
	for _, release := range releases[:2] {
		release()
	}
	n, running = h.m.watch.watchCount()
	assert.Equal(t, 1, n, "the session is watched while one watch is left")
	assert.True(t, running)
	releases[2]()
	eventually(t, func() bool { n, running := h.m.watch.watchCount(); return n == 0 && !running }, "the watcher still runs with nothing watched")
	eventually(t, func() bool { return runtime.NumGoroutine() <= base }, "goroutines left behind after the last watch was released")

	ctx, _ := h.watch(context.Background(), ada)
	_, running = h.m.watch.watchCount()
	assert.True(t, running, "a new watch starts the watcher again")
	require.NoError(t, h.m.Close())
	assert.ErrorIs(t, waitEnd(t, ctx, "Close did not end the watch"), ErrManagerClosed)
	_, running = h.m.watch.watchCount()
	assert.False(t, running, "Close stops the watcher")
	eventually(t, func() bool { return runtime.NumGoroutine() <= base }, "goroutines left behind after Close")

	after, _ := h.watch(context.Background(), ada)
	require.True(t, ended(after), "a watch after Close")
	assert.ErrorIs(t, context.Cause(after), ErrManagerClosed)
}

// TestWatchSurvivesStoreErrors: checks that fail do not end a watch while
// the session's idle deadline has not passed; once the store answers
// again, an end is noticed as usual.
func TestWatchSurvivesStoreErrors(t *testing.T) {
	h := newWatchHarness(t, nil) // two-hour lifetime
	ada := h.login("ada")
	ctx, _ := h.watch(context.Background(), ada)
	h.d.down.Store(true)
	eventually(t, func() bool { return h.d.failed.Load() >= 5 }, "the watcher stopped checking")
	assert.False(t, ended(ctx), "store errors ended the watch before the idle deadline")
	h.d.down.Store(false)
	n, err := h.m.RevokeUser(context.Background(), "ada")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	assert.ErrorIs(t, waitEnd(t, ctx, "the revocation was not noticed after the store came back"), ErrSessionEnded)
}

// TestWatchEndsAtDeadlineWhenStoreDown: a session that cannot be checked
// or extended ends its watch once its last known idle deadline passes:
// it may have expired unseen.
func TestWatchEndsAtDeadlineWhenStoreDown(t *testing.T) {
	h := newWatchHarness(t, func(c *Config) { c.Lifetime = 500 * time.Millisecond })
	ctx, _ := h.watch(context.Background(), h.login("ada"))
	h.d.down.Store(true)
	cause := waitEnd(t, ctx, "the watch outlived its session's idle deadline while the store was down")
	assert.ErrorIs(t, cause, errLapsed)
	assert.Contains(t, cause.Error(), "sessions: watch: ")
}

// TestWatchLoadFails: a request whose session cannot be loaded gets an
// ended context whose cause is the load error (fail closed: nothing
// confirms the session exists).
func TestWatchLoadFails(t *testing.T) {
	h := newWatchHarness(t, nil)
	ada := h.login("ada")
	h.d.down.Store(true)
	ctx, _ := h.watch(context.Background(), ada)
	require.True(t, ended(ctx))
	assert.Contains(t, context.Cause(ctx).Error(), "sessions: load: flaky: load: store down")
}

// TestWatchIntervalConfig: the default (10 s, or Lifetime/4 when
// shorter), SESSION_WATCH_INTERVAL and its errors, and the validation of
// Config.WatchInterval.
func TestWatchIntervalConfig(t *testing.T) {
	t.Setenv(EnvLifetime, "")
	t.Setenv(EnvWatchInterval, "")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, DefaultWatchInterval, cfg.withDefaults().WatchInterval)
	assert.Equal(t, 5*time.Second, Config{Lifetime: 20 * time.Second}.withDefaults().WatchInterval)

	t.Setenv(EnvWatchInterval, "3s")
	cfg, err = ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, cfg.WatchInterval)

	for v, want := range map[string]string{
		"x":   `sessions: SESSION_WATCH_INTERVAL="x": want a duration such as 10s or 1m`,
		"10":  `sessions: SESSION_WATCH_INTERVAL="10": want a duration such as 10s or 1m`,
		"-1s": `sessions: SESSION_WATCH_INTERVAL="-1s": the watch interval must be positive`,
		"0s":  `sessions: SESSION_WATCH_INTERVAL="0s": the watch interval must be positive`,
		"3h":  `sessions: SESSION_WATCH_INTERVAL="3h": the watch interval must be shorter than the idle lifetime (2h0m0s)`,
	} {
		t.Setenv(EnvWatchInterval, v)
		_, err := ConfigFromEnv()
		assert.EqualError(t, err, want)
	}

	for _, c := range []Config{
		{WatchInterval: -time.Second},
		{Lifetime: time.Minute, WatchInterval: time.Minute},
	} {
		_, err := NewManager(c)
		assert.ErrorContains(t, err, "sessions: WatchInterval ", "%+v", c)
	}
}
