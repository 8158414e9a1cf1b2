package main

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/testserver"
)

// The browser test drives headless Chromium through the example, on
// memory:// and on Redis: it logs in with and without "remember me" and
// reads the cookie as the browser stores it, counts visits across
// reloads, logs in a second device and logs it out from the other one —
// which also ends the live page open on it — and logs out. It installs nothing: without a browser it skips (or fails
// when CI is set, since `make test` installs Debian's chromium).
//
// UPDATE_SCREENSHOTS=1 writes the screenshots of the README to
// docs/screenshots/; otherwise they go to a temporary folder, so a test
// run never changes the tree.

// Every browser action runs under a deadline, so a browser that hangs
// fails the test instead of stalling CI: each subtest has stepsTimeout,
// the whole test (the browser's start included) testTimeout. The test
// takes 13 s on a quiet 2-core machine, about 30 s on a busy one.
const (
	testTimeout  = 2 * time.Minute
	stepsTimeout = 60 * time.Second
)

// phoneUA is the user agent of the second device, so the devices page
// tells the two apart as a person's phone and computer would be.
const phoneUA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"

// findBrowser returns the path of a Chromium or Chrome binary, or "".
func findBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

func TestBrowser(t *testing.T) {
	bin := findBrowser()
	if bin == "" {
		const msg = "no browser found (chromium, chromium-browser or google-chrome on PATH, or /usr/bin/chromium)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI is set, so the browser test fails instead of skipping: `make test` installs Debian's chromium package")
		}
		t.Skip(msg + ": the browser test needs one; install it with `apt-get install chromium`")
	}
	shots := t.TempDir()
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		shots = filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var output syncBuffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		// The test only loads its own server on 127.0.0.1. As root (a CI
		// container) Chromium does not start with its sandbox on.
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// No connection but to the test server: on a closed network,
		// Chromium otherwise waits on its background connections.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(800, 600),
		chromedp.CombinedOutput(&output),
	)...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	defer func() {
		if t.Failed() && output.Len() > 0 {
			t.Logf("browser output:\n%s", output.String())
		}
	}()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}

	// steps bounds one subtest's browser actions; the browser lives on.
	steps := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(browserCtx, stepsTimeout)
		t.Cleanup(cancel)
		return ctx
	}
	t.Run("memory", func(t *testing.T) {
		walkThrough(t, steps(t), memoryConfig(), shots)
	})
	t.Run("redis", func(t *testing.T) {
		addr, _ := testserver.StartRedis(t)
		cfg := sessions.DefaultConfig()
		cfg.DSN = "redis://" + addr + "/0"
		walkThrough(t, steps(t), cfg, "")
	})
	t.Run("remember me overrides SESSION_EXPIRE_ON_CLOSE", func(t *testing.T) {
		rememberMeOverridesDefault(t, steps(t))
	})
}

