package sessions_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// recorder is an Observer that keeps every event, and checks that the
// context OperationStart returned is the one OperationEnd gets.
type recorder struct {
	mu     sync.Mutex
	events []sessions.Event
	lost   int // ends whose context was not their start's
}

type opKey struct{}

func (r *recorder) OperationStart(ctx context.Context, op sessions.Op, backend string) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

func (r *recorder) OperationEnd(ctx context.Context, ev sessions.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Value(opKey{}) != ev.Op {
		r.lost++
	}
	r.events = append(r.events, ev)
}

func (r *recorder) take() []sessions.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// observedApp is a Manager over memory:// with the Observer obs (nil for
// none) and an engine with routes that use the session in every way.
func observedApp(t testing.TB, obs sessions.Observer, mutate func(*sessions.Config)) (*sessions.Manager, *gin.Engine) {
	gin.SetMode(gin.TestMode)
	cfg := sessions.DefaultConfig()
	cfg.Observer = obs
	cfg.ErrorHandler = func(*gin.Context, error) {}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	r := gin.New()
	r.Use(m.Handler())
	r.GET("/none", func(c *gin.Context) { c.Status(204) })
	r.GET("/read", func(c *gin.Context) { sessions.GetOr(c, "n", 0); c.Status(204) })
	r.GET("/write", func(c *gin.Context) { sessions.Set(c, "n", sessions.GetOr(c, "n", 0)+1); c.Status(204) })
	r.POST("/login", func(c *gin.Context) {
		if sessions.Refresh(c) != nil || sessions.SetUser(c, "ada") != nil {
			c.Status(503)
			return
		}
		c.Status(204)
	})
	r.POST("/others", func(c *gin.Context) { _, _ = sessions.RevokeOtherSessions(c); c.Status(204) })
	r.POST("/logout", func(c *gin.Context) { _ = sessions.Destroy(c); c.Status(204) })
	return m, r
}

// TestStatsAndEvents: every logical operation is counted once in Stats
// and reported once to the Observer, with the backend, the result and the
// context the Observer gave; no event holds the session ID.
func TestStatsAndEvents(t *testing.T) {
	obs := &recorder{}
	m, r := observedApp(t, obs, func(c *sessions.Config) { c.TouchInterval = -1 })
	unknown := &http.Response{Header: http.Header{"Set-Cookie": {"session=" + strings.Repeat("A", 43)}}}
	w := do(r, "GET", "/write", nil) // no cookie: no load; a save
	id := w.Cookies()[0].Value
	do(r, "GET", "/read", w)            // a load (hit), and a touch: TouchInterval < 0 extends on every use
	do(r, "GET", "/read", unknown)      // a load (miss)
	login := do(r, "POST", "/login", w) // a load (hit), a refresh, a save (the user binding)
	do(r, "POST", "/login", nil)        // another device: a save
	do(r, "POST", "/others", login)     // a load (hit), a revocation of the other device, a touch
	do(r, "POST", "/logout", login)     // a destroy, with no load

	assert.Equal(t, sessions.Stats{
		Loads: 4, Hits: 3, Misses: 1,
		Saves: 3, Touches: 2,
		Refreshes: 1, Destroys: 1, Revocations: 1,
	}, m.Stats())

	events := obs.take()
	ops := map[sessions.Op]int{}
	for _, ev := range events {
		ops[ev.Op]++
		assert.Equal(t, "memory", ev.Backend)
		assert.NotContains(t, fmt.Sprintf("%+v", ev), id, "no event holds a session ID")
		assert.NotEmpty(t, ev.Result)
	}
	assert.Equal(t, map[sessions.Op]int{sessions.OpLoad: 4, sessions.OpSave: 3, sessions.OpTouch: 2,
		sessions.OpRefresh: 1, sessions.OpDestroy: 1, sessions.OpRevoke: 1}, ops)
	assert.Zero(t, obs.lost, "OperationEnd gets the context OperationStart returned")
}

// TestStatsCountFailures: a store that fails counts load and save errors
// and the response turned into an error, and the Observer sees the error
// with its type.
func TestStatsCountFailures(t *testing.T) {
	obs := &recorder{}
	m, r, mem := handlerAppObserved(t, obs)
	w := do(r, "GET", "/write", nil)
	require.NoError(t, mem.Close(context.Background()))
	resp := do(r, "GET", "/write", w)
	assert.Equal(t, 500, resp.StatusCode)
	s := m.Stats()
	assert.Equal(t, uint64(1), s.LoadErrors)
	assert.Equal(t, uint64(1), s.SaveErrors)
	assert.Equal(t, uint64(1), s.FailedResponses)
	var types []string
	for _, ev := range obs.take() {
		if ev.Err != nil {
			types = append(types, string(ev.Op)+":"+ev.ErrorType)
			assert.Equal(t, "error", ev.Result)
		}
	}
	assert.Equal(t, []string{"load:store", "save:store"}, types)
}

func handlerAppObserved(t *testing.T, obs sessions.Observer) (*sessions.Manager, *gin.Engine, interface {
	Close(context.Context) error
}) {
	m, r, mem := handlerApp(t, func(c *sessions.Config) { c.Observer = obs })
	r.GET("/write", func(c *gin.Context) { sessions.Set(c, "n", sessions.GetOr(c, "n", 0)+1); c.Status(204) })
	return m, r, mem
}
