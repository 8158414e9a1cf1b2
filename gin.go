package sessions

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Manager holds a session configuration and its storage driver, and hands
// out the Gin middleware. It is safe for concurrent use; make one per
// application (or per distinct cookie) and Close it on shutdown.
type Manager struct {
	cfg       Config
	driver    Driver
	toucher   Toucher     // driver's Touch, or nil
	index     UserIndexer // driver's user index, or nil
	ownDriver bool
	prev      Driver // the previous backend during a move, or nil
	ownPrev   bool
	ring      *keyring // encryption at rest, or nil
	cookieFmt cookieFormat
}

// NewManager validates cfg, fills its zero fields with defaults, and opens
// its driver (cfg.Driver if set, else Open(cfg.DSN)). An invalid
// configuration or a DSN that does not open is an error; the DSN's
// password never appears in it.
func NewManager(cfg Config) (*Manager, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.PreviousDSN); err == nil && strings.EqualFold(u.Scheme, "memory") {
		return nil, fmt.Errorf("sessions: previous backend %s: an in-process store cannot be moved from (a new one is empty; the old one ended with its process)", RedactDSN(cfg.PreviousDSN))
	}
	ring, err := newKeyring(cfg.EncryptionKeys)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, driver: cfg.Driver, prev: cfg.PreviousDriver, ring: ring, cookieFmt: newCookieFormat(cfg)}
	if m.driver == nil {
		d, err := Open(cfg.DSN)
		if err != nil {
			return nil, err
		}
		m.driver, m.ownDriver = d, true
	}
	if m.prev == nil && cfg.PreviousDSN != "" {
		d, err := Open(cfg.PreviousDSN)
		if err != nil {
			if m.ownDriver {
				_ = m.driver.Close(context.Background())
			}
			return nil, fmt.Errorf("sessions: previous backend: %w", err)
		}
		m.prev, m.ownPrev = d, true
	}
	m.toucher, _ = m.driver.(Toucher)
	m.index, _ = m.driver.(UserIndexer)
	return m, nil
}

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

// Config returns the Manager's configuration with its defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// Driver returns the Manager's storage driver.
func (m *Manager) Driver() Driver { return m.driver }

// Close closes the drivers the Manager opened (a Config.Driver or
// Config.PreviousDriver given by the application is left open). Requests
// still in flight may fail.
func (m *Manager) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if m.ownDriver {
		errs = append(errs, m.driver.Close(ctx))
	}
	if m.ownPrev {
		errs = append(errs, m.prev.Close(ctx))
	}
	return errors.Join(errs...)
}

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

// report adds err to c.Errors and hands it to the error handler.
func (m *Manager) report(c *gin.Context, err error) {
	_ = c.Error(err)
	if h := m.cfg.ErrorHandler; h != nil {
		h(c, err)
		return
	}
	m.cfg.Logger.Error("sessions: request failed to use its session", "method", c.Request.Method, "path", c.Request.URL.Path, "error", err)
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