// walkThrough is the test proper, on one backend. ctx holds the running
// browser and the subtest's deadline; shots, if not empty, is where the
// screenshots go.
func walkThrough(t *testing.T, ctx context.Context, cfg sessions.Config, shots string) {
	cfg.WatchInterval = 200 * time.Millisecond // the live page ends within that
	srv, m := newTestServer(t, cfg)
	a := newDevice(t, ctx, srv.URL, "")

	// The counter goes up across reloads, as the page shows it.
	p := a.open("/")
	if p.Visits != 1 || p.User != "" || !p.LoginForm {
		t.Fatalf("first visit: %+v", p)
	}
	a.screenshot(shots, "home.png")
	for want := 2; want <= 3; want++ {
		if p := a.reload(); p.Visits != want {
			t.Fatalf("reload %d: the page shows %d visits: %+v", want-1, p.Visits, p)
		}
	}

	// Log in without "remember me": a browser-session cookie.
	p = a.login("ada", false)
	if p.User != "ada" || p.Flash != "welcome, ada" || p.Visits != 4 || p.LoginForm {
		t.Fatalf("after login: %+v", p)
	}
	c := a.cookie()
	if c == nil {
		t.Fatal("no session cookie after login")
	}
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Fatalf("cookie HttpOnly=%v SameSite=%q, want HttpOnly and Lax", c.HTTPOnly, c.SameSite)
	}
	if !c.Session || c.Expires > 0 {
		t.Fatalf("without remember me: cookie Session=%v Expires=%v, want a browser-session cookie", c.Session, c.Expires)
	}
	a.screenshot(shots, "logged-in.png")
	loggedIn := c.Value

	// Log out, then log in with "remember me": a persistent cookie.
	p = a.click("#logout")
	if p.User != "" || !p.LoginForm || p.Flash != "logged out" {
		t.Fatalf("after logout: %+v", p)
	}
	if c := a.cookie(); c != nil && c.Value == loggedIn {
		t.Fatal("after logout the browser still holds the logged-in cookie")
	}
	if p := a.login("ada", true); p.User != "ada" {
		t.Fatalf("login with remember me: %+v", p)
	}
	c = a.cookie()
	if c == nil || c.Session || time.Unix(int64(c.Expires), 0).Before(time.Now().Add(time.Hour)) {
		t.Fatalf("with remember me: cookie %+v, want one that expires in more than an hour", c)
	}

	// A second device: another browser context, as another browser would
	// be, logs in as the same user.
	b := newDevice(t, ctx, srv.URL, phoneUA)
	if p := b.open("/"); p.Visits != 1 || !p.LoginForm {
		t.Fatalf("second device, first visit: %+v", p)
	}
	if p := b.login("ada", false); p.User != "ada" {
		t.Fatalf("second device, login: %+v", p)
	}
	p = a.open("/devices")
	if p.Devices != 2 || p.Current != 1 || p.RevokeButtons != 1 || !p.LogoutOthers {
		t.Fatalf("devices page on the first device: %+v", p)
	}
	if !strings.Contains(p.Text, "Chrome on Android") {
		t.Fatalf("the devices page does not name the phone:\n%s", p.Text)
	}
	a.screenshot(shots, "devices.png")

	// "Log out other devices" on the second device ends the first one's
	// session, and with it the live page open on the first device; the
	// second stays logged in.
	a.open("/live")
	a.waitLive("live")
	if p := b.open("/devices"); p.Devices != 2 {
		t.Fatalf("devices page on the second device: %+v", p)
	}
	p = b.click("#logout-others")
	if p.Path != "/devices" || p.Devices != 1 || p.Current != 1 || p.Flash != "other devices logged out" {
		t.Fatalf("after logging out other devices: %+v", p)
	}
	a.waitLive("ended")
	if p := a.open("/"); p.User != "" || !p.LoginForm {
		t.Fatalf("the first device is still logged in: %+v", p)
	}
	if p := b.open("/"); p.User != "ada" {
		t.Fatalf("the second device was logged out too: %+v", p)
	}

	// Logout on the second device: the login form, and the logged-in
	// cookie gone (the page the logout lands on counts visits in a new,
	// anonymous session, so the browser may hold that one's cookie).
	loggedIn = b.cookie().Value
	p = b.click("#logout")
	if p.User != "" || !p.LoginForm {
		t.Fatalf("second device after logout: %+v", p)
	}
	if c := b.cookie(); c != nil && c.Value == loggedIn {
		t.Fatal("after logout the browser still holds the logged-in cookie")
	}
	if list, err := m.UserSessions(context.Background(), "ada"); err != nil || len(list) != 0 {
		t.Fatalf("after both devices logged out, the store still lists %d sessions of ada (%v)", len(list), err)
	}
}

// rememberMeOverridesDefault: with browser-session cookies as the default
// (SESSION_EXPIRE_ON_CLOSE=true), "remember me" still makes the cookie
// persistent, and logging in again without it makes it a session cookie
// again.
func rememberMeOverridesDefault(t *testing.T, ctx context.Context) {
	cfg := memoryConfig()
	cfg.ExpireOnClose = true
	srv, _ := newTestServer(t, cfg)
	a := newDevice(t, ctx, srv.URL, "")
	a.open("/")
	if c := a.cookie(); c == nil || !c.Session {
		t.Fatalf("anonymous cookie with ExpireOnClose: %+v, want a browser-session cookie", c)
	}
	a.open("/login")
	a.login("ada", true)
	if c := a.cookie(); c == nil || c.Session || time.Unix(int64(c.Expires), 0).Before(time.Now().Add(time.Hour)) {
		t.Fatalf("with remember me: %+v, want a persistent cookie", c)
	}
	a.open("/login")
	if p := a.login("ada", false); p.User != "ada" {
		t.Fatalf("login again: %+v", p)
	}
	if c := a.cookie(); c == nil || !c.Session {
		t.Fatalf("login again without remember me: %+v, want a browser-session cookie", c)
	}
}

// browserTab is one browser context, with its own cookies: a separate
// "device" for the app.
type browserTab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// newDevice opens a tab in a new browser context of the browser that ctx
// holds, on the app at base, with the user agent userAgent if not empty.
func newDevice(t *testing.T, ctx context.Context, base, userAgent string) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if userAgent != "" {
		if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: userAgent}); err != nil {
			t.Fatalf("set the user agent: %v", err)
		}
	}
	return &browserTab{t: t, ctx: ctx, base: base}
}

