package sessions

import (
	"sync"

	"github.com/gin-gonic/gin"
)

// The Gin side of the package: FromEnv and Manager.Handler put a session
// handle on each request, and the helpers (handlers.go) find it with
// sessionOf. What the handle does with the store is the state machine in
// session.go; the response writer that commits in time is writer.go.

// FromEnv is the one-line set-up: ConfigFromEnv, NewManager, Handler.
//
//	router.Use(sessions.FromEnv())
//
// An invalid configuration panics at start-up with the error's text, so a
// misconfigured deployment fails before it serves a request.
func FromEnv() gin.HandlerFunc {
	cfg, err := ConfigFromEnv()
	if err != nil {
		panic(err.Error())
	}
	m, err := NewManager(cfg)
	if err != nil {
		panic(err.Error())
	}
	return m.Handler()
}

// Handler returns the middleware. It does no store I/O and sets no cookie
// by itself: the session is loaded when a helper first needs it, and saved
// (only if something changed, or touched if its idle deadline needs
// extending) just before the response headers go out, or at the end of the
// chain when the handler wrote nothing. A handler that panics saves
// nothing.
func (m *Manager) Handler() gin.HandlerFunc {
	return func(c *gin.Context) {
		s := &session{m: m, c: c}
		orig := c.Writer
		s.w = writer{ResponseWriter: orig, s: s}
		c.Writer = &s.w
		c.Set(ctxKey, s)
		completed := false
		defer func() {
			c.Writer = orig
			if !completed {
				// Panicking: what the handler changed is not saved, and a
				// recovery middleware's error response goes out untouched.
				s.mu.Lock()
				s.final = true
				s.mu.Unlock()
			}
		}()
		c.Next()
		completed = true
		if !s.final && !orig.Written() {
			s.finalCommit()
		} else {
			s.lateCommit()
		}
	}
}

// session is the per-request handle, small because every request behind
// the middleware pays for it, /none included. What the request learns and
// changes lives in *sessionData, allocated by open when a helper first
// touches the session.
type session struct {
	m *Manager
	c *gin.Context
	w writer

	mu         sync.Mutex
	final      bool // the commit before headers has run
	failedSave bool // that commit failed: the response was turned into an error

	*sessionData // nil while untouched
}

type ctxKeyType struct{}

// ctxKey is where a request's session lives in gin.Context.Keys.
var ctxKey ctxKeyType

// sessionOf returns the request's session, or nil without the middleware.
func sessionOf(c *gin.Context) *session {
	if c == nil {
		return nil
	}
	v, ok := c.Get(ctxKey)
	if !ok {
		return nil
	}
	s, _ := v.(*session)
	return s
}

// report adds err to c.Errors and hands it to the error handler, or
// logs it as an error.
func (m *Manager) report(c *gin.Context, err error) {
	_ = c.Error(err)
	if h := m.cfg.ErrorHandler; h != nil {
		h(c, err)
		return
	}
	m.cfg.Logger.Error("sessions: request failed to use its session", "method", c.Request.Method, "path", c.Request.URL.Path, "error", err)
}

// warn is report for an error that did not fail the request (a touch
// that could not extend the idle deadline): logged as a warning.
func (m *Manager) warn(c *gin.Context, err error) {
	_ = c.Error(err)
	if h := m.cfg.ErrorHandler; h != nil {
		h(c, err)
		return
	}
	m.cfg.Logger.Warn("sessions: the session's idle deadline could not be extended", "method", c.Request.Method, "path", c.Request.URL.Path, "error", err)
}
