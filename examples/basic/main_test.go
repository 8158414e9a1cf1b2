package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/memory"
)

// newTestServer serves the app on 127.0.0.1 with sessions kept as cfg
// says, and returns the server and its Manager; both are closed when the
// test ends.
func newTestServer(t *testing.T, cfg sessions.Config) (*httptest.Server, *sessions.Manager) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	m, err := sessions.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	srv := httptest.NewServer(newRouter(m.Handler()))
	t.Cleanup(srv.Close)
	return srv, m
}

// memoryConfig is the example's default configuration on memory://.
func memoryConfig() sessions.Config {
	cfg := sessions.DefaultConfig()
	cfg.DSN = "memory://"
	return cfg
}

// acceptJSON makes every request of a client ask for JSON, as an API
// client does; the redirects it follows keep the header. Its posts pass
// sessions.CSRF as a browser's own form posts do (sameOrigin); TestCSRF
// posts with tokens instead.
type acceptJSON struct{}

func (acceptJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "application/json")
	return sameOrigin{}.RoundTrip(r)
}

// sameOrigin marks every request "Sec-Fetch-Site: same-origin", as a
// browser marks a post from the app's own page: sessions.CSRF lets it
// through without a token.
type sameOrigin struct{}

func (sameOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return http.DefaultTransport.RoundTrip(r)
}

// TestExample walks the example as an API client would: count, log in,
// count, log out, with JSON answers.
func TestExample(t *testing.T) {
	srv, _ := newTestServer(t, memoryConfig())
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: acceptJSON{}}

	decode := func(resp *http.Response, err error) map[string]any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s: Content-Type %q, want JSON", resp.Request.Method, resp.Request.URL.Path, ct)
		}
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	home := func() map[string]any { return decode(client.Get(srv.URL + "/")) }
	cookie := func() string {
		u, _ := url.Parse(srv.URL)
		for _, c := range jar.Cookies(u) {
			if c.Name == "session" {
				return c.Value
			}
		}
		return ""
	}

	if v := home()["visits"]; v != 1.0 {
		t.Fatalf("first visit = %v", v)
	}
	if v := home()["visits"]; v != 2.0 {
		t.Fatalf("second visit = %v", v)
	}
	before := cookie()
	// The client follows the login's redirect to the home page.
	body := decode(client.PostForm(srv.URL+"/login", url.Values{"user": {"ada"}}))
	if cookie() == before || cookie() == "" {
		t.Fatal("login did not give the session a new ID")
	}
	if body["user"] != "ada" || body["logged_in"] != true || body["visits"] != 3.0 || body["flash"] != "welcome, ada" {
		t.Fatalf("after login: %v", body)
	}
	if body := home(); body["flash"] != "" || body["visits"] != 4.0 {
		t.Fatalf("the flash message shows once: %v", body)
	}
	// A second device logs in as ada; the devices page lists both, and
	// "log out other devices" ends the first device's session.
	jar2, _ := cookiejar.New(nil)
	other := &http.Client{Jar: jar2, Transport: acceptJSON{}}
	decode(other.PostForm(srv.URL+"/login", url.Values{"user": {"ada"}}))
	type devicesBody struct {
		User    string   `json:"user"`
		Flash   string   `json:"flash"`
		Devices []device `json:"devices"`
	}
	devices := func(resp *http.Response, err error) devicesBody {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b devicesBody
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	p := devices(client.Get(srv.URL + "/devices"))
	if len(p.Devices) != 2 || p.User != "ada" {
		t.Fatalf("devices page does not list both sessions: %+v", p)
	}
	if p.Devices[0].Current == p.Devices[1].Current {
		t.Fatalf("exactly one device should be this one: %+v", p.Devices)
	}
	// The client follows the redirect back to the devices page.
	if p := devices(other.PostForm(srv.URL+"/devices/logout-others", nil)); len(p.Devices) != 1 || !p.Devices[0].Current || p.Flash != "other devices logged out" {
		t.Fatalf("after logging out other devices: %+v", p)
	}
	if body := home(); body["logged_in"] != false {
		t.Fatalf("the first device is still logged in: %v", body)
	}

	body = decode(client.PostForm(srv.URL+"/logout", nil))
	if body["logged_in"] != false || body["flash"] != "logged out" {
		t.Fatalf("after logout: %v", body)
	}
}