// page is what the test reads from the page the browser shows.
type page struct {
	Path          string `json:"path"`
	Title         string `json:"title"`
	User          string `json:"user"`
	Visits        int    `json:"visits"`
	Flash         string `json:"flash"`
	LoginForm     bool   `json:"loginForm"`
	Devices       int    `json:"devices"`
	Current       int    `json:"current"`
	RevokeButtons int    `json:"revokeButtons"`
	LogoutOthers  bool   `json:"logoutOthers"`
	Text          string `json:"text"`
}

const readPage = `(() => {
	const q = s => document.querySelector(s);
	const text = s => (q(s)?.textContent ?? "").trim();
	return {
		path: location.pathname,
		title: document.title,
		user: text("#whoami"),
		visits: Number(text("#visit-count")) || 0,
		flash: text("#flash"),
		loginForm: q("form#login") !== null,
		devices: document.querySelectorAll("li.device").length,
		current: document.querySelectorAll("li.device[data-current]").length,
		revokeButtons: document.querySelectorAll("form.revoke button").length,
		logoutOthers: q("#logout-others") !== null,
		text: document.body.innerText,
	};
})()`

// read returns what the current page shows.
func (d *browserTab) read() page {
	d.t.Helper()
	p, err := chromedp.Run(d.ctx, chromedp.Evaluate[page](readPage))
	if err != nil {
		d.t.Fatalf("read the page: %v", err)
	}
	return p
}

// open loads path and returns what it shows; the page must answer 200.
func (d *browserTab) open(path string) page {
	d.t.Helper()
	resp, err := chromedp.Run(d.ctx, chromedp.NavigateResponse(d.base+path))
	d.check("open "+path, resp, err)
	return d.read()
}

// reload reloads the page, as the browser's button does.
func (d *browserTab) reload() page {
	d.t.Helper()
	resp, err := chromedp.RunResponse(d.ctx, chromedp.Reload())
	d.check("reload", resp, err)
	return d.read()
}

// click clicks the button sel (a form's), waits for the page the form
// leads to, and returns what it shows.
func (d *browserTab) click(sel string) page {
	d.t.Helper()
	resp, err := chromedp.RunResponse(d.ctx, chromedp.Click(chromedp.CSS(sel)))
	d.check("click "+sel, resp, err)
	return d.read()
}

// login fills the login form of the current page and submits it.
func (d *browserTab) login(user string, remember bool) page {
	d.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#user"), user)}
	if remember {
		steps = append(steps, chromedp.Click(chromedp.CSS("#remember")))
	}
	if err := chromedp.Do(d.ctx, steps...); err != nil {
		d.t.Fatalf("fill the login form: %v", err)
	}
	return d.click(`#login button[type="submit"]`)
}

func (d *browserTab) check(what string, resp *network.Response, err error) {
	d.t.Helper()
	if err != nil {
		d.t.Fatalf("%s: %v", what, err)
	}
	if resp.Status != http.StatusOK {
		d.t.Fatalf("%s: status %d, want 200 (%s)", what, resp.Status, resp.URL)
	}
}

// waitLive waits until the live page shows state ("live" once its stream
// is watched, "ended" once the stream said the session ended; a stream
// that closes without saying so shows "closed"), within the subtest's
// deadline.
func (d *browserTab) waitLive(state string) {
	d.t.Helper()
	sel := `#live-status[data-state="` + state + `"]`
	if err := chromedp.Do(d.ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		p := d.read()
		d.t.Fatalf("the live page did not reach %q: %v\n%s", state, err, p.Text)
	}
}

// cookie returns the session cookie as the browser stores it, or nil.
func (d *browserTab) cookie() *network.Cookie {
	d.t.Helper()
	res, err := chromedp.Call(d.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{d.base}})
	if err != nil {
		d.t.Fatalf("read the cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == sessions.DefaultCookieName {
			return c
		}
	}
	return nil
}

// screenshot saves a full-page PNG of the current page as dir/name (when
// dir is not empty) and checks that it is a PNG of a real page.
func (d *browserTab) screenshot(dir, name string) {
	d.t.Helper()
	if dir == "" {
		return
	}
	img, err := chromedp.Run(d.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		d.t.Fatalf("screenshot %s: %v", name, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width < 300 || cfg.Height < 300 {
		d.t.Fatalf("screenshot %s: not a PNG of a page (%d bytes, %dx%d, %v)", name, len(img), cfg.Width, cfg.Height, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, img, 0o644); err != nil {
		d.t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		d.t.Fatalf("screenshot %s: %v", path, err)
	}
}

// syncBuffer collects the browser's output, written from another
// goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
