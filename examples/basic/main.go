// Command basic is a runnable example of github.com/ginkit/sessions: a
// small web app, every form of it protected by sessions.CSRF, with a visit counter (sessions.Update), a login form with a
// "remember me" box (Refresh, RememberMe, SetUser), a logout button
// (Destroy), a "your devices" page (/devices) that lists the user's
// sessions and logs out one device or all the others, and a live page
// (/live) whose event stream ends when the session does (Watch). Pages
// are HTML from html/template; a client whose Accept header prefers
// application/json gets JSON from every route instead. It listens on
// :8080 (ADDR overrides) and keeps sessions where SESSION_DSN says, in
// memory by default:
//
//	go run ./examples/basic
//	SESSION_DSN=redis://localhost:6379/0 go run ./examples/basic
//	SESSION_DSN=file:///tmp/sessions go run ./examples/basic
//	SESSION_DSN=postgres://app:pw@localhost/app go run ./examples/basic
//
// The SQL drivers are linked in below, as an application that uses one
// links it: with a blank import.
//
// Every SESSION_* variable of sessions.ConfigFromEnv applies.
package main

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	_ "github.com/ginkit/sessions/drivers/mysql"
	_ "github.com/ginkit/sessions/drivers/postgres"
	_ "github.com/ginkit/sessions/drivers/sqlite"
)

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	cfg, err := sessions.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	m, err := sessions.NewManager(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	dsn := cfg.DSN
	if dsn == "" {
		dsn = "memory://"
	}
	log.Printf("listening on %s, sessions in %s (SESSION_DSN)", addr, sessions.RedactDSN(dsn))
	srv := &http.Server{Addr: addr, Handler: newRouter(m.Handler()), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Print(err)
	}
}

// newRouter builds the app around a session middleware (a Manager's
// Handler), so tests choose the backend without environment variables.
func newRouter(session gin.HandlerFunc) *gin.Engine {
	r := gin.New()
	r.Use(gin.Logger(), gin.CustomRecovery(panicPage), pageHeaders)
	// The app is reached directly, not through a proxy: the client IP shown
	// on the devices page is the connection's, never a header a client can
	// set. Behind a reverse proxy, list its address here instead.
	_ = r.SetTrustedProxies(nil)
	r.HandleMethodNotAllowed = true
	r.NoRoute(notFound)
	r.NoMethod(methodNotAllowed)
	r.Use(session)

	// CSRF: every form carries a token (sessions.CSRFToken, rendered by
	// render into each form's csrf_token field), and sessions.CSRF refuses
	// any POST without a valid one with 403, unless the browser marks it
	// Sec-Fetch-Site: same-origin. A forged login from another site is
	// refused too. A JSON client reads the token from any page's
	// "csrf_token" and sends it in the X-CSRF-Token header.
	r.Use(sessions.CSRF())
	r.GET("/", home)
	r.GET("/login", loginPage)
	r.POST("/login", login)
	r.POST("/logout", logout)
	r.GET("/devices", devicesPage)
	r.POST("/devices/logout", logoutDevice)
	r.POST("/devices/logout-others", logoutOtherDevices)
	r.GET("/live", livePage)
	r.GET("/live/events", liveEvents)
	r.GET("/live.js", liveJS)
	return r
}