// get fetches path with the Accept header accept (none if empty) and
// returns the response with its body read.
func get(t *testing.T, c *http.Client, method, target, accept string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// browserAccept is the Accept header Chromium sends for a page.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"

// TestPages checks the HTML side: what each page says, the status codes,
// and that JSON goes only to clients that prefer it.
func TestPages(t *testing.T) {
	srv, _ := newTestServer(t, memoryConfig())
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: sameOrigin{}}
	noRedirect := &http.Client{Jar: jar, Transport: sameOrigin{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, accept := range []string{"", browserAccept, "*/*", "text/html, application/json"} {
		resp, body := get(t, client, "GET", srv.URL+"/", accept, nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("Accept %q: %d %q, want an HTML page", accept, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, want := range []string{`<meta name="viewport"`, `<form id="login" method="post" action="/login">`, `name="remember"`, `id="visit-count"`} {
			if !strings.Contains(body, want) {
				t.Fatalf("home page lacks %s:\n%s", want, body)
			}
		}
		if strings.Contains(body, "<script") {
			t.Fatal("the page has a script")
		}
	}
	for _, accept := range []string{"application/json", "application/json, text/html", "application/*"} {
		resp, body := get(t, client, "GET", srv.URL+"/", accept, nil)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"visits"`) {
			t.Fatalf("Accept %q: %q %s, want JSON", accept, resp.Header.Get("Content-Type"), body)
		}
	}
	if resp, _ := get(t, client, "GET", srv.URL+"/", "", nil); !strings.Contains(resp.Header.Get("Vary"), "Accept") {
		t.Fatalf("Vary = %q: a cache could serve HTML to a JSON client", resp.Header.Get("Vary"))
	}

	// Not logged in: a page with a link to the login form.
	resp, body := get(t, client, "GET", srv.URL+"/devices", "", nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `<a href="/login">`) {
		t.Fatalf("/devices, not logged in: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := get(t, client, "GET", srv.URL+"/login", "", nil); resp.StatusCode != 200 || !strings.Contains(body, `<form id="login"`) {
		t.Fatalf("/login: %d\n%s", resp.StatusCode, body)
	}
	resp, body = get(t, client, "POST", srv.URL+"/devices/logout-others", "", url.Values{})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `<a href="/login">`) {
		t.Fatalf("log out other devices, not logged in: %d\n%s", resp.StatusCode, body)
	}

	// Login errors show the form again, with the reason.
	resp, body = get(t, client, "POST", srv.URL+"/login", "", url.Values{"user": {"  "}, "remember": {"on"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "user is required") || !strings.Contains(body, " checked>") {
		t.Fatalf("empty user: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = get(t, client, "POST", srv.URL+"/login", "", url.Values{"user": {strings.Repeat("x", 65)}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a 65-character name: %d", resp.StatusCode)
	}

	// A login answers 303 (post, redirect, get), and the page escapes the
	// name.
	resp, _ = get(t, noRedirect, "POST", srv.URL+"/login", "", url.Values{"user": {"<b>ada</b>"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = get(t, client, "GET", srv.URL+"/", "", nil)
	if !strings.Contains(body, "&lt;b&gt;ada&lt;/b&gt;") || strings.Contains(body, "<b>ada</b>") {
		t.Fatalf("the user name is not escaped:\n%s", body)
	}
	if !strings.Contains(body, `id="flash"`) || !strings.Contains(body, `action="/logout"`) {
		t.Fatalf("after login, the home page lacks the flash or the logout button:\n%s", body)
	}
	resp, body = get(t, client, "GET", srv.URL+"/devices", "", nil)
	if resp.StatusCode != 200 || strings.Count(body, `class="card device"`) != 1 || !strings.Contains(body, "this device") || strings.Contains(body, `action="/devices/logout"`) {
		t.Fatalf("devices page with one device:\n%s", body)
	}
	// This device cannot be "logged out" as another one.
	resp, _ = get(t, client, "POST", srv.URL+"/devices/logout", "", url.Values{"device": {""}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("log out device without a device: %d", resp.StatusCode)
	}

	// Unknown routes and methods.
	resp, body = get(t, client, "GET", srv.URL+"/nope", "", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Page not found") || !strings.Contains(body, `<a href="/">`) {
		t.Fatalf("/nope: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := get(t, client, "GET", srv.URL+"/nope", "application/json", nil); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"error"`) {
		t.Fatalf("/nope as JSON: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, client, "GET", srv.URL+"/logout", "", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /logout: %d", resp.StatusCode)
	}
}

// TestLogOutOneDevice logs out another device with its own button.
func TestLogOutOneDevice(t *testing.T) {
	srv, m := newTestServer(t, memoryConfig())
	a, b := newClient(), newClient()
	for _, c := range []*http.Client{a, b} {
		if resp, _ := get(t, c, "POST", srv.URL+"/login", "", url.Values{"user": {"ada"}}); resp.StatusCode != 200 {
			t.Fatalf("login: %d", resp.StatusCode)
		}
	}
	list, err := m.UserSessions(context.Background(), "ada")
	if err != nil || len(list) != 2 {
		t.Fatalf("UserSessions = %v, %v", list, err)
	}
	_, body := get(t, a, "GET", srv.URL+"/devices", "", nil)
	var other string
	for _, s := range list {
		if strings.Contains(body, `value="`+s.IDHash+`"`) {
			other = s.IDHash
		}
	}
	if other == "" || strings.Count(body, `action="/devices/logout"`) != 1 {
		t.Fatalf("the devices page should offer to log out exactly the other device:\n%s", body)
	}
	resp, body := get(t, a, "POST", srv.URL+"/devices/logout", "", url.Values{"device": {other}})
	if resp.StatusCode != 200 || !strings.Contains(body, "device logged out") || strings.Count(body, `class="card device"`) != 1 {
		t.Fatalf("after logging out the other device: %d\n%s", resp.StatusCode, body)
	}
	if _, body := get(t, b, "GET", srv.URL+"/", "application/json", nil); !strings.Contains(body, `"logged_in":false`) {
		t.Fatalf("the other device is still logged in: %s", body)
	}
	if _, body := get(t, a, "GET", srv.URL+"/", "application/json", nil); !strings.Contains(body, `"logged_in":true`) {
		t.Fatalf("this device was logged out: %s", body)
	}
}

func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: sameOrigin{}}
}

// flakyDriver is the memory driver with a switch that makes every store
// call fail, as a store outage does.
type flakyDriver struct {
	*memory.Driver
	down atomic.Bool
}

var errDown = errors.New("flaky: the store is down")

func (d *flakyDriver) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	if d.down.Load() {
		return nil, 0, time.Time{}, errDown
	}
	return d.Driver.Load(ctx, key)
}

func (d *flakyDriver) Save(ctx context.Context, key string, record []byte, version uint64, ttl time.Duration) (bool, error) {
	if d.down.Load() {
		return false, errDown
	}
	return d.Driver.Save(ctx, key, record, version, ttl)
}

func (d *flakyDriver) Touch(ctx context.Context, key string, ttl time.Duration) error {
	if d.down.Load() {
		return errDown
	}
	return d.Driver.Touch(ctx, key, ttl)
}

func (d *flakyDriver) Delete(ctx context.Context, key string) error {
	if d.down.Load() {
		return errDown
	}
	return d.Driver.Delete(ctx, key)
}

func (d *flakyDriver) IndexUser(ctx context.Context, user, key string, expires time.Time) error {
	if d.down.Load() {
		return errDown
	}
	return d.Driver.IndexUser(ctx, user, key, expires)
}

func (d *flakyDriver) UserKeys(ctx context.Context, user string) ([]string, error) {
	if d.down.Load() {
		return nil, errDown
	}
	return d.Driver.UserKeys(ctx, user)
}

// TestStoreDown: while the store fails, every page that needs the session
// answers 503 with a sentence and a link back, never a login form for a
// logged-in user and never the error's text.
func TestStoreDown(t *testing.T) {
	drv := &flakyDriver{Driver: memory.New(memory.Options{})}
	t.Cleanup(func() { _ = drv.Close(context.Background()) })
	cfg := memoryConfig()
	cfg.Driver = drv
	cfg.ErrorHandler = func(*gin.Context, error) {} // expected errors: keep the test output quiet
	srv, _ := newTestServer(t, cfg)
	client := newClient()
	if resp, _ := get(t, client, "POST", srv.URL+"/login", "", url.Values{"user": {"ada"}}); resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	drv.down.Store(true)
	check := func(what string, resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s: status %d, want 503\n%s", what, resp.StatusCode, body)
		}
		if !strings.Contains(body, "Please try again") || !strings.Contains(body, `<a href="/">`) {
			t.Fatalf("%s: the page lacks its sentence or its link:\n%s", what, body)
		}
		if strings.Contains(body, errDown.Error()) || strings.Contains(body, "goroutine") || strings.Contains(body, `id="login"`) {
			t.Fatalf("%s: the page shows the error or a login form:\n%s", what, body)
		}
	}
	for _, path := range []string{"/", "/devices", "/login"} {
		resp, body := get(t, client, "GET", srv.URL+path, "", nil)
		check("GET "+path, resp, body)
	}
	for _, path := range []string{"/login", "/logout", "/devices/logout-others"} {
		resp, body := get(t, client, "POST", srv.URL+path, "", url.Values{"user": {"ada"}})
		check("POST "+path, resp, body)
	}
	// A visitor without a session: the counter's Update fails.
	resp, body := get(t, newClient(), "GET", srv.URL+"/", "", nil)
	check("a new visitor", resp, body)
	if resp, body := get(t, client, "GET", srv.URL+"/", "application/json", nil); resp.StatusCode != 503 || !strings.Contains(body, `"error"`) {
		t.Fatalf("JSON while the store is down: %d %s", resp.StatusCode, body)
	}

	drv.down.Store(false)
	if _, body := get(t, client, "GET", srv.URL+"/", "application/json", nil); !strings.Contains(body, `"user":"ada"`) {
		t.Fatalf("after the outage the user should still be logged in: %s", body)
	}
}

