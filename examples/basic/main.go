// Command basic is a runnable example of github.com/ginkit/sessions: a
// visit counter, a login that calls Refresh and SetUser, a logout that
// calls Destroy, and a "your devices" page (/devices) that lists the
// user's sessions with a "log out other devices" button. It listens on :8080 (ADDR overrides) and keeps sessions where
// SESSION_DSN says, in memory by default:
//
//	go run ./examples/basic
//	SESSION_DSN=redis://localhost:6379/0 go run ./examples/basic
//	SESSION_DSN=file:///tmp/sessions go run ./examples/basic
package main

import (
	"html/template"
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
		// Bind the session to the user, so "your devices" can list it and
		// "log out other devices" can end the others.
		if err := sessions.SetUser(c, name); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "could not start the session"})
			return
		}
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
	r.GET("/devices", devicesPage)
	r.POST("/devices/logout-others", func(c *gin.Context) {
		if _, err := sessions.RevokeOtherSessions(c); err != nil {
			c.String(http.StatusBadRequest, "log in first: %v", err)
			return
		}
		sessions.Set(c, "flash", "other devices logged out")
		c.Redirect(http.StatusSeeOther, "/devices")
	})
	return r
}

var devicesTmpl = template.Must(template.New("devices").Parse(`<!doctype html>
<title>Your devices</title>
<h1>Your devices, {{.User}}</h1>
{{with .Flash}}<p><em>{{.}}</em></p>{{end}}
<table>
<tr><th>Device</th><th>IP</th><th>Signed in</th><th>Last seen</th><th></th></tr>
{{range .Sessions}}<tr><td>{{.UserAgent}}</td><td>{{.IP}}</td><td>{{.Created.Format "2006-01-02 15:04"}}</td><td>{{.LastSeen.Format "2006-01-02 15:04"}}</td><td>{{if eq .IDHash $.Current}}this device{{end}}</td></tr>
{{end}}</table>
<form method="post" action="/devices/logout-others"><button>Log out other devices</button></form>
`))

// devicesPage lists the signed-in user's sessions, from every instance of
// the app that shares the backend.
func devicesPage(c *gin.Context) {
	user := sessions.User(c)
	if user == "" {
		c.String(http.StatusUnauthorized, "log in first\n")
		return
	}
	list, err := sessions.ManagerOf(c).UserSessions(c.Request.Context(), user)
	if err != nil {
		c.String(http.StatusServiceUnavailable, "cannot list your devices: %v\n", err)
		return
	}
	flash, _ := sessions.Pop[string](c, "flash")
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	_ = devicesTmpl.Execute(c.Writer, map[string]any{
		"User": user, "Sessions": list, "Flash": flash, "Current": sessions.IDHash(c),
	})
}
