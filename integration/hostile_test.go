package integration

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// hostileCookies are session cookie values no client of ours ever holds.
func hostileCookies(t *testing.T, victim string) []struct{ name, value string } {
	a42 := strings.Repeat("A", 42)
	return []struct{ name, value string }{
		{"dot-dot-slash", "../../../../etc/passwd"},
		{"dot-dot-slash, 43 chars", "../" + strings.Repeat("A", 40)},
		{"slash", "/"},
		{"slash inside, 43 chars", strings.Repeat("A", 21) + "/" + strings.Repeat("A", 21)},
		{"backslashes", `..\..\..\windows\win.ini`},
		{"NUL, 43 chars", strings.Repeat("A", 21) + "\x00" + strings.Repeat("A", 21)},
		{"control bytes", "\x01\x02\x1b[31m\x7f" + strings.Repeat("A", 38)},
		{"tab", strings.Repeat("A", 21) + "\t" + strings.Repeat("A", 21)},
		{"10 KB", strings.Repeat("A", 10<<10)},
		{"victim ID plus 10 KB", victim + strings.Repeat("x", 10<<10)},
		{"victim ID minus its last char", victim[:len(victim)-1]},
		{"non-ASCII", "ÄÖÜ"},
		{"non-ASCII, 43 bytes", strings.Repeat("é", 21) + "A"},
		{"invalid base64url, 43 chars", strings.Repeat("A", 40) + "+/="},
		{"dot, 43 chars", a42 + "."},
		{"non-canonical last char", a42 + "B"},
		{"percent-encoded", "%2e%2e%2f%00" + strings.Repeat("A", 31)},
		{"unknown well-formed ID", sessionstest.Key(t)},
		{"empty", ""},
	}
}

// TestHostileCookies sends malformed and hostile session cookies to a
// real server over each backend: never a 5xx, never a panic, nothing
// found on a read, a fresh session (a new, well-formed ID that works)
// on a write; the other users' sessions are untouched and the store
// server stays up.
//
// Each cookie goes through the real HTTP stack (with a raw TCP request
// when Go's client refuses to send the bytes; Go's server then answers
// 400 before any handler runs) and, to reach the middleware with the
// bytes as they are, straight into the Gin engine as well.
func TestHostileCookies(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dsn, alive := b.start(t)
			a := newApp(t, dsn, nil)
			victim := newSessionVia(t, a, "secret", "s3cr3t")
			fresh := map[string]bool{}

			for _, h := range hostileCookies(t, victim) {
				header := sessions.DefaultCookieName + "=" + h.value
				via := map[string]func(method, path string) response{
					"engine": func(method, path string) response { return serveDirect(a, method, path, header) },
				}
				if sendable(header) {
					via["http"] = func(method, path string) response { return sendCookie(method, a.Srv.URL+path, header) }
				} else {
					via["raw tcp"] = func(method, path string) response { return sendRaw(a.Srv.URL, method, path, header) }
				}
				for how, do := range via {
					r := do("GET", "/kv/secret")
					if r.Err != nil || r.Status >= 500 {
						t.Errorf("%s via %s: GET = %v; want no 5xx", h.name, how, r)
					} else if r.Status == http.StatusOK {
						if v, err := r.kv(); err != nil || v.Found {
							t.Errorf("%s via %s: GET found %q", h.name, how, r.Body)
						}
					}
					if r.Cookie != nil {
						t.Errorf("%s via %s: a read set the session cookie %v", h.name, how, r.Cookie)
					}

					r = do("PUT", "/kv/mine?v="+url.QueryEscape(h.name))
					if r.Err != nil || r.Status >= 500 {
						t.Errorf("%s via %s: PUT = %v; want no 5xx", h.name, how, r)
						continue
					}
					if r.Status != http.StatusOK {
						continue // rejected by net/http before the middleware
					}
					if r.Cookie == nil {
						t.Errorf("%s via %s: a write set no session cookie", h.name, how)
						continue
					}
					id := r.Cookie.Value
					if id == h.value || id == victim || fresh[id] || !wellFormed(id) {
						t.Errorf("%s via %s: the write got session ID %q; want a fresh, well-formed one", h.name, how, id)
						continue
					}
					fresh[id] = true
					if v, ok := readVia(t, a, id, "mine"); !ok || v != h.name {
						t.Errorf("%s via %s: the fresh session reads back %q, %v", h.name, how, v, ok)
					}
					if _, ok := readVia(t, a, id, "secret"); ok {
						t.Errorf("%s via %s: the fresh session sees another user's data", h.name, how)
					}
				}
			}

			if v, ok := readVia(t, a, victim, "secret"); !ok || v != "s3cr3t" {
				t.Errorf("the victim's session reads %q, %v after the attack; want it untouched", v, ok)
			}
			if errs := a.Errs.All(); len(errs) > 0 {
				t.Errorf("the middleware reported errors: %v", errs)
			}
			if err := alive(); err != nil {
				t.Errorf("the %s server died: %v", b.name, err)
			}
			if b.name == "redis" {
				// Nothing but hashed keys ever reached the store.
				keys, err := testserver.RedisCommand(strings.TrimPrefix(dsn, "redis://"), "KEYS", "*")
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range strings.Fields(keys) {
					if !strings.HasPrefix(k, "sess:") || !wellFormed(strings.TrimPrefix(k, "sess:")) {
						t.Errorf("the store holds key %q; want only prefix + hashed IDs", k)
					}
				}
				if n := len(strings.Fields(keys)); n != len(fresh)+1 {
					t.Errorf("the store holds %d keys; want %d (the victim and each fresh session)", n, len(fresh)+1)
				}
			}
		})
	}
}

