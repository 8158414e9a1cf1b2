package sessions

import "github.com/gin-gonic/gin"

type ctxKeyType struct{}

// ctxKey is where a request's session lives in gin.Context.Keys.
var ctxKey ctxKeyType

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
