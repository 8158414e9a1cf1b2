package sessions_test

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/memory"
)

// do sends one request to r, with the cookies an earlier response set
// (those it did not delete) when prev is not nil, and returns the
// response. The examples and the tests of this package use it.
func do(r http.Handler, method, path string, prev *http.Response) *http.Response {
	req := httptest.NewRequest(method, path, nil)
	if prev != nil {
		for _, c := range prev.Cookies() {
			if c.MaxAge >= 0 {
				req.AddCookie(c)
			}
		}
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec.Result()
}

// body returns a response's body as a string.
func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The one-line set-up: the backend comes from SESSION_DSN (memory://,
// file:///dir, redis://…, memcached://…), the rest from the other
// SESSION_ variables.
func ExampleFromEnv() {
	gin.SetMode(gin.ReleaseMode)
	os.Setenv("SESSION_DSN", "memory://")
	defer os.Unsetenv("SESSION_DSN")

	r := gin.New()
	r.Use(sessions.FromEnv())
	r.GET("/", func(c *gin.Context) {
		n := sessions.GetOr(c, "visits", 0) + 1
		sessions.Set(c, "visits", n) // saved before the response goes out
		c.String(http.StatusOK, "visit %d", n)
	})

	first := do(r, "GET", "/", nil)
	fmt.Println(body(first))
	fmt.Println(body(do(r, "GET", "/", first)))
	// Output:
	// visit 1
	// visit 2
}

// A Manager built in code, with options; Close it on shutdown.
func ExampleNewManager() {
	gin.SetMode(gin.ReleaseMode)
	cfg := sessions.DefaultConfig() // memory://, 120-minute sliding lifetime, HttpOnly, SameSite=Lax
	cfg.DSN = "memory://?max_entries=50000"
	cfg.Lifetime = 30 * time.Minute
	cfg.AbsoluteLifetime = 12 * time.Hour
	cfg.CookieName = "sid"
	cfg.Secure = true // behind HTTPS
	m, err := sessions.NewManager(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	r := gin.New()
	r.Use(m.Handler())
	r.POST("/cart", func(c *gin.Context) {
		sessions.Set(c, "cart", []string{"apple"})
		c.Status(http.StatusNoContent)
	})
	ck := do(r, "POST", "/cart", nil).Cookies()[0]
	fmt.Println(ck.Name, ck.MaxAge, ck.HttpOnly, ck.Secure, ck.SameSite == http.SameSiteLaxMode)

	_, err = sessions.NewManager(sessions.Config{DSN: "redis://:s3cret@localhost:6379/x"})
	fmt.Println(err)
	// Output:
	// sid 1800 true true true
	// sessions: open redis://:xxxxx@localhost:6379/x: redis: path "/x": want /<database number>
}

// A login: a new ID for the session (against fixation), then the
// binding to the user, for "log out everywhere".
func ExampleRefresh() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(sessions.FromEnv())
	r.POST("/login", func(c *gin.Context) {
		// … check the password …
		if err := sessions.Refresh(c); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		if err := sessions.SetUser(c, "ada"); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "user %q", sessions.User(c)) })
	r.GET("/visit", func(c *gin.Context) { sessions.Set(c, "seen", true); c.Status(http.StatusNoContent) })

	anonymous := do(r, "GET", "/visit", nil)
	login := do(r, "POST", "/login", anonymous)
	fmt.Println("new ID after login:", login.Cookies()[0].Value != anonymous.Cookies()[0].Value)
	fmt.Println(body(do(r, "GET", "/me", login)))
	fmt.Println(body(do(r, "GET", "/me", anonymous)), "with the pre-login cookie")
	// Output:
	// new ID after login: true
	// user "ada"
	// user "" with the pre-login cookie
}

// Typed reads: Get reports whether the value is there and is a T; GetOr
// falls back; Pop reads and deletes, as for a one-time message.
func ExampleGet() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(sessions.FromEnv())
	r.GET("/set", func(c *gin.Context) {
		sessions.Set(c, "n", 42)
		sessions.Set(c, "notice", "saved")
		c.Status(http.StatusNoContent)
	})
	r.GET("/get", func(c *gin.Context) {
		n, ok := sessions.Get[int](c, "n")
		_, isString := sessions.Get[string](c, "n")
		theme := sessions.GetOr(c, "theme", "light")
		notice, _ := sessions.Pop[string](c, "notice")
		c.String(http.StatusOK, "%d %v %v %s %q", n, ok, isString, theme, notice)
	})
	set := do(r, "GET", "/set", nil)
	fmt.Println(body(do(r, "GET", "/get", set)))
	fmt.Println(body(do(r, "GET", "/get", set)))
	// Output:
	// 42 true false light "saved"
	// 42 true false light ""
}

// Put saves at once and returns the error, for a handler that must know
// the write happened before it goes on.
func ExamplePut() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(sessions.FromEnv())
	r.POST("/consent", func(c *gin.Context) {
		if err := sessions.Put(c, "consent", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.String(http.StatusOK, "recorded")
	})
	fmt.Println(body(do(r, "POST", "/consent", nil)))
	// Output:
	// recorded
}

// Logout: the record is deleted and the cookie expired.
func ExampleDestroy() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(sessions.FromEnv())
	r.POST("/login", func(c *gin.Context) { sessions.Set(c, "user", "ada"); c.Status(http.StatusNoContent) })
	r.POST("/logout", func(c *gin.Context) {
		if err := sessions.Destroy(c); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, sessions.GetOr(c, "user", "nobody")) })

	login := do(r, "POST", "/login", nil)
	logout := do(r, "POST", "/logout", login)
	fmt.Println("cookie expired:", logout.Cookies()[0].MaxAge < 0)
	fmt.Println(body(do(r, "GET", "/me", login)), "with the old cookie")
	// Output:
	// cookie expired: true
	// nobody with the old cookie
}