// sendable reports whether Go's HTTP client agrees to send v as a header
// value: no control bytes other than tab.
func sendable(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// wellFormed reports whether id looks like an ID the library issues.
func wellFormed(id string) bool { return idShape.MatchString(id) }

var idShape = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// serveDirect runs one request through the app's Gin engine without the
// HTTP server, so header bytes that net/http would refuse reach the
// middleware.
func serveDirect(a *app, method, path, cookieHeader string) response {
	r := response{Start: time.Now()}
	req := httptest.NewRequest(method, path, nil)
	req.Header["Cookie"] = []string{cookieHeader}
	rec := httptest.NewRecorder()
	a.Engine.ServeHTTP(rec, req)
	r.Took = time.Since(r.Start)
	r.Status, r.Body = rec.Code, rec.Body.String()
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == sessions.DefaultCookieName {
			r.Cookie = ck
		}
	}
	return r
}

// sendRaw writes one HTTP/1.1 request by hand over TCP, with the Cookie
// header exactly as given, and reads the response.
func sendRaw(srvURL, method, path, cookieHeader string) response {
	r := response{Start: time.Now()}
	u, err := url.Parse(srvURL)
	if err != nil {
		r.Err = err
		return r
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		r.Err = err
		return r
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		method, path, u.Host, cookieHeader)
	if err != nil {
		r.Err = err
		return r
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		r.Err = err
		return r
	}
	defer resp.Body.Close()
	var body strings.Builder
	_, err = bufio.NewReader(resp.Body).WriteTo(&body)
	r.Took = time.Since(r.Start)
	r.Status, r.Body, r.Err = resp.StatusCode, body.String(), err
	for _, ck := range resp.Cookies() {
		if ck.Name == sessions.DefaultCookieName {
			r.Cookie = ck
		}
	}
	return r
}

