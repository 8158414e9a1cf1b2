package main

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
)

// Pages: html/template files embedded from templates/, one layout around
// each page, and the error pages. No JavaScript but the live page's
// (live.go): every action is a form.

//go:embed templates/*.html
var templateFiles embed.FS

// pages maps a page name to its template: layout.html and the page's own
// file, parsed together so each page defines its "content".
var pages = parsePages("home", "login", "devices", "message", "live")

func parsePages(names ...string) map[string]*template.Template {
	funcs := template.FuncMap{"ago": ago, "stamp": stamp}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	out := make(map[string]*template.Template, len(names))
	for _, name := range names {
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFiles, "templates/"+name+".html"))
	}
	return out
}

// pageData is what every page template gets.
type pageData struct {
	Title   string
	User    string        // who is logged in, "" for a visitor
	Flash   string        // a one-time message
	Backend string        // the session store's kind: "memory", "redis", …
	csrf    func() string // sessions.CSRFToken of the request; nil on a page without forms

	Visits int // home

	Error    string // login: why the form was refused
	Name     string // login: the name typed
	Remember bool   // login: the box as it was

	Devices []device // devices

	Heading, Text, Link, LinkText string // message pages
	Plain                         bool   // message pages: the header shows no session state
}

// CSRFToken returns a CSRF token for one form of the page, a fresh one per
// call (sessions.CSRFToken), so no two forms show the same bytes; "" on a
// page that has no forms.
func (d pageData) CSRFToken() string {
	if d.csrf == nil {
		return ""
	}
	return d.csrf()
}

// wantsJSON reports whether the client prefers JSON to HTML: an Accept
// header that names application/json (or application/*) before text/html,
// as API clients send it. A browser, and a client with no Accept header or
// with */*, gets HTML. This is gin's negotiation: the first listed type
// that matches wins, and q-values are not weighed.
func wantsJSON(c *gin.Context) bool {
	return c.NegotiateFormat(gin.MIMEHTML, gin.MIMEJSON) == gin.MIMEJSON
}

// render executes page into a buffer, so a template error becomes a short
// 500 rather than half a page, and sends it with status.
func render(c *gin.Context, status int, page string, data pageData) {
	data.Backend = backend(c)
	if !data.Plain {
		data.csrf = func() string { return sessions.CSRFToken(c) }
	}
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		log.Printf("render %s: %v", page, err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("Something went wrong on our side. Please try again.\n"))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// backend names the kind of session store the request's Manager uses
// (the DSN's scheme), and no more: a page is no place for a host name.
func backend(c *gin.Context) string {
	m := sessions.ManagerOf(c)
	if m == nil {
		return ""
	}
	cfg := m.Config()
	if cfg.Driver != nil {
		return "" // a driver built in code: its DSN, if any, is not known
	}
	dsn := cfg.DSN
	if dsn == "" {
		return "memory"
	}
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Scheme
	}
	return ""
}

// message answers with a page that says one thing and offers one link, or
// with {"error": text} to a JSON client.
func message(c *gin.Context, status int, heading, text, link, linkText string) {
	if wantsJSON(c) {
		c.JSON(status, gin.H{"error": text})
		return
	}
	render(c, status, "message", pageData{Title: heading, Heading: heading, Text: text, Link: link, LinkText: linkText, Plain: true})
}

// storeDown is the answer when the session store failed: the session
// could not be loaded (sessions.LoadError), or a change could not be
// saved. 503 tells clients and load balancers to try again later; the
// page never shows the error itself (the middleware has logged it).
func storeDown(c *gin.Context) {
	c.Header("Retry-After", "5")
	message(c, http.StatusServiceUnavailable, "Please try again in a moment",
		"We cannot reach the place where sessions are kept right now, so we could not load or save yours. Nothing was lost on your side.",
		"/", "Try again")
}

// notLoggedIn is the answer to a page or action that needs a user.
func notLoggedIn(c *gin.Context) {
	if wantsJSON(c) {
		c.JSON(http.StatusUnauthorized, gin.H{"error": "log in first"})
		return
	}
	message(c, http.StatusUnauthorized, "Log in first", "This page lists the devices you are logged in on, so it needs to know who you are.", "/login", "Log in")
}

// noUserIndex is the answer when the backend keeps no per-user index.
func noUserIndex(c *gin.Context) {
	message(c, http.StatusNotImplemented, "Not available with this backend",
		"The session store in use cannot list a user's sessions, so there is no devices page.", "/", "Back home")
}

func notFound(c *gin.Context) {
	message(c, http.StatusNotFound, "Page not found", "There is no page at this address.", "/", "Back home")
}

func methodNotAllowed(c *gin.Context) {
	message(c, http.StatusMethodNotAllowed, "Use the buttons", "This address takes a form submission, not a visit.", "/", "Back home")
}

// panicPage is gin's recovery handler: gin logs the panic and its stack;
// the client gets a plain sentence.
func panicPage(c *gin.Context, _ any) {
	message(c, http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Please try again.", "/", "Back home")
	c.Abort()
}

// pageHeaders sets the headers of every response: pages depend on the
// session and on Accept, so no shared cache may keep them; the CSP allows
// the inline stylesheet and nothing else (the live page adds its one
// script file and its event stream: liveCSP).
func pageHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept, Cookie")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.Next()
}

// stamp formats a time for the devices page.
func stamp(t time.Time) string { return t.Format("2 Jan 2006, 15:04 MST") }

// ago says how long ago t was, roughly.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < 2*time.Minute:
		return "a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d/time.Minute))
	case d < 2*time.Hour:
		return "an hour ago"
	case d < 24*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d/time.Hour))
	}
	return stamp(t)
}
