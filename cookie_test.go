package sessions

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions/internal/core"
)

// netHTTPID is what the middleware did before requestID: net/http's
// r.Cookie, then the ID shape check. requestID must agree with it.
func netHTTPID(r *http.Request, name string) string {
	ck, err := r.Cookie(name)
	if err != nil || !core.ValidID(ck.Value) {
		return ""
	}
	return ck.Value
}

func cookieRequest(lines ...string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	for _, l := range lines {
		r.Header.Add("Cookie", l)
	}
	return r
}

func TestRequestIDMatchesNetHTTP(t *testing.T) {
	id, other := core.NewID(), core.NewID()
	cases := [][]string{
		nil,
		{""},
		{"session=" + id},
		{"a=1; session=" + id + "; b=2"},
		{"  session = " + id + " ;"},
		{"session=\"" + id + "\""},
		{"session=\"" + id},
		{"session=" + id + "\""},
		{"session=" + id + "; session=" + other},
		{"session=bad\\; session=" + other}, // an invalid value is skipped
		{"session=short; session=" + other}, // a valid value that is no ID is taken
		{"session; session=" + id},
		{"session=", "session=" + id},
		{"x=1", "session=" + id},
		{"Session=" + id},
		{"sessionx=" + id + "; xsession=" + other},
		{"session=" + id + ",other"},
		{"session=" + strings.Repeat("A", 42) + "B"}, // non-canonical last character
		{"session=" + id + "\x7f"},
		{";;;session=" + id},
		{"\tsession=" + id + "\t"},
	}
	for _, lines := range cases {
		r := cookieRequest(lines...)
		if got, want := requestID(r, "session"), netHTTPID(r, "session"); got != want {
			t.Errorf("Cookie %q: requestID = %q, net/http gives %q", lines, got, want)
		}
	}
}

// FuzzRequestID: for any Cookie header, requestID finds the same session
// ID as net/http's r.Cookie followed by the ID check.
func FuzzRequestID(f *testing.F) {
	id := core.NewID()
	f.Add("session=" + id)
	f.Add("a=b; session=\"" + id + "\"; session=x")
	f.Add("session=x\\y; session=" + id)
	f.Fuzz(func(t *testing.T, line string) {
		r := cookieRequest(strings.Split(line, "\n")...)
		if got, want := requestID(r, "session"), netHTTPID(r, "session"); got != want {
			// net/http refuses headers with more cookies than its limit;
			// requestID does not (it allocates nothing for them).
			if strings.Count(line, ";")+strings.Count(line, "\n")+1 <= 3000 {
				t.Fatalf("Cookie %q: requestID = %q, net/http gives %q", line, got, want)
			}
		}
	})
}

// TestCookieHeaderMatchesNetHTTP: the Set-Cookie the middleware writes is
// byte for byte what net/http's Cookie.String gives, for every attribute
// combination the Config allows.
func TestCookieHeaderMatchesNetHTTP(t *testing.T) {
	exp := time.Date(2031, 5, 6, 7, 8, 9, 500e6, time.FixedZone("X", 3600))
	id := core.NewID()
	for _, name := range []string{"session", "__Host-s"} {
		for _, path := range []string{"/", "/app", "/a b"} {
			for _, domain := range []string{"", "example.com", ".example.com"} {
				for _, flags := range []int{0, 1, 2, 3, 6, 7} {
					for _, ss := range []http.SameSite{0, http.SameSiteDefaultMode, http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteNoneMode} {
						cfg := Config{CookieName: name, Path: path, Domain: domain, ScriptAccess: flags&1 == 0, Secure: flags&2 != 0, Partitioned: flags&4 != 0, SameSite: ss}
						f := newCookieFormat(cfg)
						base := http.Cookie{Name: name, Path: path, Domain: domain, HttpOnly: !cfg.ScriptAccess, Secure: cfg.Secure, Partitioned: cfg.Partitioned, SameSite: ss}
						live, closing, gone := base, base, base
						live.Value, live.Expires, live.MaxAge = id, exp, 7200
						closing.Value = id
						gone.Expires, gone.MaxAge = time.Unix(0, 0), -1
						for _, c := range []struct {
							got  string
							want *http.Cookie
						}{
							{f.header(id, exp, 7200), &live},
							{f.header(id, time.Time{}, 0), &closing},
							{f.header("", time.Unix(0, 0), 0), &gone},
						} {
							if want := c.want.String(); c.got != want {
								t.Errorf("%+v:\n got  %q\n want %q", cfg, c.got, want)
							}
						}
					}
				}
			}
		}
	}
}