// garbageRecords returns records the core's decoder must reject, built
// around a real record rec taken from the store.
func garbageRecords(rec []byte) []struct {
	name string
	rec  []byte
} {
	created := binary.AppendVarint(nil, time.Now().UnixMilli())
	v1 := func(parts ...[]byte) []byte {
		b := []byte{0x01}
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	uv := func(n uint64) []byte { return binary.AppendUvarint(nil, n) }
	return []struct {
		name string
		rec  []byte
	}{
		{"random bytes", []byte("\xde\xad\xbe\xef garbage \x00\xff")},
		{"empty record", []byte{}},
		{"unknown format byte", append([]byte{0xee}, rec[1:]...)},
		{"truncated", rec[:len(rec)/2]},
		{"trailing byte", append(append([]byte(nil), rec...), 'X')},
		{"huge value count", v1(created, uv(1<<40))},
		{"huge key length", v1(created, uv(1), uv(1<<62), []byte("k"))},
		{"duplicate keys", v1(created, uv(2), uv(1), []byte("a"), uv(1), []byte("1"), uv(1), []byte("a"), uv(1), []byte("2"))},
		{"overlong varint", v1(bytesOf(0xff, 11))},
		{"JSON instead of a record", []byte(`{"secret":"s3cr3t"}`)},
	}
}

// placeholder stands for a real record when only the names and the
// number of garbageRecords are needed.
var placeholder = []byte{0x01, 0x00, 0x00}

func bytesOf(b byte, n int) []byte { return []byte(strings.Repeat(string(b), n)) }

// corruption is one way to damage the value stored under a session key.
type corruption struct {
	name string
	// value returns the new raw store value from the current one.
	value func(current []byte) []byte
	// framed: the driver's own framing accepts it, so the core's record
	// decoder is what sees the garbage.
	framed bool
}

// TestCorruptRecordsRedis plants garbage under live sessions' keys in
// Redis, both inside the driver's framing (8-byte non-zero version, the
// 8-byte deadline, then a record the core cannot decode) and outside it
// (too short, version 0).
// The next request is never a 5xx: a read finds nothing, a write starts a
// fresh session under a new ID, and Redis stays up.
func TestCorruptRecordsRedis(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartRedis(t)
	a := newApp(t, "redis://"+addr, nil)
	key := func(id string) string { return "sess:" + core.StoreKey(id) }
	get := func(t *testing.T, id string) []byte {
		v, err := testserver.RedisCommand(addr, "GET", key(id))
		if err != nil || len(v) < 17 {
			t.Fatalf("GET %s = %q, %v", key(id), v, err)
		}
		return []byte(v)
	}
	set := func(t *testing.T, id string, value []byte) {
		if _, err := testserver.RedisCommand(addr, "SET", key(id), string(value), "PX", "3600000"); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(t *testing.T, id string) bool {
		n, err := testserver.RedisCommand(addr, "EXISTS", key(id))
		if err != nil {
			t.Fatal(err)
		}
		return n == "1"
	}
	version := []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0}

	var cases []corruption
	for i, g := range garbageRecords(placeholder) {
		cases = append(cases, corruption{name: "framed " + g.name, framed: true, value: func(cur []byte) []byte {
			// Keep the stored deadline (cur[8:16]); replace version and record.
			return append(append(append([]byte(nil), version...), cur[8:16]...), garbageRecords(cur[16:])[i].rec...)
		}})
	}
	cases = append(cases,
		corruption{name: "shorter than the header", value: func([]byte) []byte { return []byte("abcdefghijkl") }},
		corruption{name: "empty value", value: func([]byte) []byte { return []byte{} }},
		corruption{name: "version 0", value: func(cur []byte) []byte { return append(make([]byte, 8), cur[8:]...) }},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			testCorruption(t, a, c, func(t *testing.T, id string) { set(t, id, c.value(get(t, id))) },
				func(t *testing.T, id string) bool { return exists(t, id) },
				func() error { return testserver.WaitRedis(addr, 2*time.Second) })
		})
	}
	if errs := a.Errs.All(); len(errs) > 0 {
		t.Errorf("the middleware reported errors: %v", errs)
	}
}

// TestCorruptRecordsMemcached plants garbage under live sessions' items in
// memcached, both inside the driver's framing (the driver's flags, an
// 8-byte deadline in the future, then a record the core cannot decode) and
// outside it (other flags, too short, deadline passed). The next request
// is never a 5xx: a read finds nothing, a write starts a fresh session
// under a new ID, and memcached stays up.
func TestCorruptRecordsMemcached(t *testing.T) {
	t.Parallel()
	addr, _ := testserver.StartMemcached(t)
	a := newApp(t, memcachedDSN(addr), nil)
	mc := memcache.New(addr)
	t.Cleanup(func() { _ = mc.Close() })
	const driverFlags = 0x53534e31
	key := func(id string) string { return "sess:" + core.StoreKey(id) }
	get := func(t *testing.T, id string) *memcache.Item {
		it, err := mc.Get(key(id))
		if err != nil || len(it.Value) < 9 || it.Flags != driverFlags {
			t.Fatalf("Get %s = %+v, %v; want an item in the driver's format", key(id), it, err)
		}
		return it
	}
	exists := func(t *testing.T, id string) bool {
		_, err := mc.Get(key(id))
		if err != nil && err != memcache.ErrCacheMiss {
			t.Fatal(err)
		}
		return err == nil
	}
	deadline := func(d time.Duration) []byte {
		return binary.BigEndian.AppendUint64(nil, uint64(time.Now().Add(d).UnixMilli()))
	}

	type mcCorruption struct {
		name   string
		item   func(cur *memcache.Item) *memcache.Item
		framed bool
	}
	var cases []mcCorruption
	for i, g := range garbageRecords(placeholder) {
		cases = append(cases, mcCorruption{name: "framed " + g.name, framed: true, item: func(cur *memcache.Item) *memcache.Item {
			return &memcache.Item{Value: append(deadline(time.Hour), garbageRecords(cur.Value[8:])[i].rec...), Flags: driverFlags}
		}})
	}
	cases = append(cases,
		mcCorruption{name: "other flags", item: func(cur *memcache.Item) *memcache.Item {
			return &memcache.Item{Value: cur.Value, Flags: 0}
		}},
		mcCorruption{name: "shorter than a deadline", item: func(*memcache.Item) *memcache.Item {
			return &memcache.Item{Value: []byte("abc"), Flags: driverFlags}
		}},
		mcCorruption{name: "empty value", item: func(*memcache.Item) *memcache.Item {
			return &memcache.Item{Value: []byte{}, Flags: driverFlags}
		}},
		mcCorruption{name: "deadline passed", item: func(cur *memcache.Item) *memcache.Item {
			return &memcache.Item{Value: append(deadline(-time.Hour), cur.Value[8:]...), Flags: driverFlags}
		}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plant := func(t *testing.T, id string) {
				it := c.item(get(t, id))
				it.Key, it.Expiration = key(id), 3600
				if err := mc.Set(it); err != nil {
					t.Fatal(err)
				}
			}
			testCorruption(t, a, corruption{name: c.name, framed: c.framed}, plant,
				func(t *testing.T, id string) bool { return exists(t, id) },
				func() error { return testserver.WaitMemcached(addr, 2*time.Second) })
		})
	}
	if errs := a.Errs.All(); len(errs) > 0 {
		t.Errorf("the middleware reported errors: %v", errs)
	}
}

