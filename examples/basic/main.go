// Command basic is a runnable example of github.com/ginkit/sessions: a
// visit counter, a login that calls Refresh, and a logout that calls
// Destroy. It listens on :8080 (ADDR overrides) and keeps sessions where
// SESSION_DSN says, in memory by default:
//
//	go run ./examples/basic
//	SESSION_DSN=redis://localhost:6379/0 go run ./examples/basic
//	SESSION_DSN=file:///tmp/sessions go run ./examples/basic
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
)

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	log.Printf("listening on %s, sessions in %q (SESSION_DSN)", addr, os.Getenv("SESSION_DSN"))
	log.Fatal(newRouter().Run(addr))
}

func newRouter() *gin.Engine {
	r := gin.Default()
	r.Use(sessions.FromEnv())

	r.GET("/", func(c *gin.Context) {
		n := sessions.GetOr(c, "visits", 0) + 1
		sessions.Set(c, "visits", n)
		user, loggedIn := sessions.Get[string](c, "user")
		flash, _ := sessions.Pop[string](c, "flash")
		c.JSON(http.StatusOK, gin.H{"visits": n, "user": user, "logged_in": loggedIn, "flash": flash})
	})

	r.POST("/login", func(c *gin.Context) {
		name := c.PostForm("user")
		if name == "" {
			c.JSON(http.StatusBadRequest, gin.H{"error": "user is required"})
			return
		}
		// A new session ID at every change of privilege: the ID an attacker
		// may have planted before the login is dead from here on.
		if err := sessions.Refresh(c); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "could not start the session"})
			return
		}
		sessions.Set(c, "user", name)
		sessions.Set(c, "flash", "welcome, "+name)
		c.Redirect(http.StatusSeeOther, "/")
	})

	r.POST("/logout", func(c *gin.Context) {
		if err := sessions.Destroy(c); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "could not end the session"})
			return
		}
		sessions.Set(c, "flash", "logged out") // a new, anonymous session
		c.Redirect(http.StatusSeeOther, "/")
	})
	return r
}