func TestDeviceName(t *testing.T) {
	for ua, want := range map[string]string{
		"": "Unknown device",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0":                   "Edge on Windows",
		"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0":                                                                  "Firefox on Linux",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36":                       "Chrome on Android",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15":                      "Safari on macOS",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36":                           "Headless Chrome on Linux",
		"curl/8.5.0":         "curl",
		"Go-http-client/1.1": "Go HTTP client",
		"something else":     "Other device",
	} {
		if got := deviceName(ua); got != want {
			t.Errorf("deviceName(%q) = %q, want %q", ua, got, want)
		}
	}
}

// TestCSRF posts as a client that does not mark its requests (an older
// browser, or a forged form on another site): every form of the app
// carries a token that lets its post through, and a post without one, or
// marked cross-site, is refused with 403 and changes nothing.
func TestCSRF(t *testing.T) {
	srv, _ := newTestServer(t, memoryConfig())
	client := newClient()
	client.Transport = nil // no Sec-Fetch-Site
	token := func(body string, form string) string {
		t.Helper()
		i := strings.Index(body, form)
		if i < 0 {
			t.Fatalf("no %s on the page:\n%s", form, body)
		}
		const field = `name="csrf_token" value="`
		j := strings.Index(body[i:], field)
		if j < 0 {
			t.Fatalf("%s carries no csrf_token:\n%s", form, body[i:])
		}
		v := body[i+j+len(field):]
		return v[:strings.IndexByte(v, '"')]
	}
	post := func(path string, form url.Values, fetchSite string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if fetchSite != "" {
			req.Header.Set("Sec-Fetch-Site", fetchSite)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// A forged login (no session, no token) is refused.
	if resp, _ := post("/login", url.Values{"user": {"mallory"}}, ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without a token: %d", resp.StatusCode)
	}
	_, home := get(t, client, "GET", srv.URL+"/", "", nil)
	loginTok := token(home, `<form id="login"`)
	if resp, _ := post("/login", url.Values{"user": {"ada"}}, "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", resp.StatusCode)
	}
	if resp, body := post("/login", url.Values{"user": {"ada"}, "csrf_token": {loginTok}}, ""); resp.StatusCode != 200 || !strings.Contains(body, "welcome, ada") {
		t.Fatalf("login with the form's token: %d\n%s", resp.StatusCode, body)
	}
	// Logged in: the devices page's forms and the logout button carry tokens.
	other := newClient()
	if resp, _ := get(t, other, "POST", srv.URL+"/login", "", url.Values{"user": {"ada"}}); resp.StatusCode != 200 {
		t.Fatalf("second device: %d", resp.StatusCode)
	}
	_, devices := get(t, client, "GET", srv.URL+"/devices", "", nil)
	one, all, out := token(devices, `action="/devices/logout"`), token(devices, `action="/devices/logout-others"`), token(devices, `action="/logout"`)
	if one == all || all == out {
		t.Fatal("the tokens of one page repeat")
	}
	if resp, _ := post("/devices/logout-others", url.Values{}, ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("log out other devices without a token: %d", resp.StatusCode)
	}
	if resp, body := post("/devices/logout-others", url.Values{"csrf_token": {all}}, ""); resp.StatusCode != 200 || !strings.Contains(body, "other devices logged out") {
		t.Fatalf("log out other devices with the form's token: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := post("/logout", url.Values{}, "same-site"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("same-site logout without a token: %d", resp.StatusCode)
	}
	if _, body := get(t, client, "GET", srv.URL+"/", "", nil); !strings.Contains(body, `id="whoami">ada<`) {
		t.Fatal("a refused logout logged the user out")
	}
	if resp, body := post("/logout", url.Values{"csrf_token": {out}}, ""); resp.StatusCode != 200 || !strings.Contains(body, "logged out") {
		t.Fatalf("logout with the button's token: %d\n%s", resp.StatusCode, body)
	}
}
