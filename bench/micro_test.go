package bench_test

// Go microbenchmarks of the session middleware per request, in process and
// without network: this project's memory driver beside gin-contrib/sessions'
// memstore (and cookie store) and scs' memstore, with bare Gin as the
// ceiling and the floor (bare Gin plus one object stored with c.Set per
// request, the least a Gin session middleware does) beside it. Run them
// with
//
//	go test -run '^$' -bench . -benchmem
//	go test -run '^$' -bench 'Middleware/read/ginkit' -benchmem -cpuprofile cpu.out
//
// Each benchmark first makes a pool of 1,000 sessions through GET /write,
// then serves one request per iteration with a cookie from the pool, in
// turn (a shallow copy of a prepared request: one allocation of its own,
// bare Gin's only one), into a response writer that keeps nothing.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ginkit/sessions/bench/internal/app"
)

const poolSize = 1000

var microServers = []string{"bare", "floor", "ginkit/memory", "gincontrib/memstore", "gincontrib/cookie", "scs/memstore"}

// discard is a ResponseWriter that keeps only the headers, which it
// clears between requests.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.status = code }
func (d *discard) reset()                      { clear(d.h); d.status = 0 }

// pool makes n sessions with GET /write and returns requests for route,
// one per session, each carrying its cookie.
func pool(tb testing.TB, h http.Handler, name, route string, n int) []*http.Request {
	tb.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		cookie := fmt.Sprintf("%s=%043d", app.CookieName, i) // no sessions: a cookie of the same shape
		if spec, _ := app.ParseName(name); spec.HasSessions() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/write", nil))
			if w.Code != http.StatusOK {
				tb.Fatalf("%s: GET /write = %d %s", name, w.Code, w.Body)
			}
			cookie = ""
			for _, c := range w.Result().Cookies() {
				if c.Name == app.CookieName {
					cookie = c.Name + "=" + c.Value
				}
			}
			if cookie == "" {
				tb.Fatalf("%s: GET /write set no cookie", name)
			}
		}
		r := httptest.NewRequest(http.MethodGet, route, nil)
		r.Header.Set("Cookie", cookie)
		reqs[i] = r
	}
	return reqs
}

func BenchmarkMiddleware(b *testing.B) {
	for _, route := range []string{"/none", "/read", "/write"} {
		for _, name := range microServers {
			b.Run(route[1:]+"/"+strings.ReplaceAll(name, "/", ":"), func(b *testing.B) {
				spec, err := app.ParseName(name)
				if err != nil {
					b.Fatal(err)
				}
				h, cleanup, err := app.Build(spec)
				if err != nil {
					b.Fatal(err)
				}
				defer cleanup()
				reqs := pool(b, h, name, route, poolSize)
				w := &discard{h: http.Header{}}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					w.reset()
					// A fresh copy of the request each time, as a server
					// would make: gorilla/sessions (under gin-contrib)
					// caches the decoded session in *r, and reusing r
					// would spare it the decoding.
					r := *reqs[i%len(reqs)]
					h.ServeHTTP(w, &r)
					if w.status != 0 && w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		}
	}
}

// TestRoutes checks that every in-process server answers the three routes
// as specified: /write counts, /read reports without changing, /none
// sets no cookie.
func TestRoutes(t *testing.T) {
	for _, name := range microServers {
		spec, _ := app.ParseName(name)
		if !spec.HasSessions() {
			continue
		}
		t.Run(name, func(t *testing.T) {
			h, cleanup, err := app.Build(spec)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			reqs := pool(t, h, name, "/write", 1)
			cookie := reqs[0].Header.Get("Cookie")
			do := func(route string) (string, bool) {
				r := httptest.NewRequest(http.MethodGet, route, nil)
				r.Header.Set("Cookie", cookie)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					t.Fatalf("GET %s = %d", route, w.Code)
				}
				set := false
				for _, c := range w.Result().Cookies() {
					if c.Name == app.CookieName {
						cookie, set = c.Name+"="+c.Value, true // as a browser would
					}
				}
				return w.Body.String(), set
			}
			if got, _ := do("/write"); got != "2" {
				t.Errorf("/write = %q; want 2", got)
			}
			if got, _ := do("/read"); got != "2 Ada Lovelace" {
				t.Errorf("/read = %q; want %q", got, "2 Ada Lovelace")
			}
			if got, _ := do("/read"); got != "2 Ada Lovelace" {
				t.Errorf("second /read = %q; want %q", got, "2 Ada Lovelace")
			}
			if _, cookie := do("/none"); cookie && spec.Lib == "ginkit" {
				t.Errorf("/none set a cookie")
			}
		})
	}
}