// testCorruption makes a session, damages its stored value with plant and
// checks what the next requests of its holder see: first a read then a
// write, and, on a second session, a write straight away.
func testCorruption(t *testing.T, a *app, c corruption, plant func(t *testing.T, id string),
	exists func(t *testing.T, id string) bool, alive func() error) {
	for _, readFirst := range []bool{true, false} {
		id := newSessionVia(t, a, "secret", "s3cr3t")
		unreadableBefore := a.M.Stats().Unreadable
		plant(t, id)
		cookie := sessions.DefaultCookieName + "=" + id
		if readFirst {
			r := sendCookie("GET", a.Srv.URL+"/kv/secret", cookie)
			v, err := r.kv()
			if r.Err != nil || r.Status != http.StatusOK || err != nil || v.Found {
				t.Errorf("read after corruption = %v; want 200 and nothing found", r)
			}
			if r.Cookie != nil {
				t.Errorf("read after corruption set a cookie %v", r.Cookie)
			}
			if c.framed && !exists(t, id) {
				t.Errorf("a record that does not decode was deleted by the request that could not read it (a key rotation would log its user out)")
			}
		}
		r := sendCookie("PUT", a.Srv.URL+"/kv/after?v=1", cookie)
		// The operator hears about records that do not decode, counted
		// and logged at most once a minute, and about nothing else; the
		// log names neither the ID nor the store key.
		if n := a.M.Stats().Unreadable - unreadableBefore; c.framed && n == 0 {
			t.Errorf("an undecodable record was not counted in Stats.Unreadable")
		} else if !c.framed && n != 0 {
			t.Errorf("%d records counted unreadable; want 0 (the driver itself refused the damage)", n)
		}
		if n := undecodableWarnings(a); n > 1 {
			t.Errorf("%d warnings about undecodable records; want at most 1 (rate-limited)\nlog:\n%s", n, a.Logs)
		}
		if strings.Contains(a.Logs.String(), id) || strings.Contains(a.Logs.String(), core.StoreKey(id)) {
			t.Errorf("the log holds a session ID or a store key")
		}
		if r.Err != nil || r.Status != http.StatusOK {
			t.Errorf("write after corruption (read first: %v) = %v; want 200", readFirst, r)
			continue
		}
		if r.Cookie == nil || r.Cookie.Value == id || !wellFormed(r.Cookie.Value) {
			t.Errorf("write after corruption (read first: %v) set cookie %v; want a fresh session ID", readFirst, r.Cookie)
			continue
		}
		fresh := r.Cookie.Value
		if v, ok := readVia(t, a, fresh, "after"); !ok || v != "1" {
			t.Errorf("the fresh session reads back %q, %v", v, ok)
		}
		if _, ok := readVia(t, a, fresh, "secret"); ok {
			t.Errorf("the fresh session inherited the corrupt session's data")
		}
		if _, ok := readVia(t, a, id, "after"); ok {
			t.Errorf("the corrupt session's old ID was revived")
		}
	}
	if err := alive(); err != nil {
		t.Fatalf("the store server died: %v", err)
	}
}

// undecodableWarnings counts the warnings about a stored record that did
// not open or decode in a's log.
func undecodableWarnings(a *app) int {
	n := 0
	for _, line := range strings.Split(a.Logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "did not open or decode") {
			n++
		}
	}
	return n
}
