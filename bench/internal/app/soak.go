package app

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
)

// Soak turns a ginkit server into the soak's server (cmd/soak): the
// benchmark's three routes plus
//
//	GET /login?user=ID  Refresh (a new ID, as the README's login advice
//	                    says), then SetUser(ID); 503 if either fails
//	GET /logout         Destroy, then a flash message "logged out", which
//	                    starts a new anonymous session under a new ID (as
//	                    a site that says "you have been logged out" does),
//	                    so a logout hands the client a new cookie; 503 if
//	                    Destroy fails
//	GET /fail           always 500: lets a test prove that the soak sees
//	                    a failing request
//	GET /leak           starts a goroutine that never ends: lets a test
//	                    prove that the soak sees the server's goroutines
//	                    grow
//
// and sizes the memory driver to hold its sessions. A nil *Soak changes
// nothing: the benchmark's servers leave Spec.Soak unset.
type Soak struct {
	// MaxEntries is the memory driver's max_entries (its default,
	// 100,000, when 0). The memory driver splits it over shards, so a
	// store that must hold N sessions without evicting one needs more
	// than N.
	MaxEntries int
}

// dsn returns the store's DSN with the soak's sizing applied.
func (s *Soak) dsn(spec Spec, dsn string) (string, error) {
	if s == nil || spec.Store != "memory" || s.MaxEntries <= 0 {
		return dsn, nil
	}
	return withOptions(dsn, "max_entries", strconv.Itoa(s.MaxEntries))
}

// leaked holds the goroutines /leak starts, so that they stay blocked.
var leaked = make(chan struct{})

// routes adds the soak's routes to r (a ginkit engine).
func (s *Soak) routes(r *gin.Engine) {
	if s == nil {
		return
	}
	r.GET("/login", func(c *gin.Context) {
		user := c.Query("user")
		if user == "" {
			c.String(http.StatusBadRequest, "want ?user=")
			return
		}
		if err := sessions.Refresh(c); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		if err := sessions.SetUser(c, user); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, user)
	})
	r.GET("/logout", func(c *gin.Context) {
		if err := sessions.Destroy(c); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		sessions.AddFlash(c, "logged out")
		c.String(http.StatusOK, "bye")
	})
	r.GET("/fail", func(c *gin.Context) { c.String(http.StatusInternalServerError, "failing on purpose") })
	r.GET("/leak", func(c *gin.Context) {
		go func() { <-leaked }()
		c.String(http.StatusOK, "leaked")
	})
}
