package sessions_test

// End-to-end security tests: a real Gin engine with the middleware, served
// over loopback by net/http/httptest, and browsers with real cookie jars
// (an attacker and a victim), on memory:// (and file:// where a complete
// dump of the store's bytes is wanted). Each test plays one attack from
// the threat model in SECURITY.md.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// secApp is the application under attack.
type secApp struct {
	m   *sessions.Manager
	d   sessions.Driver
	srv *httptest.Server
}

// newSecApp serves the routes below over dsn. mutate may change the config.
//
//	GET  /visit              an anonymous visit that stores something (a cart)
//	POST /login?user=U       Refresh, then SetUser and Set("user", U): a correct login
//	POST /login-no-refresh   the same without Refresh: the bug fixation exploits
//	GET  /me                 the logged-in user, or ""
//	GET  /tick               increments a counter in the session (constant activity)
//	PUT  /secret?k=K&v=V     stores a value
func newSecApp(t *testing.T, dsn string, mutate func(*sessions.Config)) *secApp {
	t.Helper()
	gin.SetMode(gin.TestMode)
	d, err := sessions.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	cfg := sessions.DefaultConfig()
	cfg.Driver = d
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := sessions.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	e := gin.New()
	e.Use(m.Handler())
	e.GET("/visit", func(c *gin.Context) {
		sessions.Set(c, "cart", []string{"book"})
		c.String(http.StatusOK, "welcome")
	})
	login := func(refresh bool) gin.HandlerFunc {
		return func(c *gin.Context) {
			if refresh {
				if err := sessions.Refresh(c); err != nil {
					c.String(http.StatusInternalServerError, "refresh: %v", err)
					return
				}
			}
			user := c.Query("user")
			if err := sessions.SetUser(c, user); err != nil {
				c.String(http.StatusInternalServerError, "set user: %v", err)
				return
			}
			sessions.Set(c, "user", user)
			c.String(http.StatusOK, "logged in as %s", user)
		}
	}
	e.POST("/login", login(true))
	e.POST("/login-no-refresh", login(false))
	e.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "%s", sessions.GetOr(c, "user", "")) })
	e.GET("/tick", func(c *gin.Context) {
		n := sessions.GetOr(c, "n", 0) + 1
		sessions.Set(c, "n", n)
		c.String(http.StatusOK, "%d", n)
	})
	e.PUT("/secret", func(c *gin.Context) {
		sessions.Set(c, c.Query("k"), c.Query("v"))
		c.String(http.StatusOK, "stored")
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &secApp{m: m, d: d, srv: srv}
}

// secBrowser is a browser: an HTTP client with its own cookie jar.
type secBrowser struct {
	t    *testing.T
	name string
	hc   *http.Client
	jar  *cookiejar.Jar
	base *url.URL
}

func (a *secApp) browser(t *testing.T, name string) *secBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(a.srv.URL)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &secBrowser{t: t, name: name, hc: &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second}, jar: jar, base: base}
}

// do sends one request and returns the status, the body and the session
// cookie the response set (nil if none).
func (b *secBrowser) do(method, path string) (int, string, *http.Cookie) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base.String()+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s: %s %s: %v", b.name, method, path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var set *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessions.DefaultCookieName {
			set = c
		}
	}
	return resp.StatusCode, string(body), set
}

// ok sends a request that must answer 200 and returns its body.
func (b *secBrowser) ok(method, path string) string {
	b.t.Helper()
	status, body, _ := b.do(method, path)
	if status != http.StatusOK {
		b.t.Fatalf("%s: %s %s = %d %q", b.name, method, path, status, body)
	}
	return body
}