// A scheme of your own: here "tenant://name" gives each tenant its own
// bounded in-process store. SESSION_DSN=tenant://acme then selects it.
func ExampleRegister() {
	sessions.Register("tenant", func(u *url.URL) (sessions.Driver, error) {
		if u.Host == "" {
			return nil, fmt.Errorf("tenant: want tenant://name")
		}
		return memory.New(memory.Options{MaxEntries: 1000}), nil
	})
	d, err := sessions.Open("tenant://acme")
	fmt.Println(err, d != nil)
	_, err = sessions.Open("tenant://")
	fmt.Println(err)
	// Output:
	// <nil> true
	// sessions: open tenant://: tenant: want tenant://name
}

// A counter that no concurrent request can lose: fn runs on the value as
// stored when the session is saved, again if another request got there
// first. fn must be pure: it may run more than once.
func ExampleUpdate() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(sessions.FromEnv())
	r.POST("/cart/add", func(c *gin.Context) {
		items, err := sessions.Update(c, "cart", func(cart []string, _ bool) []string {
			return append(slices.Clone(cart), c.Query("item"))
		})
		if err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.String(http.StatusOK, "%v", items)
	})
	first := do(r, "POST", "/cart/add?item=apple", nil)
	fmt.Println(body(first))
	fmt.Println(body(do(r, "POST", "/cart/add?item=pear", first)))
	// Output:
	// [apple]
	// [apple pear]
}

// The "remember me" box of a login form: a persistent cookie when ticked,
// a browser-session cookie otherwise. The choice is kept with the session.
func ExampleRememberMe() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(sessions.FromEnv())
	r.POST("/login", func(c *gin.Context) {
		if err := sessions.Refresh(c); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		sessions.Set(c, "user", "ada")
		sessions.RememberMe(c, c.PostForm("remember") == "on")
		c.Status(http.StatusNoContent)
	})
	for _, form := range []string{"remember=on", ""} {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		ck := rec.Result().Cookies()[0]
		fmt.Printf("remember=%v: persistent=%v\n", form != "", ck.MaxAge > 0)
	}
	// Output:
	// remember=true: persistent=true
	// remember=false: persistent=false
}

// Browsers and API clients on one backend: two Managers over the same
// store (one DSN, or here one driver), a route group each. The API's
// Manager carries the token in a header (SESSION_HEADER), never in a
// cookie; a new token comes back in the same header.
func ExampleConfig_header() {
	gin.SetMode(gin.ReleaseMode)
	store := memory.New(memory.Options{})
	defer store.Close(context.Background())

	web := sessions.DefaultConfig()
	web.Driver = store
	api := web
	api.Header = "X-Auth-Token" // or "Authorization": Bearer tokens
	webM, _ := sessions.NewManager(web)
	apiM, _ := sessions.NewManager(api)
	defer webM.Close()
	defer apiM.Close()

	r := gin.New()
	count := func(c *gin.Context) {
		n, _ := sessions.Update(c, "n", func(n int, _ bool) int { return n + 1 })
		c.String(http.StatusOK, "%d", n)
	}
	r.Group("/", webM.Handler(), sessions.CSRF()).GET("/count", count)
	r.Group("/api", apiM.Handler()).POST("/count", count) // no CSRF needed: no ambient credential

	call := func(token string) *http.Response {
		req := httptest.NewRequest("POST", "/api/count", nil)
		if token != "" {
			req.Header.Set("X-Auth-Token", token)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec.Result()
	}
	first := call("")
	token := first.Header.Get("X-Auth-Token")
	fmt.Println(body(first), len(token), len(first.Cookies()))
	second := call(token)
	fmt.Println(body(second), second.Header.Get("X-Auth-Token") == "") // the same token: not re-sent
	// Output:
	// 1 43 0
	// 2 true
}

// CSRF protection for a cookie session's forms: CSRFToken in every form,
// CSRF() on the routes. A post without a valid token is refused.
func ExampleCSRF() {
	gin.SetMode(gin.ReleaseMode)
	m, _ := sessions.NewManager(sessions.DefaultConfig())
	defer m.Close()
	page := template.Must(template.New("form").Parse(
		`<form method="post" action="/transfer"><input type="hidden" name="csrf_token" value="{{.}}"><button>Send</button></form>`))

	r := gin.New()
	r.Use(m.Handler(), sessions.CSRF())
	r.GET("/", func(c *gin.Context) {
		var b strings.Builder
		_ = page.Execute(&b, sessions.CSRFToken(c))
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(b.String()))
	})
	r.POST("/transfer", func(c *gin.Context) { c.String(http.StatusOK, "sent") })

	form := do(r, "GET", "/", nil)
	html := body(form)
	token := html[strings.Index(html, `value="`)+7:]
	token = token[:strings.IndexByte(token, '"')]
	post := func(token string) *http.Response {
		req := httptest.NewRequest("POST", "/transfer", strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range form.Cookies() {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec.Result()
	}
	ok := post(token)
	fmt.Println(ok.StatusCode, body(ok))
	forged := post("")
	fmt.Println(forged.StatusCode, forged.Header.Get("Cache-Control"))
	// Output:
	// 200 sent
	// 403 no-store
}