// id returns the session cookie the browser holds, or "".
func (b *secBrowser) id() string {
	for _, c := range b.jar.Cookies(b.base) {
		if c.Name == sessions.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

// plant puts a session cookie into the browser, as an attacker does with
// a link, a sibling subdomain or a moment at the victim's keyboard.
func (b *secBrowser) plant(id string) {
	b.jar.SetCookies(b.base, []*http.Cookie{{Name: sessions.DefaultCookieName, Value: id, Path: "/"}})
}

// stored reports whether the store holds a record for session id.
func (a *secApp) stored(t *testing.T, id string) bool {
	t.Helper()
	rec, _, _, err := a.d.Load(context.Background(), core.StoreKey(id))
	if err != nil {
		t.Fatal(err)
	}
	return rec != nil
}

// secRandomID returns a well-formed session ID the server never issued.
func secRandomID(t *testing.T) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TestSecurityFixationDefeated: the attacker obtains a valid session ID
// (by visiting the site), plants it in the victim's browser, and waits for
// the victim to log in. The login handler calls Refresh before SetUser:
// the victim ends up under a new ID, the attacker's ID is dead (gone from
// the store) and never sees the user, and it cannot be revived by writing
// to it. A control run with a handler that forgets Refresh shows the same
// attack succeeding, so the test can tell the difference.
func TestSecurityFixationDefeated(t *testing.T) {
	for _, tc := range []struct {
		name    string
		login   string
		hijacks bool
	}{{"Refresh at login", "/login", false}, {"control: login without Refresh", "/login-no-refresh", true}} {
		t.Run(tc.name, func(t *testing.T) {
			a := newSecApp(t, "memory://", nil)
			attacker, victim := a.browser(t, "attacker"), a.browser(t, "victim")
			attacker.ok("GET", "/visit")
			fixed := attacker.id()
			if fixed == "" || !a.stored(t, fixed) {
				t.Fatal("the attacker got no stored session to plant")
			}
			victim.plant(fixed)
			if got := victim.ok("POST", tc.login+"?user=alice"); got != "logged in as alice" {
				t.Fatalf("login: %q", got)
			}
			if got := victim.ok("GET", "/me"); got != "alice" {
				t.Fatalf("the victim is not logged in: %q", got)
			}
			seen := attacker.ok("GET", "/me")
			if tc.hijacks {
				if seen != "alice" || victim.id() != fixed {
					t.Fatalf("control: without Refresh the attacker should ride the victim's login; saw %q", seen)
				}
				t.Logf("control: without Refresh, the planted ID %s… carries alice's login to the attacker", fixed[:6])
				return
			}
			if victim.id() == fixed {
				t.Fatal("the victim still holds the planted ID after login")
			}
			if seen != "" {
				t.Fatalf("the attacker's planted ID sees user %q", seen)
			}
			if a.stored(t, fixed) {
				t.Fatal("the planted ID still has a record after the login: Refresh must delete it")
			}
			// The dead ID cannot be brought back: a write through it starts
			// a new session under a new ID, with nothing of the victim's.
			_, _, set := attacker.do("GET", "/visit")
			if set == nil || set.Value == fixed || set.Value == victim.id() {
				t.Fatalf("a write through the dead ID got cookie %v; want a fresh ID", set)
			}
			if seen := attacker.ok("GET", "/me"); seen != "" {
				t.Fatalf("the attacker's fresh session sees %q", seen)
			}
			if got := victim.ok("GET", "/me"); got != "alice" {
				t.Fatalf("the victim lost the login: %q", got)
			}
		})
	}
}

// TestSecurityUnknownIDNeverAdopted: an attacker-chosen ID (well-formed,
// never issued) planted in the victim's browser is never adopted: not on
// a read, not on a write, not through a login. The victim always gets an
// ID from the server, and nothing is ever stored under the chosen one. A
// store key (what a dump shows) used as a cookie gets nothing either.
func TestSecurityUnknownIDNeverAdopted(t *testing.T) {
	a := newSecApp(t, "memory://", nil)
	victim, attacker := a.browser(t, "victim"), a.browser(t, "attacker")
	chosen := secRandomID(t)
	victim.plant(chosen)

	status, body, set := victim.do("GET", "/me")
	if status != http.StatusOK || body != "" || set != nil {
		t.Fatalf("a read with the chosen ID: %d %q, cookie %v; want nothing and no cookie", status, body, set)
	}
	for _, p := range []string{"/visit", "/login?user=alice"} {
		method := map[string]string{"/visit": "GET"}[p]
		if method == "" {
			method = "POST"
		}
		status, _, set := victim.do(method, p)
		if status != http.StatusOK || set == nil || set.Value == chosen {
			t.Fatalf("%s with the chosen ID: status %d, cookie %v; want a server-issued ID", p, status, set)
		}
		if a.stored(t, chosen) {
			t.Fatalf("%s stored a record under the attacker's chosen ID", p)
		}
	}
	if victim.id() == chosen || victim.ok("GET", "/me") != "alice" {
		t.Fatalf("the victim holds %q", victim.id())
	}
	attacker.plant(chosen)
	if seen := attacker.ok("GET", "/me"); seen != "" {
		t.Fatalf("the attacker's chosen ID sees %q", seen)
	}
	// The victim's store key is what a store dump shows: as a cookie it
	// is just another unknown ID.
	attacker.plant(core.StoreKey(victim.id()))
	if seen := attacker.ok("GET", "/me"); seen != "" {
		t.Fatalf("the victim's store key used as a cookie sees %q", seen)
	}
}

// TestSecurityAbsoluteLifetime: a session used constantly (a write every
// 25ms, each extending the idle deadline) still ends at its absolute
// lifetime, counted from the login; its cookie's expiry never promises
// more; after it, the ID is dead and the next write gets a new, empty
// session.
func TestSecurityAbsoluteLifetime(t *testing.T) {
	const absolute = time.Second
	a := newSecApp(t, "memory://", func(c *sessions.Config) {
		c.Lifetime = time.Hour
		c.AbsoluteLifetime = absolute
		c.TouchInterval = -1 // extend the idle deadline on every request
	})
	b := a.browser(t, "user")
	start := time.Now()
	b.ok("POST", "/login?user=alice")
	loggedIn := time.Now() // the session was created between start and now
	id := b.id()
	var lastAlive time.Duration
	ticks := 0
	for i := 0; i < 400 && time.Since(start) < absolute+3*time.Second; i++ {
		sent := time.Since(start)
		status, body, set := b.do("GET", "/tick")
		if status != http.StatusOK {
			t.Fatalf("tick %d: %d %q", i, status, body)
		}
		if b.id() != id {
			break // the session ended
		}
		ticks++
		lastAlive = sent
		if want := strconv.Itoa(ticks); body != want {
			t.Fatalf("tick %d answered %q; want %s", i, body, want)
		}
		if set != nil && set.Expires.After(loggedIn.Add(absolute+time.Second)) {
			t.Fatalf("at %v the cookie promises the session until %v, beyond the absolute lifetime (%v from login)",
				time.Since(start), set.Expires.Sub(loggedIn), absolute)
		}
		time.Sleep(25 * time.Millisecond)
	}
	ended := time.Since(start)
	if b.id() == id {
		t.Fatalf("the session was still alive %v after login; absolute lifetime %v", ended, absolute)
	}
	if lastAlive < absolute/2 {
		t.Fatalf("the session was last alive at %v: the test did not keep it active", lastAlive)
	}
	if lastAlive > loggedIn.Sub(start)+absolute {
		t.Fatalf("a request sent %v after login still found the session, past its absolute lifetime %v", lastAlive, absolute)
	}
	if a.stored(t, id) {
		t.Fatal("the expired session still has a record")
	}
	if got := b.ok("GET", "/me"); got != "" {
		t.Fatalf("after the absolute lifetime the user is still %q", got)
	}
	old := a.browser(t, "old cookie")
	old.plant(id)
	if got := old.ok("GET", "/me"); got != "" {
		t.Fatalf("the old ID still sees %q", got)
	}
	t.Logf("a session written every 25ms: %d requests, last alive %v after login, gone by %v (absolute lifetime %v)",
		ticks, lastAlive.Round(time.Millisecond), ended.Round(time.Millisecond), absolute)
}

// secDump is a thief's copy of the store: record keys (or file names) and
// their bytes.
type secDump map[string][]byte

// dumpDriver reads every record through the driver's Scanner, as a bulk
// tool (or an attacker with the store's credentials) would.
func dumpDriver(t *testing.T, d sessions.Driver) secDump {
	t.Helper()
	sc, ok := d.(sessions.Scanner)
	if !ok {
		t.Fatalf("%T cannot enumerate its records", d)
	}
	dump := secDump{}
	ctx := context.Background()
	err := sc.Scan(ctx, func(key string) error {
		rec, _, _, err := d.Load(ctx, key)
		if err != nil {
			return err
		}
		dump[key] = rec
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dump
}

// dumpFolder reads every byte of every file in dir (sessions, user index
// files, lock files), keyed by file name: the complete at-rest state of a
// file:// store.
func dumpFolder(t *testing.T, dir string) secDump {
	t.Helper()
	dump := secDump{}
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		dump[e.Name()] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dump
}

// TestSecurityStolenStoreDump logs in 12 users, refreshes some twice, and
// then steals the store: every record read through the driver (memory://)
// or every file of the folder (file://, index files included). The dump
// holds no usable cookie: no key or file name equals any session ID ever
// issued, live or dead, and no byte sequence equals an ID or its 32 raw
// bytes; the keys it does hold, used as cookies, log nobody in. With
// encryption on, none of the values, user IDs or user agents is readable
// either; the plaintext run shows they would otherwise be there.
func TestSecurityStolenStoreDump(t *testing.T) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	for _, store := range []string{"memory", "file"} {
		for _, encrypted := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s encrypted=%v", store, encrypted), func(t *testing.T) {
				dsn, dir := "memory://", ""
				if store == "file" {
					dir = t.TempDir()
					dsn = (&url.URL{Scheme: "file", Path: dir}).String()
				}
				a := newSecApp(t, dsn, func(c *sessions.Config) {
					if encrypted {
						c.EncryptionKeys = [][]byte{key}
					}
				})
				var ids, secrets []string
				var live []*secBrowser
				for i := range 12 {
					b := a.browser(t, fmt.Sprintf("user%02d", i))
					b.ok("GET", "/visit")
					ids = append(ids, b.id())
					user := fmt.Sprintf("user-%02d@example.com", i)
					card := fmt.Sprintf("4111-1111-1111-%04d", i)
					secrets = append(secrets, user, card)
					b.ok("POST", "/login?user="+url.QueryEscape(user))
					b.ok("PUT", "/secret?k=card&v="+card)
					ids = append(ids, b.id())
					if i%3 == 0 {
						b.ok("POST", "/login?user="+url.QueryEscape(user)) // a second login: another Refresh
						ids = append(ids, b.id())
					}
					live = append(live, b)
				}
				var dump secDump
				if store == "file" {
					dump = dumpFolder(t, dir)
				} else {
					dump = dumpDriver(t, a.d)
				}
				// A renewed session bound to a user leaves, for a minute, a
				// tombstone under its old key naming the new key (for a
				// revocation racing the renewal): no session, and nothing of
				// it (the secrets checks below cover every entry).
				records, tombstones := 0, 0
				for name := range dump {
					if !strings.HasSuffix(name, ".sess") && store != "memory" {
						continue
					}
					rec, _, _, err := a.d.Load(context.Background(), strings.TrimSuffix(name, ".sess"))
					if err != nil {
						t.Fatal(err)
					}
					if core.IsTombstone(rec) {
						tombstones++
						continue
					}
					records++
				}
				if want := len(live); records != want {
					t.Fatalf("the dump holds %d session records; want %d (one per live browser: Refresh retired the old ones)", records, want)
				}
				if want := 4; tombstones > want {
					t.Fatalf("the dump holds %d tombstones; want at most %d (one per second login)", tombstones, want)
				}
				for _, id := range ids {
					raw, err := base64.RawURLEncoding.DecodeString(id)
					if err != nil || len(raw) != 32 {
						t.Fatalf("issued ID %q is not 32 bytes of base64url", id)
					}
					for name, b := range dump {
						if strings.Contains(name, id) {
							t.Errorf("a dump entry is named after a session ID: %q", name)
						}
						if bytes.Contains(b, []byte(id)) || bytes.Contains(b, raw) {
							t.Errorf("dump entry %q holds a session ID", name)
						}
					}
				}
				// What the thief can try: each key of the dump as a cookie.
				thief := a.browser(t, "thief")
				for name := range dump {
					thief.plant(strings.TrimSuffix(strings.TrimSuffix(name, ".sess"), ".idx"))
					if seen := thief.ok("GET", "/me"); seen != "" {
						t.Errorf("dump key %q used as a cookie logs in as %q", name, seen)
					}
				}
				var all []byte
				for name, b := range dump {
					all = append(append(all, name...), b...)
				}
				var readable []string
				for _, s := range secrets {
					if bytes.Contains(all, []byte(s)) {
						readable = append(readable, s)
					}
				}
				ua := bytes.Contains(all, []byte("Go-http-client")) // the user agent SetUser records
				switch {
				case encrypted && (len(readable) > 0 || ua):
					t.Errorf("with encryption on, the dump shows plaintext: %d values %q, user agent %v", len(readable), readable, ua)
				case !encrypted && len(readable) < len(secrets):
					t.Errorf("control: without encryption only %d of %d values show in the dump; the dump is not what the store holds", len(readable), len(secrets))
				}
				for i, b := range live {
					if got := b.ok("GET", "/me"); got != fmt.Sprintf("user-%02d@example.com", i) {
						t.Errorf("browser %d lost its session: %q", i, got)
					}
				}
				t.Logf("%d IDs issued, %d live; dump of %d entries (%d bytes): no ID, no raw ID bytes, %d readable values",
					len(ids), len(live), len(dump), len(all), len(readable))
			})
		}
	}
}
